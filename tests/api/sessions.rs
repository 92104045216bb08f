//! Sessions a person can live with (issue 16, part 2), server side: sign-out ends the session
//! on the server — the old access token *and* refresh token stop working, on this node at once
//! and on every other node within a second — and refreshing keeps one session going.

use std::time::{Duration, Instant};

use fincert::{config::Engine, pki::profile::Usage};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*, openapi::check_response};

/// Signs in with the old form (id and PIN); returns the token pair.
async fn session(app: &TestApp, base: &str, certificate: uuid::Uuid) -> (String, String) {
    let resp = app
        .client
        .post(format!("{base}/v1/auth/pin"))
        .json(&json!({"certificate_id": certificate, "pin": PIN}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let pair: Value = resp.json().await.unwrap();
    (
        pair["access_token"].as_str().unwrap().to_owned(),
        pair["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn status_at(app: &TestApp, base: &str, token: &str) -> u16 {
    app.client
        .get(format!("{base}/v1/certificates"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Refresh keeps the session (old and new access tokens both work); logout ends it: every
/// access token of the session and the refresh token are refused at once; logging out twice,
/// or with an unknown or malformed token, is refused with a stable code.
async fn sign_out_ends_the_session_on_the_server(engine: Engine) {
    let app = spawn_app(engine).await;
    let h = holder(&app, "450000000001", Usage::General).await;
    let (access, refresh) = session(&app, &app.address, h.cert.id).await;
    assert_eq!(status_at(&app, &app.address, &access).await, 200);

    let resp = post(
        &app,
        "/v1/auth/refresh",
        ANON,
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let pair: Value = resp.json().await.unwrap();
    check_response("post", "/v1/auth/refresh", 200, &pair);
    let (access2, refresh2) = (
        pair["access_token"].as_str().unwrap().to_owned(),
        pair["refresh_token"].as_str().unwrap().to_owned(),
    );
    assert_eq!(status_at(&app, &app.address, &access2).await, 200);
    assert_eq!(
        status_at(&app, &app.address, &access).await,
        200,
        "still the same session"
    );

    let resp = post(
        &app,
        "/v1/auth/logout",
        ANON,
        json!({"refresh_token": refresh2}),
    )
    .await;
    assert_eq!(resp.status(), 204);
    for token in [&access, &access2] {
        let resp = get(&app, "/v1/certificates", token).await;
        assert_problem(resp, 401, "invalid_token").await;
    }
    let resp = post(
        &app,
        "/v1/auth/refresh",
        ANON,
        json!({"refresh_token": refresh2}),
    )
    .await;
    assert_problem(resp, 401, "invalid_refresh_token").await;
    // Another session of the same person is not touched.
    assert_eq!(status_at(&app, &app.address, &h.token).await, 200);

    let resp = post(
        &app,
        "/v1/auth/logout",
        ANON,
        json!({"refresh_token": "rt_unknown"}),
    )
    .await;
    assert_problem(resp, 401, "invalid_refresh_token").await;
    let resp = post(&app, "/v1/auth/logout", ANON, json!({"token": refresh2})).await;
    assert_problem(resp, 400, "invalid_json").await;
    let actions: Vec<String> = fincert::store::audit::page_after(&app.db, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.iter().any(|a| a == "auth.logout"));
    app.stop().await;
}

/// A refresh token presented twice revokes its family: the session's access tokens stop too.
async fn a_reused_refresh_token_ends_the_access_tokens(engine: Engine) {
    let app = spawn_app(engine).await;
    let h = holder(&app, "450000000002", Usage::General).await;
    let (access, refresh) = session(&app, &app.address, h.cert.id).await;
    let first = post(
        &app,
        "/v1/auth/refresh",
        ANON,
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(first.status(), 200);
    let again = post(
        &app,
        "/v1/auth/refresh",
        ANON,
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_problem(again, 401, "refresh_token_reused").await;
    assert_problem(
        get(&app, "/v1/certificates", &access).await,
        401,
        "invalid_token",
    )
    .await;
    app.stop().await;
}

/// Two nodes on one PostgreSQL: node B has verified (and cached) the access token; a logout on
/// node A makes B refuse it within a second. (SQLite is one node; its same-node case is above.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_reaches_every_node_within_a_second() {
    let app = spawn_app(Engine::Postgres).await;
    let b = ProcessNode::start(&app, &[]).await;
    let h = holder(&app, "450000000003", Usage::General).await;
    let (access, refresh) = session(&app, &app.address, h.cert.id).await;
    for _ in 0..3 {
        assert_eq!(
            status_at(&app, &b.address, &access).await,
            200,
            "B knows the session"
        );
    }
    let resp = post(
        &app,
        "/v1/auth/logout",
        ANON,
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(resp.status(), 204);
    let since = Instant::now();
    let took = loop {
        if status_at(&app, &b.address, &access).await == 401 {
            break since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(3),
            "node B still accepts the token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("logout reached the other node after {took:?}");
    assert!(
        took < Duration::from_secs(1),
        "node B accepted the token for {took:?}"
    );
    assert_eq!(
        status_at(&app, &b.address, &h.token).await,
        200,
        "other sessions live on"
    );
    drop(b);
    app.stop().await;
}

both_engines!(
    sign_out_ends_the_session_on_the_server,
    a_reused_refresh_token_ends_the_access_tokens,
);
