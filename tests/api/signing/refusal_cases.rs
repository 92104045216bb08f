//! Every refusal of the signing path: restricted use, wrong algorithm, malformed requests, the
//! per-institution rate limit, a locked PIN, a revoked certificate, an expired request and an
//! expired certificate.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::Duration;
use fincert::{clock::Clock, config::Engine, pki::profile::Usage, signing::institution::Sector};
use serde_json::{Value, json};

use super::{approve_pin, created, request, token};
use crate::helpers::*;

pub(super) async fn refusals(engine: Engine) {
    let app = spawn_app_tuned(engine, |s| {
        s.signing.requests_per_institution_per_minute = 6;
    })
    .await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let broker = institution(&app, "Mirae Securities", Sector::Securities).await;
    let restricted = holder(&app, "330100000004", Usage::Restricted).await;
    let general = holder(&app, "330100000005", Usage::General).await;
    let digests = json!([STANDARD.encode([6u8; 32])]);

    // Restricted use: no consent for a securities firm, and no signature even with one.
    assert_problem(
        consent_response(&app, &restricted, &broker).await,
        403,
        "usage_not_permitted",
    )
    .await;
    fincert::store::signing::insert_consent(
        &app.db,
        &fincert::store::signing::ConsentRow {
            id: uuid::Uuid::new_v4().to_string(),
            institution_id: broker.id.clone(),
            user_id: restricted.owner.as_str().into(),
            user_ref: "u_forced".into(),
            certificate_id: restricted.cert.id.to_string(),
            created_at: app.clock.now(),
            withdrawn_at: None,
        },
    )
    .await
    .unwrap();
    assert_problem(request(&app, &broker, json!({"certificate_id": restricted.cert.id, "digests": digests, "display_text": "Buy 10 shares"})).await, 403, "usage_not_permitted").await;
    // A general-purpose certificate signs for the securities firm; wrong algorithm is refused.
    assert_eq!(
        consent_response(&app, &general, &broker).await.status(),
        201
    );
    assert_problem(request(&app, &broker, json!({"certificate_id": general.cert.id, "digests": digests, "display_text": "Buy", "algorithm": "ecdsa-p256-sha256"})).await, 422, "algorithm_mismatch").await;
    // Malformed requests; more digests than one approval's activation may sign.
    let eleven: Vec<String> = (0..11u8).map(|i| STANDARD.encode([i; 32])).collect();
    assert_problem(
        request(
            &app,
            &broker,
            json!({"certificate_id": general.cert.id, "digests": eleven, "display_text": "Buy"}),
        )
        .await,
        400,
        "invalid_signature_request",
    )
    .await;
    assert_problem(
        request(
            &app,
            &broker,
            json!({"certificate_id": general.cert.id, "digests": ["AAAA"], "display_text": "Buy"}),
        )
        .await,
        400,
        "invalid_signature_request",
    )
    .await;
    assert_problem(request(&app, &broker, json!({"certificate_id": general.cert.id, "digests": digests, "display_text": "Buy", "webhook_url": "http://example.com/hook"})).await, 400, "invalid_signature_request").await;

    // Per-institution rate limit: 6 per minute here, and the broker has made 2 counted calls
    // (malformed bodies are refused before counting).
    for _ in 0..4 {
        let resp = request(
            &app,
            &broker,
            json!({"certificate_id": general.cert.id, "digests": digests, "display_text": "Buy"}),
        )
        .await;
        assert_eq!(resp.status(), 201);
    }
    assert_problem(
        request(
            &app,
            &broker,
            json!({"certificate_id": general.cert.id, "digests": digests, "display_text": "Buy"}),
        )
        .await,
        429,
        "rate_limited",
    )
    .await;

    // Locked PIN: five wrong approvals lock it; the certificate never signs again.
    consent(&general, &bank).await;
    let req = created(
        &app,
        &bank,
        json!({"certificate_id": general.cert.id, "digests": digests, "display_text": "Pay"}),
    )
    .await;
    for _ in 0..5 {
        assert_problem(
            approve_pin(&app, &general, &req, "135792").await,
            401,
            "wrong_pin",
        )
        .await;
    }
    assert_problem(
        approve_pin(&app, &general, &req, PIN).await,
        423,
        "pin_locked",
    )
    .await;
    assert_problem(
        request(
            &app,
            &bank,
            json!({"certificate_id": general.cert.id, "digests": digests, "display_text": "Pay"}),
        )
        .await,
        423,
        "pin_locked",
    )
    .await;

    // Revoked after the request was made: the approval is refused, and so are new requests.
    let other = holder(&app, "330100000006", Usage::General).await;
    consent(&other, &bank).await;
    let req = created(
        &app,
        &bank,
        json!({"certificate_id": other.cert.id, "digests": digests, "display_text": "Pay"}),
    )
    .await;
    app.pki
        .revoke(
            &app.db,
            &other.owner,
            other.cert.id,
            fincert::pki::lifecycle::RevocationReason::KeyCompromise,
        )
        .await
        .unwrap();
    assert_problem(
        approve_pin(&app, &other, &req, PIN).await,
        409,
        "certificate_not_usable",
    )
    .await;
    assert_problem(
        request(
            &app,
            &bank,
            json!({"certificate_id": other.cert.id, "digests": digests, "display_text": "Pay"}),
        )
        .await,
        409,
        "certificate_not_usable",
    )
    .await;

    // Expired request, then expired certificate.
    let fresh = holder(&app, "330100000007", Usage::General).await;
    consent(&fresh, &bank).await;
    let req = created(&app, &bank, json!({"certificate_id": fresh.cert.id, "digests": digests, "display_text": "Pay", "expires_in": 60})).await;
    app.clock.advance(Duration::seconds(61));
    assert_problem(
        approve_pin(&app, &fresh, &req, PIN).await,
        409,
        "request_not_pending",
    )
    .await;
    let got: Value = get(
        &app,
        &format!("/v1/signature-requests/{}", req["id"].as_str().unwrap()),
        &bank.token,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(got["status"], "expired");
    app.clock.advance(Duration::days(3 * 366 + 1));
    let bank_now = institution(&app, "Hana Bank 2", Sector::Bank).await;
    let _ = bank_now;
    let resp = request(
        &app,
        &bank,
        json!({"certificate_id": fresh.cert.id, "digests": digests, "display_text": "Pay"}),
    )
    .await;
    // The bank's token has expired with the clock too: it must get a new one first.
    assert_problem(resp, 401, "invalid_token").await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", bank.client_id.as_str()),
        ("client_secret", bank.secret.as_str()),
    ];
    let fresh_token: Value = token(&app, &form).await.json().await.unwrap();
    let bank2 = Inst {
        token: fresh_token["access_token"].as_str().unwrap().to_owned(),
        ..bank
    };
    assert_problem(
        request(
            &app,
            &bank2,
            json!({"certificate_id": fresh.cert.id, "digests": digests, "display_text": "Pay"}),
        )
        .await,
        409,
        "certificate_not_usable",
    )
    .await;
    app.stop().await;
}
