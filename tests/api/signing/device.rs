//! A joint certificate kept on the holder's device: issued from a CSR (no custody key), listed
//! as device-kept, registered with an institution, and its requests signed on the device — the
//! server hands out what to sign, and accepts signatures only after verifying them with the
//! certificate's key (raw checked by openssl against the certificate's key, CMS by
//! `openssl cms -verify`). Wrong keys, wrong digests, wrong counts, PIN approvals and raw
//! digest-only requests are refused and audited. Then the copy mailbox: a package left by the
//! holder is fetched once with its code, never after expiry, and fetches are rate-limited.

use aws_lc_rs::{
    digest,
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::Duration;
use fincert::{
    audit::Action,
    config::Engine,
    custody::keys::SignatureScheme,
    pki::profile::{CertKind, HolderName, Usage},
    signing::institution::Sector,
};
use fincert_client::proto::institutions::Algorithm;
use serde_json::{Value, json};

use super::{b64, created, request};
use crate::{helpers::*, openapi::check_response};

/// A device key (aws-lc-rs ECDSA P-256) and its PKCS#10 request (rcgen).
struct Device {
    key: EcdsaKeyPair,
    csr: Vec<u8>,
}

impl Device {
    fn new() -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let rc = rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Mallory the CSR author");
        let csr = params.serialize_request(&rc).unwrap().der().to_vec();
        Self { key, csr }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key
            .sign(&SystemRandom::new(), message)
            .unwrap()
            .as_ref()
            .to_vec()
    }
}

/// A device-kept joint certificate for a new user `customer`, and a session from signing in
/// with the device key.
async fn device_holder(app: &TestApp, customer: &str, device: &Device) -> (String, String) {
    let owner = user(app, customer).await;
    let cert = app
        .pki
        .issue(
            &app.db,
            fincert::pki::IssueRequest {
                owner,
                holder: HolderName::parse("홍길동").unwrap(),
                kind: CertKind::Joint,
                usage: Usage::General,
                key: fincert::pki::KeySource::Device(&device.csr),
            },
        )
        .await
        .unwrap();
    assert!(cert.custody_key_id.is_none(), "fincert holds no key for it");
    let session = app
        .api
        .sign_in_with_device(cert.id, Algorithm::EcdsaP256Sha256, |text| {
            device.sign(text.as_bytes())
        })
        .await
        .unwrap();
    (cert.id.to_string(), session.token().unwrap().to_owned())
}

/// `POST /v1/approvals/{id}/device`.
async fn submit(
    app: &TestApp,
    token: &str,
    id: &str,
    digest: &Value,
    sigs: &[Vec<u8>],
) -> reqwest::Response {
    let sigs: Vec<String> = sigs.iter().map(|s| STANDARD.encode(s)).collect();
    post(
        app,
        &format!("/v1/approvals/{id}/device"),
        token,
        json!({"request_digest": digest, "signatures": sigs}),
    )
    .await
}

/// What the device is asked to sign for request `id` (checked against openapi.yaml).
async fn to_sign(app: &TestApp, token: &str, id: &str) -> Value {
    let path = format!("/v1/approvals/{id}/device");
    let resp = get(app, &path, token).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    check_response("get", "/v1/approvals/{id}/device", 200, &body);
    body
}

