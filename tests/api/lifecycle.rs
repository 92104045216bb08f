//! The certificate lifecycle through the HTTP API, as the holder drives it.

use chrono::Duration;
use fincert::{
    clock::Clock,
    config::Engine,
    pki::profile::{CertKind, Usage},
};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

async fn suspend_resume_revoke_over_http(engine: Engine) {
    let app = spawn_app(engine).await;
    let issue = |usage| {
        cloud_cert("user-http")
            .holder("박지성")
            .usage(usage)
            .issue(&app)
    };
    let main = issue(Usage::General).await;
    let other = issue(Usage::Restricted).await;
    // Sign in with one certificate, manage the other.
    let token = sign_in(&app, main.id).await;
    let path = |action: &str| format!("/v1/certificates/{}{action}", other.id);

    let resp = get(&app, &path(""), &token).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["usage"], "restricted");

    let resp = post(&app, &path("/renew"), &token, json!({"pin": "482915"})).await;
    let body = assert_problem(resp, 409, "renewal_not_open").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("renewal opens 30 days before expiry")
    );

    let resp = post(&app, &path("/suspend"), &token, json!({})).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "suspended");
    assert_problem(
        post(&app, &path("/suspend"), &token, json!({})).await,
        409,
        "illegal_transition",
    )
    .await;
    let resp = post(&app, &path("/resume"), &token, json!({})).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "active");
    let resp = post(
        &app,
        &path("/revoke"),
        &token,
        json!({"reason": "keyCompromise"}),
    )
    .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "revoked");
    assert_problem(
        post(
            &app,
            &path("/revoke"),
            &token,
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
            &path("/revoke"),
            &token,
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
        post(&app, &stranger, &token, json!({})).await,
        404,
        "certificate_not_found",
    )
    .await;
    assert_problem(
        get(&app, "/v1/certificates/not-a-uuid", &token).await,
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

    let fees: Value = get(&app, "/v1/fees", &token).await.json().await.unwrap();
    assert_eq!(fees["items"].as_array().unwrap().len(), 1);
    assert_eq!(fees["items"][0]["amount_krw"], 4400);
    assert_eq!(fees["items"][0]["currency"], "KRW");
}

async fn renewal_over_http(engine: Engine) {
    let app = spawn_app(engine).await;
    let cert = cloud_cert("user-renew")
        .holder("김연아")
        .kind(CertKind::Joint)
        .issue(&app)
        .await;
    app.clock
        .advance(cert.not_after - app.clock.now() - Duration::days(10));
    let token = sign_in(&app, cert.id).await;
    let path = format!("/v1/certificates/{}/renew", cert.id);
    assert_problem(
        post(&app, &path, &token, json!({})).await,
        400,
        "invalid_json",
    )
    .await;
    // A general-purpose renewal is charged only with the current fee confirmed: missing or
    // stale, nothing is renewed or charged (and no PIN attempt is spent).
    for body in [
        json!({"pin": "482915"}),
        json!({"pin": "482915", "fee_confirmed_krw": 4000}),
        json!({"pin": "000001", "fee_confirmed_krw": 0}),
    ] {
        let problem = assert_problem(
            post(&app, &path, &token, body).await,
            409,
            "fee_not_confirmed",
        )
        .await;
        assert!(
            problem["detail"].as_str().unwrap().contains("4400 KRW"),
            "{problem}"
        );
    }
    assert_problem(
        post(
            &app,
            &path,
            &token,
            json!({"pin": "482915", "fee_confirmed_krw": -1}),
        )
        .await,
        400,
        "invalid_json",
    )
    .await;
    let fees = |token: String| {
        let app = &app;
        async move {
            get(app, "/v1/fees", &token)
                .await
                .json::<Value>()
                .await
                .unwrap()["items"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(fees(token.clone()).await, 1, "only the issuance's");
    assert_problem(
        post(
            &app,
            &path,
            &token,
            json!({"pin": "000001", "fee_confirmed_krw": 4400}),
        )
        .await,
        401,
        "wrong_pin",
    )
    .await;
    // The holder's automatic-renewal choice goes on to the successor of a manual renewal.
    let auto = app
        .client
        .put(app.url(&format!("/v1/certificates/{}/auto-renewal", cert.id)))
        .bearer_auth(&token)
        .json(&json!({"enabled": true, "fee_confirmed_krw": 4400}))
        .send()
        .await
        .unwrap();
    assert_eq!(auto.status(), 200);
    let resp = post(
        &app,
        &path,
        &token,
        json!({"pin": "482915", "fee_confirmed_krw": 4400}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let renewed: Value = resp.json().await.unwrap();
    let kept: Value = get(
        &app,
        &format!(
            "/v1/certificates/{}/auto-renewal",
            renewed["id"].as_str().unwrap()
        ),
        &token,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (
            kept["enabled"].as_bool(),
            kept["default"].as_bool(),
            kept["fee_confirmed_krw"].as_u64()
        ),
        (Some(true), Some(false), Some(4400)),
        "{kept}"
    );
    assert_ne!(renewed["serial"], cert.serial.as_str());
    assert_eq!(renewed["subject"], cert.subject.as_str());
    assert_eq!(renewed["kind"], "joint");
    assert_problem(
        post(&app, &path, &token, json!({"pin": "482915"})).await,
        409,
        "already_renewed",
    )
    .await;
    let list: Value = get(&app, "/v1/certificates", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["fees_charged_krw"], 8800);
}

both_engines!(suspend_resume_revoke_over_http, renewal_over_http);
