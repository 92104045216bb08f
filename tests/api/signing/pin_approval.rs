//! The whole path of a PIN-approved signature: consent, idempotent requests, what the holder
//! sees, forged and wrong approvals, raw and CMS outputs checked by openssl, verification, the
//! webhook with its retry, rejection, login with certificate, and withdrawal.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::Duration;
use fincert::{config::Engine, pki::profile::Usage, signing::institution::Sector};
use serde_json::{Value, json};

use super::{approve_pin, b64, created, receiver::receiver, request};
use crate::helpers::*;

pub(super) async fn consent_request_pin_approval_outputs_and_webhook(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let other = institution(&app, "Other Card", Sector::Card).await;
    let h = holder(&app, "330100000002", Usage::Restricted).await;
    let (rx, hook_url, hook) = receiver(1).await;

    // Before consent the institution sees nothing: 404, as for a certificate that does not exist.
    let content = b"transfer 1,000,000 KRW to 110-123-456789".to_vec();
    let body = json!({
        "certificate_id": h.cert.id,
        "content": STANDARD.encode(&content),
        "display_text": "Transfer 1,000,000 KRW to Kim Minsu (110-123-456789)",
        "webhook_url": hook_url,
    });
    assert_problem(request(&app, &bank, body.clone()).await, 404, "not_found").await;
    let c = consent_response(&app, &h, &bank).await;
    assert_eq!(c.status(), 201);
    let c: Value = c.json().await.unwrap();
    assert_problem(
        consent_response(&app, &h, &bank).await,
        409,
        "consent_exists",
    )
    .await;
    let listed: Value = get(&app, "/v1/institution/certificates", &bank.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["certificate_id"], h.cert.id.to_string());
    let user_ref = listed["items"][0]["user_ref"].as_str().unwrap().to_owned();
    let none: Value = get(&app, "/v1/institution/certificates", &other.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        none["items"].as_array().unwrap().len(),
        0,
        "other institutions see nothing"
    );

    // Idempotency: the same key and body give the same request; another body is refused.
    let key = "order-20261123-0001";
    let first = call(
        &app,
        reqwest::Method::POST,
        "/v1/signature-requests",
        &bank.token,
        Some(body.clone()),
        Some(key),
    )
    .await;
    assert_eq!(first.status(), 201);
    let req: Value = first.json().await.unwrap();
    let again = call(
        &app,
        reqwest::Method::POST,
        "/v1/signature-requests",
        &bank.token,
        Some(body.clone()),
        Some(key),
    )
    .await;
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], req["id"]);
    let mut changed = body.clone();
    changed["display_text"] = json!("Transfer 9,000,000 KRW");
    assert_problem(
        call(
            &app,
            reqwest::Method::POST,
            "/v1/signature-requests",
            &bank.token,
            Some(changed),
            Some(key),
        )
        .await,
        422,
        "idempotency_key_reused",
    )
    .await;
    assert_problem(
        call(
            &app,
            reqwest::Method::POST,
            "/v1/signature-requests",
            &bank.token,
            Some(body.clone()),
            None,
        )
        .await,
        400,
        "invalid_header",
    )
    .await;
    assert_eq!(req["status"], "pending");
    assert_eq!(req["algorithm"], "rsa-pkcs1-sha256");

    // The user sees what they approve.
    let pending: Value = get(&app, "/v1/approvals", &h.token)
        .await
        .json()
        .await
        .unwrap();
    let item = &pending["items"][0];
    assert_eq!(item["display_text"], body["display_text"]);
    assert_eq!(item["institution"]["name"], "Hana Bank");
    assert_eq!(item["request_digest"], req["request_digest"]);

    // An approval carrying another request's digest, or a wrong PIN, signs nothing.
    let mut forged = req.clone();
    forged["request_digest"] = json!(STANDARD.encode([9u8; 32]));
    assert_problem(
        approve_pin(&app, &h, &forged, PIN).await,
        409,
        "approval_mismatch",
    )
    .await;
    assert_problem(
        approve_pin(&app, &h, &req, "135792").await,
        401,
        "wrong_pin",
    )
    .await;
    let signed = approve_pin(&app, &h, &req, PIN).await;
    assert_eq!(signed.status(), 200);
    let signed: Value = signed.json().await.unwrap();
    assert_eq!(signed["status"], "signed");
    // Single-use: the same approval again is refused.
    assert_problem(
        approve_pin(&app, &h, &req, PIN).await,
        409,
        "request_not_pending",
    )
    .await;

    // The institution fetches the result; openssl verifies the raw signature.
    let got: Value = get(
        &app,
        &format!("/v1/signature-requests/{}", req["id"].as_str().unwrap()),
        &bank.token,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(got["status"], "signed");
    let result = &got["result"];
    let cert_der = b64(&result["certificate"]);
    assert_eq!(cert_der, h.cert.der);
    let spki = x509_parser::parse_x509_certificate(&cert_der)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    let sig = b64(&result["signatures"][0]);
    assert!(openssl_verify(
        fincert::custody::keys::SignatureScheme::RsaPkcs1Sha256,
        &spki,
        &content,
        &sig
    ));
    assert_eq!(result["chain"].as_array().unwrap().len(), 2);
    // Other institutions cannot see it.
    assert_problem(
        get(
            &app,
            &format!("/v1/signature-requests/{}", req["id"].as_str().unwrap()),
            &other.token,
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // One call verifies signature, chain and status.
    let verdict: Value = post(
        &app,
        "/v1/verify",
        &bank.token,
        json!({
        "certificate": result["certificate"], "signature": result["signatures"][0],
        "algorithm": "rsa-pkcs1-sha256", "content": STANDARD.encode(&content)}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (verdict["valid"].as_bool(), verdict["status"].as_str()),
        (Some(true), Some("good"))
    );
    let tampered: Value = post(
        &app,
        "/v1/verify",
        &bank.token,
        json!({
        "certificate": result["certificate"], "signature": result["signatures"][0],
        "algorithm": "rsa-pkcs1-sha256", "content": STANDARD.encode(b"transfer 9")}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (
            tampered["valid"].as_bool(),
            tampered["signature_valid"].as_bool(),
            tampered["chain_valid"].as_bool()
        ),
        (Some(false), Some(false), Some(true))
    );

    // The webhook: the first attempt fails (500), the retry after the backoff succeeds.
    assert_eq!(app.signing.deliver_due(&app.db, 10).await.unwrap(), 1);
    assert_eq!(
        app.signing.deliver_due(&app.db, 10).await.unwrap(),
        0,
        "not due before the backoff"
    );
    app.clock.advance(Duration::seconds(11));
    assert_eq!(app.signing.deliver_due(&app.db, 10).await.unwrap(), 1);
    let log: Value = get(
        &app,
        &format!(
            "/v1/signature-requests/{}/deliveries",
            req["id"].as_str().unwrap()
        ),
        &bank.token,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(log["items"][0]["status"], "delivered");
    assert_eq!(log["items"][0]["attempts"], 2);
    let calls = rx.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    let (headers, body_sent) = &calls[1];
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let ts: i64 = header("x-fincert-timestamp").parse().unwrap();
    assert_eq!(
        header("x-fincert-signature"),
        fincert::outbound::signature(bank.webhook_secret.as_bytes(), ts, body_sent.as_bytes())
    );
    let delivered: Value = serde_json::from_str(body_sent).unwrap();
    assert_eq!(delivered["event"], "signature_request.signed");
    assert_eq!(
        delivered["request"]["result"]["signatures"],
        result["signatures"]
    );
    hook.stop(true).await;

    // CMS, attached and detached, several digests in one approval (batch); openssl verifies.
    let doc = b"loan agreement v3".to_vec();
    let att = created(&app, &bank, json!({"user_ref": user_ref, "content": STANDARD.encode(&doc), "display_text": "Sign the loan agreement", "format": "cms-attached"})).await;
    let signed: Value = approve_pin(&app, &h, &att, PIN).await.json().await.unwrap();
    let root = app.pki.ca_certificate("root").unwrap().to_vec();
    let (ok, out) = openssl_cms_verify(&b64(&signed["result"]["signatures"][0]), &root, None);
    assert!(ok, "attached CMS verifies");
    assert_eq!(out, doc, "attached CMS carries the content");
    let pages: Vec<Vec<u8>> = vec![b"page one".to_vec(), b"page two".to_vec()];
    let digests: Vec<String> = pages
        .iter()
        .map(|p| fincert::signing::request::Digest::of(p).to_b64())
        .collect();
    let det = created(&app, &bank, json!({"certificate_id": h.cert.id, "digests": digests, "display_text": "Sign 2 pages", "format": "cms-detached", "algorithm": "rsa-pss-sha256"})).await;
    let signed: Value = approve_pin(&app, &h, &det, PIN).await.json().await.unwrap();
    for (i, page) in pages.iter().enumerate() {
        let cms = b64(&signed["result"]["signatures"][i]);
        assert!(
            openssl_cms_verify(&cms, &root, Some(page)).0,
            "detached CMS {i} verifies"
        );
        assert!(
            !openssl_cms_verify(&cms, &root, Some(b"page three")).0,
            "not over other content"
        );
    }

    // Rejection; the request cannot be approved afterwards.
    let rej = created(&app, &bank, json!({"certificate_id": h.cert.id, "digests": [STANDARD.encode([3u8; 32])], "display_text": "Pay 5,000 KRW"})).await;
    let r = post(
        &app,
        &format!("/v1/approvals/{}/reject", rej["id"].as_str().unwrap()),
        &h.token,
        json!({}),
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "rejected");
    assert_problem(
        approve_pin(&app, &h, &rej, PIN).await,
        409,
        "request_not_pending",
    )
    .await;

    // Login with certificate: the user signs the institution's nonce.
    let login = call(
        &app,
        reqwest::Method::POST,
        "/v1/login-requests",
        &bank.token,
        Some(json!({"certificate_id": h.cert.id})),
        Some("login-1"),
    )
    .await;
    assert_eq!(login.status(), 201);
    let login: Value = login.json().await.unwrap();
    assert_eq!(login["purpose"], "login");
    let nonce = b64(&login["nonce"]);
    assert_eq!(nonce.len(), 32);
    let signed: Value = approve_pin(&app, &h, &login, PIN)
        .await
        .json()
        .await
        .unwrap();
    let verdict: Value = post(&app, "/v1/verify", &bank.token, json!({
        "certificate": signed["result"]["certificate"], "signature": signed["result"]["signatures"][0],
        "algorithm": "rsa-pkcs1-sha256", "content": STANDARD.encode(&nonce)})).await.json().await.unwrap();
    assert_eq!(verdict["valid"], true);

    // Withdrawal: the institution loses sight of the certificate at once.
    let stale = created(&app, &bank, json!({"certificate_id": h.cert.id, "digests": [STANDARD.encode([7u8; 32])], "display_text": "Pay after withdrawal"})).await;
    let del = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/v1/consents/{}", c["id"].as_str().unwrap()),
        &h.token,
        None,
        None,
    )
    .await;
    assert_eq!(del.status(), 204);
    let pending: Value = get(&app, "/v1/approvals", &h.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        pending["items"].as_array().unwrap().len(),
        0,
        "a withdrawn institution's requests are not shown"
    );
    assert_problem(approve_pin(&app, &h, &stale, PIN).await, 404, "not_found").await;
    assert_problem(request(&app, &bank, json!({"certificate_id": h.cert.id, "digests": [STANDARD.encode([4u8; 32])], "display_text": "x"})).await, 404, "not_found").await;
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let created_events: Vec<_> = events
        .iter()
        .filter(|e| e.action == "signature.created")
        .collect();
    assert_eq!(created_events.len(), 4);
    assert!(
        created_events[0]
            .details
            .contains(&fincert::signing::request::Digest::of(&content).to_hex()),
        "the digest signed is audited"
    );
    for a in [
        "consent.granted",
        "consent.withdrawn",
        "signature.requested",
        "signature.rejected",
        "signature.approval_failed",
    ] {
        assert!(events.iter().any(|e| e.action == a), "audited: {a}");
    }
    app.stop().await;
}
