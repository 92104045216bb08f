//! Approval with a passkey (dynamic linking): the WebAuthn challenge commits to the request, so
//! an assertion for one request does not approve another, and altered content does not sign.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{config::Engine, pki::profile::Usage, signing::institution::Sector};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_rs::prelude::{RequestChallengeResponse, Url};

use super::created;
use crate::helpers::*;

fn origin() -> Url {
    Url::parse(PASSKEY_ORIGIN).unwrap()
}

pub(super) async fn passkey_approval_is_bound_to_the_request(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000003", Usage::General).await;
    consent(&h, &bank).await;
    // A passkey bound to the certificate's key.
    let mut phone = bound_passkey(&app, &h.token, h.cert.id).await;

    let new = |text: &str| json!({"certificate_id": h.cert.id, "digests": [STANDARD.encode([5u8; 32])], "display_text": text});
    let a = created(&app, &bank, new("Pay 10,000 KRW to A")).await;
    let b = created(&app, &bank, new("Pay 20,000 KRW to B")).await;
    let start = |req: &Value| {
        let path = format!(
            "/v1/approvals/{}/passkey/start",
            req["id"].as_str().unwrap()
        );
        let app = &app;
        let token = h.token.clone();
        async move {
            post(app, &path, &token, json!({}))
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let finish = |req: &Value, body: Value| {
        let path = format!(
            "/v1/approvals/{}/passkey/finish",
            req["id"].as_str().unwrap()
        );
        let app = &app;
        let token = h.token.clone();
        async move { post(app, &path, &token, body).await }
    };

    // The challenge commits to the request: it is not the random one webauthn-rs would draw.
    let ceremony = start(&a).await;
    let options: RequestChallengeResponse =
        serde_json::from_value(ceremony["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin(), options).unwrap();
    let body = json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion});
    // A's approval presented for B: refused (and spent).
    assert_problem(
        finish(&b, body.clone()).await,
        409,
        "webauthn_challenge_spent",
    )
    .await;
    assert_problem(
        finish(&a, body.clone()).await,
        409,
        "webauthn_challenge_spent",
    )
    .await;
    // A fresh ceremony for A signs A.
    let ceremony = start(&a).await;
    let options: RequestChallengeResponse =
        serde_json::from_value(ceremony["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin(), options).unwrap();
    let body = json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion});
    let signed = finish(&a, body.clone()).await;
    assert_eq!(signed.status(), 200);
    assert_eq!(signed.json::<Value>().await.unwrap()["status"], "signed");
    // Replayed: refused.
    assert_problem(finish(&a, body).await, 409, "request_not_pending").await;

    // Altered content: the request is changed after the challenge was issued (a consistent
    // rewrite of text and digest, as an attacker with database access might do). The assertion
    // signed the old content, so it no longer matches.
    let ceremony = start(&b).await;
    let options: RequestChallengeResponse =
        serde_json::from_value(ceremony["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin(), options).unwrap();
    let row = fincert::store::signing::request(&app.db, b["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let digests = [fincert::signing::request::Digest::from_bytes([5u8; 32])];
    let altered = fincert::signing::request::Canonical {
        id: row.id,
        institution_id: &row.institution_id,
        certificate_id: row.certificate_id,
        purpose: fincert::signing::request::Purpose::Sign,
        display_text: "Pay 20 KRW to B",
        digests: &digests,
        format: fincert::signing::request::Format::Raw,
        algorithm: fincert::signing::request::Algorithm::RsaPkcs1Sha256,
        expires_at: row.expires_at,
    }
    .digest();
    fincert::store::sql::exec(
        &app.db,
        "UPDATE signature_requests SET display_text = $1, canonical_digest = $2 WHERE id = $3",
        vec![
            "Pay 20 KRW to B".into(),
            altered.as_bytes().to_vec().into(),
            row.id.to_string().into(),
        ],
    )
    .await
    .unwrap();
    assert_problem(
        finish(
            &b,
            json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion}),
        )
        .await,
        409,
        "approval_mismatch",
    )
    .await;
    app.stop().await;
}
