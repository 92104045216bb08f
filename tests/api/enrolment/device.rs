//! Joint certificates whose key stays on the holder's device: the certificate and its chain
//! come back from enrolment and from `GET /v1/certificates/{id}` (openssl verifies them
//! against the published root), the holder signs in by signing a challenge with the key
//! (ECDSA P-256 made with aws-lc-rs; RSA PKCS#1 v1.5 and PSS made by openssl), renews with a
//! new CSR and revokes with that session; spent, expired, altered or wrong-key answers are
//! refused, and nothing signs in once the certificate is revoked.

use std::path::Path;

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::Duration;
use fincert::{
    audit::Action,
    auth::{device::CHALLENGE_SECS, media::MediumKind, otp},
    config::Engine,
    pki::x509::pem_certificate,
};
use fincert_client::proto::institutions::Algorithm;
use serde_json::{Value, json};

use super::to_medium_step;
use crate::{helpers::*, openapi::check_response};

/// A device key: aws-lc-rs ECDSA P-256, with a PKCS#10 request for it made by rcgen.
struct EcDevice {
    key: EcdsaKeyPair,
    csr: Vec<u8>,
}

impl EcDevice {
    fn new() -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let rc = rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap();
        let csr = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .serialize_request(&rc)
            .unwrap()
            .der()
            .to_vec();
        Self { key, csr }
    }

    fn sign(&self, text: &str) -> String {
        STANDARD.encode(
            self.key
                .sign(&SystemRandom::new(), text.as_bytes())
                .unwrap(),
        )
    }
}

/// A device key made by openssl (RSA-2048) in `dir`, with its CSR; openssl signs too.
struct RsaDevice<'a> {
    dir: &'a Path,
    csr: Vec<u8>,
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?}: {text}");
    text
}

impl<'a> RsaDevice<'a> {
    fn new(dir: &'a Path) -> Self {
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-nodes",
                "-newkey",
                "rsa:2048",
                "-subj",
                "/CN=ignored",
                "-keyout",
                "rsa.key",
                "-outform",
                "DER",
                "-out",
                "rsa.csr",
            ],
        );
        Self {
            dir,
            csr: std::fs::read(dir.join("rsa.csr")).unwrap(),
        }
    }

    /// openssl's signature over `text`: PKCS#1 v1.5, or PSS with a 32-byte salt.
    fn sign(&self, text: &str, pss: bool) -> String {
        std::fs::write(self.dir.join("challenge.txt"), text).unwrap();
        let mut args = vec!["dgst", "-sha256", "-sign", "rsa.key"];
        if pss {
            args.extend([
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:32",
            ]);
        }
        args.extend(["-out", "challenge.sig", "challenge.txt"]);
        openssl(self.dir, &args);
        STANDARD.encode(std::fs::read(self.dir.join("challenge.sig")).unwrap())
    }
}

/// `POST /v1/auth/device/challenge`, checked against openapi.yaml; (status, body).
async fn challenge(app: &TestApp, certificate_id: &str) -> (u16, Value) {
    let path = "/v1/auth/device/challenge";
    let resp = post(app, path, ANON, json!({"certificate_id": certificate_id})).await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    if status == 200 {
        check_response("post", path, status, &body);
    }
    (status, body)
}

/// `POST /v1/auth/device` answering `c` with `signature`.
async fn answer(
    app: &TestApp,
    certificate_id: &str,
    c: &Value,
    algorithm: &str,
    signature: &str,
) -> reqwest::Response {
    post(
        app,
        "/v1/auth/device",
        ANON,
        json!({
            "certificate_id": certificate_id,
            "challenge_id": c["challenge_id"],
            "challenge": c["challenge"],
            "algorithm": algorithm,
            "signature": signature,
        }),
    )
    .await
}

