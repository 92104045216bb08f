//! A joint certificate kept in the browser, in real headless Chromium (playwright-core through
//! `tests/browser/device.mjs`): issued through the wizard with the key made by WebCrypto (only
//! a CSR sent), a request signed in the browser, the certificate copied to a second browser
//! profile through the one-time mailbox, and a second request signed there. Both signatures
//! are checked here with openssl against the certificate's key and by `POST /v1/verify`; the
//! key in IndexedDB is a non-extractable P-256 key. Also: device.js says every message in
//! Korean and English.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{
    auth::{media::MediumKind, otp},
    config::Engine,
    custody::keys::SignatureScheme,
    signing::institution::Sector,
};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the suite with scripts/test.sh (it installs Chromium and playwright-core)")
    })
}

async fn node(vars: Vec<(&'static str, String)>) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/device.mjs");
    let mut cmd = std::process::Command::new("node");
    cmd.arg(script);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let run = tokio::task::spawn_blocking(move || cmd.output());
    let out = tokio::time::timeout(std::time::Duration::from_secs(240), run)
        .await
        .expect("the browser run finishes in time")
        .expect("the runner thread")
        .expect("node runs");

    browser_report(&out, "browser run")
}

async fn device_certificate_in_chromium(engine: Engine) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_tuned(engine, |s| {
        s.http.listen = format!("127.0.0.1:{port}");
        s.enrolment.expose_dev_outbox = true;
    })
    .await;
    dev_customer(&app).await;
    register_otp(&app, MediumKind::Hotp, None).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let shots = format!(
        "{}/device-{}",
        env("TEST_FINCERT_SCREENSHOTS"),
        if engine == Engine::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
    let out = node(vec![
        ("BASE", format!("http://localhost:{port}")),
        ("HOTP", format!("{:06}", otp::hotp(OTP_SECRET, 0))),
        ("CLIENT_ID", bank.client_id.clone()),
        ("CLIENT_SECRET", bank.secret.clone()),
        ("SHOTS", shots),
        // SQLite on a phone, PostgreSQL on a desktop (the portal's walk does the other way).
        (
            "VIEWPORT",
            if engine == Engine::Sqlite {
                "phone"
            } else {
                "desktop"
            }
            .to_string(),
        ),
        ("AXE", crate::portal::axe_script()),
        ("CHROMIUM", env("TEST_FINCERT_CHROMIUM")),
        ("PLAYWRIGHT_CORE", env("TEST_FINCERT_PLAYWRIGHT")),
    ])
    .await;
    let id = out["certificateId"].as_str().unwrap();
    assert_eq!(out["codeShape"], true, "{out}");
    assert!(
        out["axeRuns"].as_u64().unwrap() >= 9,
        "every state passed axe-core: {out}"
    );
    assert_eq!(out["claimAgain"], 404, "the copy code works once");
    assert_eq!(
        out["kept"],
        json!([{"id": id, "type": "private", "extractable": false, "algorithm": "P-256"}]),
        "profile A keeps a non-extractable P-256 key"
    );

    // fincert holds no key for it: a joint certificate kept on the device.
    let row = fincert::store::pki::certificate_by_id(&app.db, id)
        .await
        .unwrap()
        .unwrap();
    assert!(row.custody_key_id.is_none());
    assert_eq!(row.storage, fincert::domain::cert_kind::Storage::Device);
    let (_, cert) = x509_parser::parse_x509_certificate(&row.certificate_der).unwrap();
    let spki = cert.public_key().raw.to_vec();
    assert!(
        cert.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("홍길동"),
        "the subject is the enrolled identity"
    );

    // Both requests (profile A, then the copy in profile B) are signed with the certificate's
    // key: openssl and POST /v1/verify agree.
    let requests = out["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2);
    for (n, req) in requests.iter().enumerate() {
        let resp = get(
            &app,
            &format!("/v1/signature-requests/{}", req.as_str().unwrap()),
            &bank.token,
        )
        .await;
        let view: Value = resp.json().await.unwrap();
        assert_eq!(view["status"], "signed", "{view}");
        let text = ["Hana Bank 이체 700,000원 #1", "카드 결제 33,000원 #2"][n];
        let sig = STANDARD
            .decode(view["result"]["signatures"][0].as_str().unwrap())
            .unwrap();
        assert!(
            openssl_verify(
                SignatureScheme::EcdsaP256Sha256,
                &spki,
                text.as_bytes(),
                &sig
            ),
            "request {n}: openssl verifies the browser's signature"
        );
        assert!(!openssl_verify(
            SignatureScheme::EcdsaP256Sha256,
            &spki,
            b"something else",
            &sig
        ));
        let verified: Value = post(
            &app,
            "/v1/verify",
            &bank.token,
            json!({
                "certificate": STANDARD.encode(&row.certificate_der),
                "signature": view["result"]["signatures"][0],
                "algorithm": "ecdsa-p256-sha256",
                "content": STANDARD.encode(text),
            }),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(verified["valid"], true, "request {n}: {verified}");
    }
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let count = |a: &str| events.iter().filter(|e| e.action == a).count();
    assert_eq!(count("device_copy.created"), 1);
    assert_eq!(count("device_copy.fetched"), 1);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "signature.created" && e.details.contains(r#""amr":"device""#))
            .count(),
        2
    );
    app.stop().await;
}

both_engines!(device_certificate_in_chromium);

/// The keys of one language's block of `export const NAME = {` in device.js.
fn device_keys(name: &str, language: &str) -> std::collections::BTreeSet<String> {
    let js = include_str!("../../src/portal/assets/device.js");
    let table = &js[js
        .find(&format!("export const {name} = {{"))
        .expect("the table")..];
    let start = table
        .find(&format!("  {language}: {{"))
        .expect("the language")
        + 6;
    let block = &table[start..start + table[start..].find("\n  },").expect("its end")];
    let mut keys = std::collections::BTreeSet::new();
    for (i, _) in block.match_indices(": \"") {
        let before = block[..i].trim_end_matches('"');
        let key: String = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !key.is_empty() {
            keys.insert(key);
        }
    }
    keys
}

/// device.js's texts and problem sentences exist in both languages, and every code its pages
/// can meet has a sentence.
#[test]
fn the_device_module_says_every_message_in_both_languages() {
    for table in ["T", "ERRORS"] {
        let (ko, en) = (device_keys(table, "ko"), device_keys(table, "en"));
        assert!(ko.len() > 10, "{table}: {ko:?}");
        assert_eq!(ko, en, "{table}: the same keys in Korean and English");
    }
    let errors = device_keys("ERRORS", "ko");
    for code in [
        "device_signature_invalid",
        "device_needs_content",
        "key_not_on_device",
        "key_on_device",
        "copy_not_found",
        "certificate_not_found",
        "device_challenge_spent",
        "device_sign_in_failed",
        "invalid_key_source",
        "csr_signature_invalid",
        "weak_key",
        "invalid_profile",
        "malformed_input",
    ] {
        assert!(errors.contains(code), "no sentence for {code}");
        assert!(
            !matches!(
                fincert_client::proto::ErrorCode::parse(code),
                fincert_client::proto::ErrorCode::Other(_)
            ),
            "{code} is a stable code"
        );
    }
    // Codes device.js raises itself are sentences too.
    let js = include_str!("../../src/portal/assets/device.js");
    for (i, _) in js.match_indices("fail(\"") {
        let code = &js[i + 6..i + 6 + js[i + 6..].find('"').unwrap()];
        assert!(errors.contains(code), "no sentence for {code}");
    }
}