pub(super) async fn a_device_kept_certificate_signs_on_the_device(engine: Engine) {
    let app = spawn_app(engine).await;
    let root = app.get("/pki/ca/root.crt").await.bytes().await.unwrap();
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let device = Device::new();
    let (cert_id, token) = device_holder(&app, "330100000101", &device).await;

    // Listed for its holder as device-kept; a one-year joint certificate whose subject is the
    // enrolled identity, never the CSR's.
    let listed: Value = get(&app, "/v1/certificates", &token)
        .await
        .json()
        .await
        .unwrap();
    let mine = &listed["items"][0];
    assert_eq!(
        (&mine["id"], &mine["kind"], &mine["storage"]),
        (&json!(cert_id), &json!("joint"), &json!("device"))
    );
    let view: Value = get(&app, &format!("/v1/certificates/{cert_id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    let der = b64(&view["der"]);
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    let cn = parsed.subject().iter_common_name().next().unwrap();
    assert!(cn.as_str().unwrap().starts_with("홍길동"), "{cn:?}");
    assert!(!parsed.subject().to_string().contains("Mallory"));
    let days = (parsed.validity().not_after.timestamp() - parsed.validity().not_before.timestamp())
        / 86_400;
    assert!((365..=366).contains(&days), "{days} days");
    let spki = parsed.public_key().raw.to_vec();

    // The holder registers it with the bank (a device-kept certificate may consent).
    let resp = post(
        &app,
        "/v1/consents",
        &token,
        json!({"institution_id": bank.id, "certificate_id": cert_id}),
    )
    .await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);

    // A raw request with only a digest cannot be signed by a browser: refused up front.
    assert_problem(
        request(
            &app,
            &bank,
            json!({"certificate_id": cert_id, "digests": [STANDARD.encode([7u8; 32])],
                   "display_text": "digest only"}),
        )
        .await,
        422,
        "device_needs_content",
    )
    .await;

    // A raw request with content: the device signs the content; a PIN approval is refused.
    let content = b"transfer 500,000 KRW to 110-123-456789".to_vec();
    let raw = created(
        &app,
        &bank,
        json!({"certificate_id": cert_id, "content": STANDARD.encode(&content),
               "display_text": "Transfer 500,000 KRW"}),
    )
    .await;
    assert_eq!(raw["algorithm"], "ecdsa-p256-sha256");
    let raw_id = raw["id"].as_str().unwrap();
    assert_problem(
        post(
            &app,
            &format!("/v1/approvals/{raw_id}/approve"),
            &token,
            json!({"pin": "135790", "request_digest": raw["request_digest"]}),
        )
        .await,
        422,
        "key_on_device",
    )
    .await;
    let ask = to_sign(&app, &token, raw_id).await;
    assert_eq!(ask["request_digest"], raw["request_digest"]);
    assert_eq!(ask["payloads"], json!([STANDARD.encode(&content)]));

    // Refusals, each audited, the request still pending after them: another key's signature,
    // a signature over something else, a wrong request digest, a wrong count, bad base64.
    let stranger = Device::new();
    let digest = &raw["request_digest"];
    assert_problem(
        submit(&app, &token, raw_id, digest, &[stranger.sign(&content)]).await,
        422,
        "device_signature_invalid",
    )
    .await;
    assert_problem(
        submit(
            &app,
            &token,
            raw_id,
            digest,
            &[device.sign(b"something else")],
        )
        .await,
        422,
        "device_signature_invalid",
    )
    .await;
    assert_problem(
        submit(
            &app,
            &token,
            raw_id,
            &json!(STANDARD.encode([0u8; 32])),
            &[device.sign(&content)],
        )
        .await,
        409,
        "approval_mismatch",
    )
    .await;
    assert_problem(
        submit(
            &app,
            &token,
            raw_id,
            digest,
            &[device.sign(&content), device.sign(&content)],
        )
        .await,
        422,
        "device_signature_invalid",
    )
    .await;
    let resp = post(
        &app,
        &format!("/v1/approvals/{raw_id}/device"),
        &token,
        json!({"request_digest": digest, "signatures": ["not base64!"]}),
    )
    .await;
    assert_problem(resp, 400, "invalid_json").await;
    let failed = fincert::store::audit::by_action(&app.db, Action::SignatureApprovalFailed, 20)
        .await
        .unwrap();
    assert_eq!(
        failed
            .iter()
            .filter(|e| e.details.contains("device signature"))
            .count(),
        3,
        "{failed:?}"
    );

    // The device's signature is accepted; openssl verifies it with the certificate's key.
    let resp = submit(&app, &token, raw_id, digest, &[device.sign(&content)]).await;
    assert_eq!(resp.status(), 200);
    let signed: Value = resp.json().await.unwrap();
    check_response("post", "/v1/approvals/{id}/device", 200, &signed);
    assert_eq!(signed["status"], "signed");
    let stored: Value = get(
        &app,
        &format!("/v1/signature-requests/{raw_id}"),
        &bank.token,
    )
    .await
    .json()
    .await
    .unwrap();
    let sig = b64(&stored["result"]["signatures"][0]);
    assert!(openssl_verify(
        SignatureScheme::EcdsaP256Sha256,
        &spki,
        &content,
        &sig
    ));
    assert!(!openssl_verify(
        SignatureScheme::EcdsaP256Sha256,
        &spki,
        b"other",
        &sig
    ));
    assert_eq!(b64(&stored["result"]["certificate"]), der);
    // Once signed, it is not signed again.
    assert_problem(
        submit(&app, &token, raw_id, digest, &[device.sign(&content)]).await,
        409,
        "request_not_pending",
    )
    .await;

    // CMS over two documents: the device signs the signed attributes; openssl cms verifies.
    let docs: [&[u8]; 2] = [b"loan agreement v3", b"privacy consent v7"];
    let digests: Vec<String> = docs
        .iter()
        .map(|d| STANDARD.encode(digest::digest(&digest::SHA256, d)))
        .collect();
    let cms = created(
        &app,
        &bank,
        json!({"certificate_id": cert_id, "digests": digests, "format": "cms-detached",
               "display_text": "Loan agreement and privacy consent"}),
    )
    .await;
    let cms_id = cms["id"].as_str().unwrap();
    let ask = to_sign(&app, &token, cms_id).await;
    let sigs: Vec<Vec<u8>> = ask["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| device.sign(&b64(p)))
        .collect();
    assert_eq!(sigs.len(), 2);
    let mut swapped = sigs.clone();
    swapped.reverse();
    assert_problem(
        submit(&app, &token, cms_id, &cms["request_digest"], &swapped).await,
        422,
        "device_signature_invalid",
    )
    .await;
    let resp = submit(&app, &token, cms_id, &cms["request_digest"], &sigs).await;
    assert_eq!(resp.status(), 200);
    let stored: Value = get(
        &app,
        &format!("/v1/signature-requests/{cms_id}"),
        &bank.token,
    )
    .await
    .json()
    .await
    .unwrap();
    for (i, doc) in docs.iter().enumerate() {
        let cms = b64(&stored["result"]["signatures"][i]);
        let (ok, _) = openssl_cms_verify(&cms, &root, Some(doc));
        assert!(ok, "document {i}");
        let (wrong, _) = openssl_cms_verify(&cms, &root, Some(b"tampered"));
        assert!(!wrong, "document {i} against other content");
    }
    let created_events = fincert::store::audit::by_action(&app.db, Action::SignatureCreated, 20)
        .await
        .unwrap();
    assert_eq!(
        created_events
            .iter()
            .filter(|e| e.details.contains(r#""amr":"device""#))
            .count(),
        2
    );

    // A cloud certificate's request is approved with its PIN, not on a device.
    let cloud = holder(&app, "330100000102", Usage::General).await;
    consent(&cloud, &bank).await;
    let req = created(
        &app,
        &bank,
        json!({"certificate_id": cloud.cert.id, "content": STANDARD.encode(b"x"),
               "display_text": "cloud"}),
    )
    .await;
    let id = req["id"].as_str().unwrap();
    assert_problem(
        get(&app, &format!("/v1/approvals/{id}/device"), &cloud.token).await,
        422,
        "key_not_on_device",
    )
    .await;
    // Another holder's request is not found.
    assert_problem(
        get(&app, &format!("/v1/approvals/{id}/device"), &token).await,
        404,
        "not_found",
    )
    .await;
}

/// `POST /v1/device-copies/claim` with `code`.
async fn claim(app: &TestApp, code: &str) -> reqwest::Response {
    post(app, "/v1/device-copies/claim", ANON, json!({"code": code})).await
}

pub(super) async fn the_copy_mailbox_gives_a_package_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let device = Device::new();
    let (cert_id, token) = device_holder(&app, "330100000201", &device).await;
    let package = b"iv||AES-GCM ciphertext made in the browser".to_vec();
    let leave = |pkg: Vec<u8>, id: String, tok: String| {
        let app = &app;
        async move {
            post(
                app,
                "/v1/device-copies",
                &tok,
                json!({"certificate_id": id, "package": STANDARD.encode(pkg)}),
            )
            .await
        }
    };

    // Left by the holder: a 10-digit code, expiring in 10 minutes.
    let resp = leave(package.clone(), cert_id.clone(), token.clone()).await;
    assert_eq!(resp.status(), 201);
    let made: Value = resp.json().await.unwrap();
    check_response("post", "/v1/device-copies", 201, &made);
    let code = made["code"].as_str().unwrap().to_owned();
    assert!(
        code.len() == 10 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );

    // A wrong code finds nothing, a malformed one is refused before any look-up.
    let wrong = if code.starts_with('0') { "1" } else { "0" }.to_owned() + &code[1..];
    assert_problem(claim(&app, &wrong).await, 404, "copy_not_found").await;
    assert_problem(claim(&app, "12345").await, 400, "invalid_json").await;

    // Fetched once: the package as left, with the certificate; a second fetch finds nothing.
    let resp = claim(&app, &code).await;
    assert_eq!(resp.status(), 200);
    let got: Value = resp.json().await.unwrap();
    check_response("post", "/v1/device-copies/claim", 200, &got);
    assert_eq!(b64(&got["package"]), package);
    assert_eq!(got["certificate_id"], json!(cert_id));
    let view: Value = get(&app, &format!("/v1/certificates/{cert_id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["certificate"], view["der"]);
    assert_problem(claim(&app, &code).await, 404, "copy_not_found").await;

    // Expired after 10 minutes.
    let resp = leave(package.clone(), cert_id.clone(), token.clone()).await;
    let late: Value = resp.json().await.unwrap();
    app.clock.advance(Duration::seconds(601));
    assert_problem(
        claim(&app, late["code"].as_str().unwrap()).await,
        404,
        "copy_not_found",
    )
    .await;

    // Only the holder's own active device-kept certificate; a package of sane size; a session.
    let token = app
        .api
        .sign_in_with_device(cert_id.parse().unwrap(), Algorithm::EcdsaP256Sha256, |t| {
            device.sign(t.as_bytes())
        })
        .await
        .unwrap()
        .token()
        .unwrap()
        .to_owned();
    let cloud = holder(&app, "330100000202", Usage::General).await;
    assert_problem(
        leave(
            package.clone(),
            cloud.cert.id.to_string(),
            cloud.token.clone(),
        )
        .await,
        404,
        "certificate_not_found",
    )
    .await;
    assert_problem(
        leave(package.clone(), cert_id.clone(), cloud.token.clone()).await,
        404,
        "certificate_not_found",
    )
    .await;
    assert_problem(
        leave(vec![0u8; 16 * 1024 + 1], cert_id.clone(), token.clone()).await,
        400,
        "invalid_json",
    )
    .await;
    let anonymous = post(
        &app,
        "/v1/device-copies",
        ANON,
        json!({"certificate_id": cert_id, "package": STANDARD.encode(&package)}),
    )
    .await;
    assert_eq!(anonymous.status(), 401);

    // Fetches are limited per client: 10 a minute.
    app.clock.advance(Duration::seconds(61));
    for _ in 0..10 {
        assert_problem(claim(&app, "0000000000").await, 404, "copy_not_found").await;
    }
    let resp = claim(&app, "0000000000").await;
    assert!(resp.headers().get("retry-after").is_some());
    assert_problem(resp, 429, "rate_limited").await;

    // Audited: two copies, one fetch, the refusals; never the code.
    let all = |a| fincert::store::audit::by_action(&app.db, a, 50);
    assert_eq!(all(Action::DeviceCopyCreated).await.unwrap().len(), 2);
    assert_eq!(all(Action::DeviceCopyFetched).await.unwrap().len(), 1);
    let refused = all(Action::DeviceCopyRefused).await.unwrap();
    assert_eq!(
        refused.len(),
        13,
        "wrong, twice spent, expired, ten guesses"
    );
    for e in fincert::store::audit::by_action(&app.db, Action::DeviceCopyCreated, 50)
        .await
        .unwrap()
    {
        assert!(!e.details.contains(&code), "{}", e.details);
    }
}
