//! The certificate lifecycle through the HTTP API, as the holder drives it.

use chrono::Duration;
use fincert::{
    clock::Clock,
    config::Engine,
    custody::OwnerId,
    domain::pin::Pin,
    pki::{
        IssueRequest, KeySource,
        profile::{CertKind, HolderName, Usage},
    },
};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

async fn session(app: &TestApp, cert: &str) -> String {
    let resp = app
        .client
        .post(app.url("/v1/auth/pin"))
        .json(&json!({"certificate_id": cert, "pin": "482915"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn suspend_resume_revoke_over_http(engine: Engine) {
    let app = spawn_app(engine).await;
    let who = OwnerId::parse("user-http").unwrap();
    let issue = |usage| {
        let app = &app;
        let who = who.clone();
        async move {
            app.pki
                .issue(
                    &app.db,
                    IssueRequest {
                        owner: who,
                        holder: HolderName::parse("박지성").unwrap(),
                        kind: CertKind::Financial,
                        usage,
                        key: KeySource::Cloud(&Pin::parse("482915").unwrap()),
                    },
                )
                .await
                .unwrap()
        }
    };
    let main = issue(Usage::General).await;
    let other = issue(Usage::Restricted).await;
    // Sign in with one certificate, manage the other.
    let token = session(&app, &main.id.to_string()).await;
    let path = |action: &str| format!("/v1/certificates/{}{action}", other.id);

    let resp = get(&app, &token, &path("")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["usage"], "restricted");

    let resp = post(&app, &token, &path("/renew"), json!({"pin": "482915"})).await;
    let body = assert_problem(resp, 409, "renewal_not_open").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("renewal opens 30 days before expiry")
    );

    let resp = post(&app, &token, &path("/suspend"), json!({})).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "suspended");
    assert_problem(
        post(&app, &token, &path("/suspend"), json!({})).await,
        409,
        "illegal_transition",
    )
    .await;
    let resp = post(&app, &token, &path("/resume"), json!({})).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "active");
    let resp = post(
        &app,
        &token,
        &path("/revoke"),
        json!({"reason": "keyCompromise"}),
    )
    .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "revoked");
    assert_problem(
        post(
            &app,
            &token,
            &path("/revoke"),
            json!({"reason": "unspecified"}),
        )
        .await,
        409,
        "illegal_transition",
    )
    .await;
    assert_problem(
        post(
            &app,
            &token,
            &path("/revoke"),
            json!({"reason": "certificateHold"}),
        )
        .await,
        400,
        "invalid_json",
    )
    .await;

    // Not mine, not a UUID, no token.
    let stranger = format!("/v1/certificates/{}/suspend", uuid::Uuid::new_v4());
    assert_problem(
        post(&app, &token, &stranger, json!({})).await,
        404,
        "certificate_not_found",
    )
    .await;
    assert_problem(
        get(&app, &token, "/v1/certificates/not-a-uuid").await,
        400,
        "invalid_path",
    )
    .await;
    assert_problem(
        app.client
            .post(app.url(&path("/resume")))
            .send()
            .await
            .unwrap(),
        401,
        "invalid_token",
    )
    .await;

    let fees: Value = get(&app, &token, "/v1/fees").await.json().await.unwrap();
    assert_eq!(fees["items"].as_array().unwrap().len(), 1);
    assert_eq!(fees["items"][0]["amount_krw"], 4400);
    assert_eq!(fees["items"][0]["currency"], "KRW");
}

async fn renewal_over_http(engine: Engine) {
    let app = spawn_app(engine).await;
    let who = OwnerId::parse("user-renew").unwrap();
    let cert = app
        .pki
        .issue(
            &app.db,
            IssueRequest {
                owner: who,
                holder: HolderName::parse("김연아").unwrap(),
                kind: CertKind::Joint,
                usage: Usage::General,
                key: KeySource::Cloud(&Pin::parse("482915").unwrap()),
            },
        )
        .await
        .unwrap();
    app.clock
        .advance(cert.not_after - app.clock.now() - Duration::days(10));
    let token = session(&app, &cert.id.to_string()).await;
    let path = format!("/v1/certificates/{}/renew", cert.id);
    assert_problem(
        post(&app, &token, &path, json!({})).await,
        400,
        "invalid_json",
    )
    .await;
    assert_problem(
        post(&app, &token, &path, json!({"pin": "000001"})).await,
        401,
        "wrong_pin",
    )
    .await;
    let resp = post(&app, &token, &path, json!({"pin": "482915"})).await;
    assert_eq!(resp.status(), 201);
    let renewed: Value = resp.json().await.unwrap();
    assert_ne!(renewed["serial"], cert.serial.as_str());
    assert_eq!(renewed["subject"], cert.subject.as_str());
    assert_eq!(renewed["kind"], "joint");
    assert_problem(
        post(&app, &token, &path, json!({"pin": "482915"})).await,
        409,
        "already_renewed",
    )
    .await;
    let list: Value = get(&app, &token, "/v1/certificates")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["fees_charged_krw"], 8800);
}

both_engines!(suspend_resume_revoke_over_http, renewal_over_http);
