//! Remote signing end to end: institution onboarding and OAuth2 tokens, user consent, signature
//! requests approved with a PIN or a passkey (dynamic linking), raw and CMS outputs checked by
//! openssl, webhooks, login with certificate and verification, and every refusal.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::Duration;
use fincert::{
    clock::Clock,
    config::Engine,
    pki::profile::Usage,
    signing::institution::{self as institutions, Sector},
};
use serde_json::{Value, json};
use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use crate::{both_engines, helpers::*};

async fn token(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    app.client
        .post(app.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn request(app: &TestApp, inst: &Inst, body: Value) -> reqwest::Response {
    let key = uuid::Uuid::new_v4().to_string();
    call(
        app,
        reqwest::Method::POST,
        "/v1/signature-requests",
        &inst.token,
        Some(body),
        Some(&key),
    )
    .await
}

async fn created(app: &TestApp, inst: &Inst, body: Value) -> Value {
    let resp = request(app, inst, body).await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    resp.json().await.unwrap()
}

async fn approve_pin(app: &TestApp, h: &Holder, req: &Value, pin: &str) -> reqwest::Response {
    post(
        app,
        &format!("/v1/approvals/{}/approve", req["id"].as_str().unwrap()),
        &h.token,
        json!({"pin": pin, "request_digest": req["request_digest"]}),
    )
    .await
}

fn b64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

/// A webhook receiver on loopback: answers 500 to the first `fail_first` calls, then 200, and
/// records every call's headers and body.
#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>,
}

async fn receiver(fail_first: usize) -> (Receiver, String, actix_web::dev::ServerHandle) {
    let rx = Receiver::default();
    let state = rx.clone();
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let state = state.clone();
            async move {
                let mut calls = state.calls.lock().unwrap();
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                calls.push((headers, String::from_utf8_lossy(&body).into_owned()));
                if calls.len() <= fail_first {
                    HttpResponse::InternalServerError().finish()
                } else {
                    HttpResponse::Ok().finish()
                }
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (rx, format!("http://127.0.0.1:{port}/hooks/fincert"), handle)
}

async fn onboarding_and_client_credentials(engine: Engine) {
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

async fn consent_request_pin_approval_outputs_and_webhook(engine: Engine) {
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

fn origin() -> Url {
    Url::parse("http://localhost:8080").unwrap()
}

async fn passkey_approval_is_bound_to_the_request(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000003", Usage::General).await;
    consent(&h, &bank).await;
    // A passkey bound to the certificate's key.
    let mut phone = SoftPasskey::new(true);
    let started: Value = post(&app, "/v1/passkeys/register/start", &h.token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let options: CreationChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let credential = phone.do_registration(origin(), options).unwrap();
    let resp = post(&app, "/v1/passkeys/register/finish", &h.token, json!({"ceremony_id": started["ceremony_id"], "credential": credential, "name": "Galaxy", "certificate_id": h.cert.id, "pin": PIN})).await;
    assert_eq!(resp.status(), 201);

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
    let digests = [fincert::signing::request::Digest([5u8; 32])];
    let altered = fincert::signing::request::Canonical {
        id: uuid::Uuid::parse_str(&row.id).unwrap(),
        institution_id: &row.institution_id,
        certificate_id: uuid::Uuid::parse_str(&row.certificate_id).unwrap(),
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
            altered.0.to_vec().into(),
            row.id.clone().into(),
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

async fn refusals(engine: Engine) {
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

/// The institution and holder verbs of the CLI, through the client crate, against the app.
async fn cli_request_approve_and_verify(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000009", Usage::General).await;
    consent(&h, &bank).await;
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("contract.txt");
    std::fs::write(&doc, b"lease contract, 24 months").unwrap();
    let url = app.url("");
    let cert = h.cert.id.to_string();
    let inst_env = vec![
        ("FINCERT_API_URL".to_string(), url.clone()),
        ("FINCERT_CLIENT_ID".to_string(), bank.client_id.clone()),
        ("FINCERT_CLIENT_SECRET".to_string(), bank.secret.clone()),
    ];
    let holder_env = vec![
        ("FINCERT_API_URL".to_string(), url.clone()),
        ("FINCERT_PIN".to_string(), PIN.to_string()),
    ];
    let cli = |args: Vec<String>, env: Vec<(String, String)>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_cli(&args, &env)
        })
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    let (code, out, err) = cli(
        s(&[
            "sign",
            "request",
            "--certificate",
            &cert,
            "--file",
            doc.to_str().unwrap(),
            "--text",
            "Sign the lease",
            "--idempotency-key",
            "lease-1",
        ]),
        inst_env.clone(),
    )
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    let req: Value = serde_json::from_str(&out).unwrap();
    let id = req["id"].as_str().unwrap().to_owned();
    let (code, out, _) = cli(
        s(&["sign", "pending", "--certificate", &cert]),
        holder_env.clone(),
    )
    .await
    .unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("Sign the lease"));
    let (code, out, err) = cli(
        s(&["sign", "approve", &id, "--certificate", &cert]),
        holder_env.clone(),
    )
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Hana Bank asks: Sign the lease"),
        "the holder sees the text: {err}"
    );
    let signed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(signed["status"], "signed");
    let (code, out, _) = cli(s(&["sign", "status", &id]), inst_env.clone())
        .await
        .unwrap();
    assert_eq!(code, 0);
    let got: Value = serde_json::from_str(&out).unwrap();
    std::fs::write(
        dir.path().join("sig.bin"),
        b64(&got["result"]["signatures"][0]),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cert.der"),
        b64(&got["result"]["certificate"]),
    )
    .unwrap();
    let verify = |file: &str| {
        s(&[
            "verify",
            "--certificate",
            dir.path().join("cert.der").to_str().unwrap(),
            "--signature",
            dir.path().join("sig.bin").to_str().unwrap(),
            "--file",
            file,
        ])
    };
    let (code, out, _) = cli(verify(doc.to_str().unwrap()), inst_env.clone())
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"valid\": true"));
    let other = dir.path().join("other.txt");
    std::fs::write(&other, b"lease contract, 2 months").unwrap();
    let (code, out, _) = cli(verify(other.to_str().unwrap()), inst_env.clone())
        .await
        .unwrap();
    assert_eq!(
        code, 1,
        "a signature over other content is not valid: {out}"
    );
    // A wrong PIN is a clear failure, not a signature.
    let wrong = vec![
        ("FINCERT_API_URL".to_string(), url.clone()),
        ("FINCERT_PIN".to_string(), "135792".to_string()),
    ];
    let (code, _, err) = cli(s(&["sign", "pending", "--certificate", &cert]), wrong)
        .await
        .unwrap();
    assert_eq!(code, 3);
    assert!(err.contains("401"), "{err}");
    app.stop().await;
}

/// Concurrent signatures go through the group-committing writer: each request is signed at
/// most once, every signature is audited, and the chain stays intact.
async fn concurrent_signatures_commit_once_and_chain(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000010", Usage::General).await;
    consent(&h, &bank).await;
    // Five approvals of one request at once: exactly one signs.
    let req = created(&app, &bank, json!({"certificate_id": h.cert.id, "digests": [STANDARD.encode([8u8; 32])], "display_text": "Pay once"})).await;
    let attempts = (0..5).map(|_| approve_pin(&app, &h, &req, PIN));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    // Ten CSC signatures at once under one SAD, each its own HTTP call.
    let id = h.cert.id.to_string();
    let hashes: Vec<String> = (0..10u8).map(|i| STANDARD.encode([i + 20; 32])).collect();
    let auth: Value = post(&app, "/csc/v2/credentials/authorize", &bank.token, json!({"credentialID": id, "numSignatures": 10, "hashes": hashes, "authData": [{"id": "PIN", "value": PIN}]})).await.json().await.unwrap();
    let sad = auth["SAD"].as_str().unwrap().to_owned();
    let calls = hashes.iter().map(|hsh| post(&app, "/csc/v2/signatures/signHash", &bank.token, json!({"credentialID": id, "SAD": sad, "hashes": [hsh], "signAlgo": "1.2.840.113549.1.1.11"})));
    let oks = futures_util::future::join_all(calls)
        .await
        .iter()
        .filter(|r| r.status() == 200)
        .count();
    assert_eq!(oks, 10);
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "signature.created")
            .count(),
        11
    );
    let verdict = fincert::store::audit::verify(&app.db).await.unwrap();
    assert!(verdict.is_ok(), "the chain is intact: {verdict:?}");
    app.stop().await;
}

both_engines!(
    concurrent_signatures_commit_once_and_chain,
    cli_request_approve_and_verify,
    onboarding_and_client_credentials,
    consent_request_pin_approval_outputs_and_webhook,
    passkey_approval_is_bound_to_the_request,
    refusals,
);
