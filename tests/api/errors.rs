//! Every failure the framework can produce comes back as problem+json with a stable code.

use crate::helpers::*;
use fincert::config::Engine;

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = spawn_app(Engine::Sqlite).await;
    let body = assert_problem(app.get("/v1/nothing-here").await, 404, "route_not_found").await;
    assert!(body["request_id"].is_string());

    let resp = app.request(reqwest::Method::DELETE, "/healthz").await;
    assert_eq!(resp.headers().get("allow").unwrap(), "GET");
    assert_problem(resp, 405, "method_not_allowed").await;

    let resp = app
        .client
        .post(app.url("/v1/terms"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_replaced() {
    let app = spawn_app(Engine::Sqlite).await;
    let resp = app
        .client
        .get(app.url("/nowhere"))
        .header("x-request-id", "bank-trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("x-request-id").unwrap(), "bank-trace-42");
    let body = assert_problem(resp, 404, "route_not_found").await;
    assert_eq!(body["request_id"], "bank-trace-42");

    // A malformed id (spaces, too long) is not trusted: a fresh UUID replaces it.
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "x".repeat(100))
        .send()
        .await
        .unwrap();
    let id = resp
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
}

#[tokio::test]
async fn responses_carry_safe_headers() {
    let app = spawn_app(Engine::Sqlite).await;
    let resp = app.get("/v1/terms").await;
    assert_eq!(
        resp.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
}

/// Bodies that are not the JSON a route expects: malformed, wrong media type, too large. Each
/// is a problem, and none changes anything.
#[tokio::test]
async fn bad_bodies_are_problems() {
    let app = spawn_app(Engine::Sqlite).await;
    let head = fincert::store::audit::head(&app.db).await.unwrap();
    let url = app.url("/v1/auth/pin");
    let send = |ctype: &'static str, body: Vec<u8>| {
        let (client, url) = (app.client.clone(), url.clone());
        async move {
            client
                .post(url)
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_problem(
        send("application/json", b"{\"certificate_id\": ".to_vec()).await,
        400,
        "invalid_json",
    )
    .await;
    assert_problem(
        send("application/json", b"[]".to_vec()).await,
        400,
        "invalid_json",
    )
    .await;
    let body = assert_problem(
        send(
            "application/json",
            br#"{"certificate_id": "x", "pin": "123456", "extra": 1}"#.to_vec(),
        )
        .await,
        400,
        "invalid_json",
    )
    .await;
    assert!(!body["detail"].as_str().unwrap().contains("123456"));
    assert_problem(
        send("text/plain", b"{}".to_vec()).await,
        415,
        "unsupported_media_type",
    )
    .await;
    let huge = format!(
        r#"{{"certificate_id": "{}", "pin": "123456"}}"#,
        "x".repeat(100_000)
    )
    .into_bytes();
    assert_problem(
        send("application/json", huge).await,
        413,
        "payload_too_large",
    )
    .await;
    assert_eq!(
        fincert::store::audit::head(&app.db).await.unwrap(),
        head,
        "nothing happened"
    );
}
