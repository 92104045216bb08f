//! Institution onboarding: OAuth2 client credentials (form and HTTP Basic), RFC 6749 errors,
//! tokens that are not interchangeable, scopes, and secret rotation with a grace period.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::Duration;
use fincert::{
    clock::Clock,
    config::Engine,
    pki::profile::Usage,
    signing::institution::{self as institutions, Sector},
};
use serde_json::{Value, json};

use super::token;
use crate::helpers::*;

pub(super) async fn onboarding_and_client_credentials(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000001", Usage::General).await;

    // HTTP Basic works too, and scopes narrow.
    let basic = STANDARD.encode(format!("{}:{}", bank.client_id, bank.secret));
    let resp = app
        .client
        .post(app.url("/oauth2/token"))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=verify")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let narrow: Value = resp.json().await.unwrap();
    assert_eq!(narrow["scope"], "verify");
    let narrow = narrow["access_token"].as_str().unwrap().to_owned();

    // RFC 6749 errors.
    for (form, status, error) in [
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", bank.client_id.as_str()),
                ("client_secret", "fcs_wrong"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "fc_nobody"),
                ("client_secret", bank.secret.as_str()),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", bank.client_id.as_str()),
                ("client_secret", bank.secret.as_str()),
            ],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", bank.client_id.as_str()),
                ("client_secret", bank.secret.as_str()),
                ("scope", "admin"),
            ],
            400,
            "invalid_scope",
        ),
    ] {
        let resp = token(&app, &form).await;
        assert_eq!(resp.status().as_u16(), status, "{error}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], error);
        assert!(body["error_description"].is_string());
    }

    // Tokens are not interchangeable: a user's token is no institution's and the reverse.
    assert_problem(
        get(&app, "/v1/institution/certificates", &h.token).await,
        401,
        "invalid_token",
    )
    .await;
    assert_problem(
        get(&app, "/v1/approvals", &bank.token).await,
        401,
        "invalid_token",
    )
    .await;
    // A token without the `sign` scope cannot create requests.
    let resp = call(&app, reqwest::Method::POST, "/v1/signature-requests", &narrow,
        Some(json!({"certificate_id": h.cert.id, "digests": [STANDARD.encode([1u8; 32])], "display_text": "x"})), Some("k1")).await;
    assert_problem(resp, 403, "insufficient_scope").await;

    // Rotation: the new secret works at once, the old one for the grace period only.
    let (_, fresh) = institutions::rotate_secret(&app.db, app.clock.now(), &bank.client_id)
        .await
        .unwrap();
    let with = |secret: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", bank.client_id.clone()),
            ("client_secret", secret.to_owned()),
        ]
    };
    for secret in [fresh.as_str(), bank.secret.as_str()] {
        let form = with(secret);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(token(&app, &form).await.status(), 200);
    }
    app.clock.advance(Duration::hours(25));
    let form = with(&bank.secret);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(token(&app, &form).await.status(), 401);
    let events: Vec<String> = fincert::store::audit::page_after(&app.db, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "institution.registered",
        "institution.authenticated",
        "institution.auth_failed",
        "institution.secret_rotated",
    ] {
        assert!(events.iter().any(|e| e == a), "audited: {a}");
    }
    app.stop().await;
}