/// A fresh challenge for `id`, answered by `sign`; the session's access token.
async fn sign_in_with(
    app: &TestApp,
    id: &str,
    algorithm: &str,
    sign: impl Fn(&str) -> String,
) -> String {
    let (status, c) = challenge(app, id).await;
    assert_eq!(status, 200, "{c}");
    let resp = answer(
        app,
        id,
        &c,
        algorithm,
        &sign(c["challenge"].as_str().unwrap()),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let session: Value = resp.json().await.unwrap();
    check_response("post", "/v1/auth/device", 200, &session);
    session["access_token"].as_str().unwrap().to_owned()
}

/// openssl verifies the certificate of `view` with the chain `view` gives, against the root
/// fincert publishes (at the app clock's time); the PEM is the DER.
fn openssl_verifies(app: &TestApp, dir: &Path, view: &Value, root: &[u8]) {
    let der = STANDARD.decode(view["der"].as_str().unwrap()).unwrap();
    assert_eq!(view["pem"], pem_certificate(&der), "PEM and DER agree");
    let chain: Vec<Vec<u8>> = view["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| STANDARD.decode(c.as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(chain.len(), 2, "issuing CA, then root");
    assert_eq!(chain[1], root, "the chain ends at the published root");
    std::fs::write(dir.join("leaf.pem"), view["pem"].as_str().unwrap()).unwrap();
    std::fs::write(dir.join("issuing.pem"), pem_certificate(&chain[0])).unwrap();
    std::fs::write(dir.join("root.pem"), pem_certificate(root)).unwrap();
    let at = fincert::clock::Clock::now(&app.clock)
        .timestamp()
        .to_string();
    let out = openssl(
        dir,
        &[
            "verify",
            "-attime",
            &at,
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "leaf.pem",
        ],
    );
    assert!(out.contains("leaf.pem: OK"), "{out}");
}

/// Enrolment with a CSR delivers the certificate and chain; the holder signs in with the key,
/// renews (a new RSA key), and revokes; every refusal is a clear problem.
pub(super) async fn device_certificate_delivered_signed_in_renewed_and_revoked(engine: Engine) {
    let app = spawn_app_tuned(engine, |s| {
        // This story signs in many times within one minute of the fixed clock.
        s.auth.sign_in_per_certificate_per_minute = 100;
        s.auth.sign_in_per_ip_per_minute = 100;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let root = app.get("/pki/ca/root.crt").await.bytes().await.unwrap();
    dev_customer(&app).await;
    register_otp(&app, MediumKind::Hotp, None).await;
    let base = to_medium_step(&app, "issue", "sms").await;
    let code = format!("{:06}", otp::hotp(OTP_SECRET, 0));
    let resp = post(
        &app,
        &format!("{base}/medium"),
        ANON,
        json!({"kind": "hotp", "answer": code}),
    )
    .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["step"], "credential");

    // Enrolment answers the certificate (DER, PEM) and its chain; no session for a device key.
    let device = EcDevice::new();
    let resp = post(
        &app,
        &format!("{base}/complete"),
        ANON,
        json!({"kind": "joint", "usage": "general", "csr": STANDARD.encode(&device.csr), "fee_confirmed_krw": 4400}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let done: Value = resp.json().await.unwrap();
    check_response("post", "/v1/enrolments/{id}/complete", 201, &done);
    assert!(done.get("session").is_none(), "{done}");
    let cert = &done["certificate"];
    assert_eq!(
        (&cert["kind"], &cert["storage"], &cert["status"]),
        (&json!("joint"), &json!("device"), &json!("active"))
    );
    openssl_verifies(&app, dir.path(), cert, &root);
    let der = STANDARD.decode(cert["der"].as_str().unwrap()).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(
        parsed.public_key().subject_public_key.data.as_ref(),
        device.key.public_key().as_ref(),
        "the certified key is the device's"
    );
    let id = cert["id"].as_str().unwrap().to_owned();

    // Signing in with the key; GET answers the same certificate and chain.
    let token = sign_in_with(&app, &id, "ecdsa-p256-sha256", |t| device.sign(t)).await;
    let resp = get(&app, &format!("/v1/certificates/{id}"), token.as_str()).await;
    assert_eq!(resp.status(), 200);
    let got: Value = resp.json().await.unwrap();
    check_response("get", "/v1/certificates/{id}", 200, &got);
    for field in ["id", "der", "pem", "chain", "issuer", "serial"] {
        assert_eq!(got[field], cert[field], "{field}");
    }
    openssl_verifies(&app, dir.path(), &got, &root);

    // A challenge answers once: the same signed answer again is refused.
    let (_, c) = challenge(&app, &id).await;
    let sig = device.sign(c["challenge"].as_str().unwrap());
    assert_eq!(
        answer(&app, &id, &c, "ecdsa-p256-sha256", &sig)
            .await
            .status(),
        200
    );
    let body = assert_problem(
        answer(&app, &id, &c, "ecdsa-p256-sha256", &sig).await,
        409,
        "device_challenge_spent",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("used"), "{body}");

    // Another key's signature is refused, and spends the challenge.
    let (_, c) = challenge(&app, &id).await;
    let text = c["challenge"].as_str().unwrap();
    let stranger = EcDevice::new();
    assert_problem(
        answer(&app, &id, &c, "ecdsa-p256-sha256", &stranger.sign(text)).await,
        401,
        "device_sign_in_failed",
    )
    .await;
    assert_problem(
        answer(&app, &id, &c, "ecdsa-p256-sha256", &device.sign(text)).await,
        409,
        "device_challenge_spent",
    )
    .await;

    // The right key under a scheme that does not fit it, and a malformed signature.
    let (_, c) = challenge(&app, &id).await;
    let sig = device.sign(c["challenge"].as_str().unwrap());
    assert_problem(
        answer(&app, &id, &c, "rsa-pkcs1-sha256", &sig).await,
        401,
        "device_sign_in_failed",
    )
    .await;
    assert_problem(
        answer(&app, &id, &c, "ecdsa-p256-sha256", "not base64!").await,
        400,
        "invalid_json",
    )
    .await;

    // A text other than the one issued (signed by the right key) is not the challenge.
    let (_, c) = challenge(&app, &id).await;
    let mut altered = c.clone();
    let text = c["challenge"].as_str().unwrap();
    // (Its last character changed: to `B` if it already is `A`, or the text would be the same.)
    let other = if text.ends_with('A') { 'B' } else { 'A' };
    altered["challenge"] = json!(format!("{}{other}", &text[..text.len() - 1]));
    let sig = device.sign(altered["challenge"].as_str().unwrap());
    assert_problem(
        answer(&app, &id, &altered, "ecdsa-p256-sha256", &sig).await,
        409,
        "device_challenge_spent",
    )
    .await;

    // An expired challenge is refused, however well signed.
    let (_, c) = challenge(&app, &id).await;
    app.clock.advance(Duration::seconds(CHALLENGE_SECS + 1));
    let sig = device.sign(c["challenge"].as_str().unwrap());
    assert_problem(
        answer(&app, &id, &c, "ecdsa-p256-sha256", &sig).await,
        409,
        "device_challenge_spent",
    )
    .await;

    // A cloud certificate has a PIN, and an unknown one nothing: each gets a challenge like a
    // device certificate (no oracle), and the answer is refused like a bad signature.
    let cloud = cloud_cert("someone-else").issue(&app).await;
    for other in [cloud.id.to_string(), uuid::Uuid::new_v4().to_string()] {
        let (status, c) = challenge(&app, &other).await;
        assert_eq!(status, 200, "{c}");
        let sig = device.sign(c["challenge"].as_str().unwrap());
        let refused = assert_problem(
            answer(&app, &other, &c, "ecdsa-p256-sha256", &sig).await,
            401,
            "device_sign_in_failed",
        )
        .await;
        let (_, theirs) = challenge(&app, &id).await;
        let bad = assert_problem(
            answer(&app, &id, &theirs, "ecdsa-p256-sha256", "MAA=").await,
            401,
            "device_sign_in_failed",
        )
        .await;
        assert_eq!(
            (&refused["title"], &refused["detail"]),
            (&bad["title"], &bad["detail"]),
            "an unknown certificate reads like a bad signature"
        );
    }

    // Inside the renewal window the holder signs in and renews with a new (RSA) key.
    app.clock.advance(Duration::days(340));
    let token = sign_in_with(&app, &id, "ecdsa-p256-sha256", |t| device.sign(t)).await;
    let rsa = RsaDevice::new(dir.path());
    let resp = post(
        &app,
        &format!("/v1/certificates/{id}/renew"),
        token.as_str(),
        json!({"csr": STANDARD.encode(&rsa.csr), "fee_confirmed_krw": 4400}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let renewed: Value = resp.json().await.unwrap();
    check_response("post", "/v1/certificates/{id}/renew", 201, &renewed);
    assert_eq!(renewed["storage"], "device");
    assert_ne!(renewed["serial"], cert["serial"]);
    openssl_verifies(&app, dir.path(), &renewed, &root);
    let new_id = renewed["id"].as_str().unwrap().to_owned();

    // openssl signs the new certificate's challenges: PKCS#1 v1.5 and PSS both sign in; the
    // old device key does not fit the new certificate.
    let token = sign_in_with(&app, &new_id, "rsa-pkcs1-sha256", |t| rsa.sign(t, false)).await;
    sign_in_with(&app, &new_id, "rsa-pss-sha256", |t| rsa.sign(t, true)).await;
    let (_, c) = challenge(&app, &new_id).await;
    let sig = device.sign(c["challenge"].as_str().unwrap());
    assert_problem(
        answer(&app, &new_id, &c, "ecdsa-p256-sha256", &sig).await,
        401,
        "device_sign_in_failed",
    )
    .await;

    // The holder revokes the new certificate with that session; a challenge taken before the
    // revocation no longer signs in, and no new challenge is given.
    let (_, before) = challenge(&app, &new_id).await;
    let resp = post(
        &app,
        &format!("/v1/certificates/{new_id}/revoke"),
        token.as_str(),
        json!({"reason": "keyCompromise"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let revoked: Value = resp.json().await.unwrap();
    check_response("post", "/v1/certificates/{id}/revoke", 200, &revoked);
    assert_eq!(revoked["status"], "revoked");
    let sig = rsa.sign(before["challenge"].as_str().unwrap(), true);
    assert_problem(
        answer(&app, &new_id, &before, "rsa-pss-sha256", &sig).await,
        401,
        "device_sign_in_failed",
    )
    .await;
    let (status, after) = challenge(&app, &new_id).await;
    assert_eq!(status, 200, "{after}");
    let sig = rsa.sign(after["challenge"].as_str().unwrap(), true);
    assert_problem(
        answer(&app, &new_id, &after, "rsa-pss-sha256", &sig).await,
        401,
        "device_sign_in_failed",
    )
    .await;

    // Every refusal is audited with its reason; every sign-in as proof of possession.
    let refused: Vec<String> =
        fincert::store::audit::by_action(&app.db, Action::DeviceSignInFailed, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.details)
            .collect();
    for reason in ["challenge", "signature", "certificate"] {
        assert!(
            refused
                .iter()
                .any(|d| d.contains(&format!(r#""reason":"{reason}""#))),
            "{reason}: {refused:?}"
        );
    }
    assert_eq!(refused.len(), 13, "{refused:?}");
    let logins = fincert::store::audit::by_action(&app.db, Action::LoggedIn, 50)
        .await
        .unwrap();
    assert_eq!(
        logins
            .iter()
            .filter(|e| e.details.contains(r#""amr":"pop""#))
            .count(),
        5
    );
}

/// Challenges and answers count against the sign-in limits per certificate (shared with PIN
/// sign-in), and a limited request is told when to retry.
pub(super) async fn device_sign_in_is_rate_limited(engine: Engine) {
    let app = spawn_app_tuned(engine, |s| s.auth.sign_in_per_certificate_per_minute = 3).await;
    let device = EcDevice::new();
    let cert = app
        .pki
        .issue(
            &app.db,
            fincert::pki::IssueRequest {
                owner: owner("device-holder"),
                holder: fincert::pki::profile::HolderName::parse("김철수").unwrap(),
                kind: fincert::pki::profile::CertKind::Joint,
                usage: fincert::pki::profile::Usage::Restricted,
                key: fincert::pki::KeySource::Device(&device.csr),
            },
        )
        .await
        .unwrap();
    let id = cert.id.to_string();
    sign_in_with(&app, &id, "ecdsa-p256-sha256", |t| device.sign(t)).await;
    let (_, c) = challenge(&app, &id).await;
    let resp = answer(
        &app,
        &id,
        &c,
        "ecdsa-p256-sha256",
        &device.sign(c["challenge"].as_str().unwrap()),
    )
    .await;
    assert!(resp.headers().get("retry-after").is_some());
    assert_problem(resp, 429, "rate_limited").await;
    let (status, body) = challenge(&app, &id).await;
    assert_eq!((status, &body["code"]), (429, &json!("rate_limited")));
    // A minute later the typed client signs in.
    app.clock.advance(Duration::seconds(61));
    let holder = app
        .api
        .sign_in_with_device(cert.id, Algorithm::EcdsaP256Sha256, |text| {
            STANDARD.decode(device.sign(text)).unwrap()
        })
        .await
        .unwrap();
    let token = holder.token().unwrap();
    assert_eq!(
        get(&app, &format!("/v1/certificates/{id}"), token)
            .await
            .status(),
        200
    );
}

/// A DER TLV (lengths up to 65535).
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// A PKCS#10 request for `subject`'s key whose signature another key (`signer`) made: the
/// requester does not possess the key it asks to be certified.
fn csr_without_possession(subject: &EcDevice, signer: &EcDevice) -> Vec<u8> {
    let (_, csr) = <x509_parser::certification_request::X509CertificationRequest as
        x509_parser::prelude::FromDer<_>>::from_der(&subject.csr)
    .unwrap();
    let info = csr.certification_request_info.raw.to_vec();
    let sig = signer.key.sign(&SystemRandom::new(), &info).unwrap();
    // ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters.
    let alg = tlv(
        0x30,
        &tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
    );
    let mut bits = vec![0u8];
    bits.extend_from_slice(sig.as_ref());
    tlv(0x30, &[info, alg, tlv(0x03, &bits)].concat())
}

/// The last step refuses a CSR that is not one, whose signature is not its key's (no proof of
/// possession), whose key is weak, or that asks for a financial certificate on a device; each
/// refusal leaves the step open, and a good CSR then issues.
pub(super) async fn bad_csrs_are_refused_and_the_step_stays_open(engine: Engine) {
    let app = spawn_app(engine).await;
    let dir = tempfile::tempdir().unwrap();
    dev_customer(&app).await;
    register_otp(&app, MediumKind::Hotp, None).await;
    let base = to_medium_step(&app, "issue", "sms").await;
    let code = format!("{:06}", otp::hotp(OTP_SECRET, 0));
    post(
        &app,
        &format!("{base}/medium"),
        ANON,
        json!({"kind": "hotp", "answer": code}),
    )
    .await;
    let complete = |kind: &'static str, csr: Vec<u8>| {
        let app = &app;
        let path = format!("{base}/complete");
        async move {
            post(
                app,
                &path,
                ANON,
                json!({"kind": kind, "usage": "general", "csr": STANDARD.encode(csr), "fee_confirmed_krw": 4400}),
            )
            .await
        }
    };
    let device = EcDevice::new();
    let other = EcDevice::new();
    assert_problem(
        complete("joint", b"not a certification request".to_vec()).await,
        400,
        "malformed_input",
    )
    .await;
    assert_problem(
        complete("joint", csr_without_possession(&device, &other)).await,
        422,
        "csr_signature_invalid",
    )
    .await;
    openssl(
        dir.path(),
        &[
            "req", "-new", "-nodes", "-newkey", "rsa:1024", "-subj", "/CN=x", "-keyout",
            "weak.key", "-outform", "DER", "-out", "weak.csr",
        ],
    );
    assert_problem(
        complete("joint", std::fs::read(dir.path().join("weak.csr")).unwrap()).await,
        422,
        "weak_key",
    )
    .await;
    assert_problem(
        complete("financial", device.csr.clone()).await,
        422,
        "invalid_profile",
    )
    .await;
    // The same key with its own signature: issued, and the certified key is the device's.
    let resp = complete("joint", device.csr.clone()).await;
    assert_eq!(resp.status(), 201);
    let done: Value = resp.json().await.unwrap();
    assert_eq!(done["certificate"]["storage"], "device");
    let der = STANDARD
        .decode(done["certificate"]["der"].as_str().unwrap())
        .unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(
        parsed.public_key().subject_public_key.data.as_ref(),
        device.key.public_key().as_ref()
    );
}
