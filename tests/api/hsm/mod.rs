//! The `pkcs11` KMS backend against SoftHSM2: the KMS contract, keys that cannot leave the
//! token, signing through the service, and a token pulled mid-run. Each test runs in a process
//! of its own on a token of its own (`hsm_tests!`, see `helpers/softhsm.rs`); the custody
//! stories run on this backend too (`custody::<story>::{sqlite,postgres}_pkcs11`); `ca.rs`:
//! a CA whose keys are in the HSM.

use std::time::{Duration, Instant};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    mechanism::Mechanism,
    object::{Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass, ObjectHandle},
    session::{Session, UserType},
};
use fincert::{
    config::Engine,
    custody::{
        keys::SignatureScheme,
        kms::{EncryptionContext, Kms, KmsError, WrappedKey, contract, pkcs11::Pkcs11Kms},
    },
    pki::profile::Usage,
    signing::institution::Sector,
    store,
};
use serde_json::{Value, json};

use crate::{helpers::*, hsm_tests};

mod ca;
mod moving;

/// The contract every backend keeps, and what only this one must refuse: blobs of another
/// backend, of a key the token lacks, or of another HSM's key.
async fn the_kms_contract_holds_on_the_hsm(hsm: SoftHsm) {
    let kms = Pkcs11Kms::connect(&hsm.kms_settings()).await.unwrap();
    assert_eq!(kms.backend(), "pkcs11");
    assert_eq!(kms.current_key_id(), "pkcs11:fincert-wrap");
    contract::run(&kms).await.unwrap();

    let ctx = EncryptionContext::new().with("fincert:owner", "user-1");
    let wrapped = kms.encrypt(b"a data key", &ctx).await.unwrap();
    assert_eq!(wrapped.blob[0], 1, "the blob starts with its version");
    assert_eq!(
        wrapped.blob.len(),
        1 + 12 + 10 + 16,
        "version, IV, ciphertext, tag"
    );
    let again = kms.encrypt(b"a data key", &ctx).await.unwrap();
    assert_ne!(
        wrapped.blob[1..13],
        again.blob[1..13],
        "a fresh IV per wrap"
    );
    for id in ["local:0011223344556677", "pkcs11:no-such-key", "pkcs11:"] {
        let other = WrappedKey {
            kms_key_id: id.into(),
            blob: wrapped.blob.clone(),
        };
        assert_eq!(
            kms.decrypt(&other, &ctx).await,
            Err(KmsError::InvalidCiphertext),
            "{id}"
        );
    }
    let mut version = wrapped.clone();
    version.blob[0] = 2;
    assert_eq!(
        kms.decrypt(&version, &ctx).await,
        Err(KmsError::InvalidCiphertext)
    );
    // Another HSM with keys of the same labels opens nothing of this one's, and its MAC differs.
    let other = Pkcs11Kms::connect(&hsm.other_kms_settings()).await.unwrap();
    assert_eq!(other.current_key_id(), kms.current_key_id());
    assert_eq!(
        other.decrypt(&wrapped, &ctx).await,
        Err(KmsError::InvalidCiphertext)
    );
    assert_ne!(other.mac(b"m").await.unwrap(), kms.mac(b"m").await.unwrap());
    kms.probe().await.unwrap();
}

/// Opens a logged-in session on the test's token with cryptoki directly (as an attacker with
/// the PIN would), beside whatever fincert has open.
pub(super) fn raw_session(module: &Pkcs11) -> Session {
    match module.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::CryptokiAlreadyInitialized,
            _,
        )) => {}
        Err(e) => panic!("C_Initialize: {e}"),
    }
    let slot = module
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| module.get_token_info(*s).unwrap().label().trim_end() == TOKEN_LABEL)
        .unwrap();
    let session = module.open_rw_session(slot).unwrap();
    match session.login(UserType::User, Some(&USER_PIN.into())) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {
        }
        Err(e) => panic!("C_Login: {e}"),
    }
    session
}

fn key_by_label(session: &Session, label: &str) -> ObjectHandle {
    let found = session
        .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
        .unwrap();
    assert_eq!(found.len(), 1, "one key labelled {label}");
    found[0]
}

/// `fincert kms create-keys` makes both keys on the token sensitive and non-extractable: their
/// value cannot be read (`C_GetAttributeValue(CKA_VALUE)`) nor wrapped out (`C_WrapKey`); a
/// key under a configured label that could leave the HSM is refused at start.
async fn hsm_keys_cannot_be_read_out(hsm: SoftHsm) {
    let mut settings = hsm.kms_settings();
    settings.pkcs11_create_keys = false;
    let err = Pkcs11Kms::connect(&settings).await.unwrap_err();
    assert!(
        matches!(&err, KmsError::Rejected(m) if m.contains("kms create-keys")),
        "no keys yet, none made without being asked: {err:?}"
    );

    let data = tempfile::tempdir().unwrap();
    let env = [
        ("FINCERT_DATA_DIR", data.path().to_str().unwrap()),
        ("FINCERT_KMS_BACKEND", "pkcs11"),
        ("FINCERT_KMS_PKCS11_MODULE", settings.pkcs11_module.as_str()),
        ("FINCERT_KMS_PKCS11_TOKEN_LABEL", TOKEN_LABEL),
        ("FINCERT_KMS_PKCS11_PIN", USER_PIN),
    ];
    let (code, out, err) = run_cli(&["migrate"], &env);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_cli(&["kms", "create-keys"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "created fincert-wrap, fincert-mac");
    let (code, out, _) = run_cli(&["kms", "create-keys"], &env);
    assert_eq!(code, 0);
    assert!(out.contains("nothing created"), "{out}");
    // The same with the PIN in a file (a mounted secret) instead of the environment.
    let pin_file = data.path().join("hsm-pin");
    std::fs::write(&pin_file, format!("{USER_PIN}\n")).unwrap();
    let mut from_file = env.to_vec();
    from_file.pop();
    from_file.push(("FINCERT_KMS_PKCS11_PIN_FILE", pin_file.to_str().unwrap()));
    let (code, out, err) = run_cli(&["kms", "status"], &from_file);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("backend pkcs11 current pkcs11:fincert-wrap"),
        "{out}"
    );
    // The creation is audited (one event; the second run created nothing but says so too).
    let (code, out, err) = run_cli(&["audit", "verify"], &env);
    assert_eq!(code, 0, "{out}{err}");

    let kms = Pkcs11Kms::connect(&settings).await.unwrap();
    contract::run(&kms).await.unwrap();

    let module = Pkcs11::new(softhsm_module()).unwrap();
    let session = raw_session(&module);
    let kek = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::Wrap(true),
                Attribute::ValueLen(32.into()),
            ],
        )
        .unwrap();
    for (label, key_type) in [
        ("fincert-wrap", KeyType::AES),
        ("fincert-mac", KeyType::GENERIC_SECRET),
    ] {
        let key = key_by_label(&session, label);
        let attrs = session
            .get_attributes(
                key,
                &[
                    AttributeType::Class,
                    AttributeType::KeyType,
                    AttributeType::Token,
                    AttributeType::Sensitive,
                    AttributeType::AlwaysSensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::Private,
                ],
            )
            .unwrap();
        for wanted in [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(key_type),
            Attribute::Token(true),
            Attribute::Sensitive(true),
            Attribute::AlwaysSensitive(true),
            Attribute::Extractable(false),
            Attribute::NeverExtractable(true),
            Attribute::Private(true),
        ] {
            assert!(attrs.contains(&wanted), "{label}: {wanted:?} in {attrs:?}");
        }
        // The value is sensitive: C_GetAttributeValue refuses it.
        assert!(matches!(
            session
                .get_attribute_info(key, &[AttributeType::Value])
                .unwrap()[..],
            [AttributeInfo::Sensitive]
        ));
        assert!(
            session
                .get_attributes(key, &[AttributeType::Value])
                .unwrap()
                .is_empty(),
            "{label}: no CKA_VALUE comes back"
        );
        // Nor can it be wrapped out under a key of the caller's choosing.
        let wrapped = session.wrap_key(&Mechanism::AesKeyWrapPad, kek, key);
        assert!(
            matches!(
                wrapped,
                Err(cryptoki::error::Error::Pkcs11(
                    cryptoki::error::RvError::KeyUnextractable,
                    _
                ))
            ),
            "{label}: C_WrapKey gave {wrapped:?}"
        );
    }

    // An extractable key under the configured label is refused, whatever it could do.
    session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(true),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Label(b"weak-wrap".to_vec()),
                Attribute::ValueLen(32.into()),
            ],
        )
        .unwrap();
    let mut weak = settings.clone();
    weak.pkcs11_wrap_key_label = "weak-wrap".into();
    let err = Pkcs11Kms::connect(&weak).await.unwrap_err();
    assert!(
        matches!(&err, KmsError::Rejected(m) if m.contains("is extractable")),
        "{err:?}"
    );
}

/// A holder signs through the service with the KMS in the HSM: PIN approval (HMAC and unwrap
/// on the token), a signature openssl accepts.
async fn a_signature_through_the_service_on_the_hsm(engine: Engine, hsm: SoftHsm) {
    let app = spawn_app_tuned(engine, |s| s.kms = hsm.kms_settings()).await;
    assert_eq!(app.custody.kms().backend(), "pkcs11");
    let (h, bank, req, content) = pending_request(&app).await;
    let signed = approve(&app, &h, &req).await;
    assert_eq!(signed.status(), 200, "{:?}", signed.text().await);
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
    let cert = STANDARD
        .decode(got["result"]["certificate"].as_str().unwrap())
        .unwrap();
    let spki = x509_parser::parse_x509_certificate(&cert)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    let sig = STANDARD
        .decode(got["result"]["signatures"][0].as_str().unwrap())
        .unwrap();
    assert!(openssl_verify(
        SignatureScheme::RsaPkcs1Sha256,
        &spki,
        &content,
        &sig
    ));
    let slots = store::custody::count_by_kms_key(&app.db).await.unwrap();
    assert!(
        slots.iter().all(|(id, _)| id == "pkcs11:fincert-wrap") && !slots.is_empty(),
        "every slot is wrapped by the HSM: {slots:?}"
    );
}

/// A holder with a consented institution and a pending signature request.
async fn pending_request(app: &TestApp) -> (Holder, Inst, Value, Vec<u8>) {
    let bank = institution(app, "Hana Bank", Sector::Bank).await;
    let h = holder(app, "330100000002", Usage::Restricted).await;
    consent(&h, &bank).await;
    let content = b"transfer 1,000,000 KRW to 110-123-456789".to_vec();
    let resp = call(
        app,
        reqwest::Method::POST,
        "/v1/signature-requests",
        &bank.token,
        Some(json!({
            "certificate_id": h.cert.id,
            "content": STANDARD.encode(&content),
            "display_text": "Transfer 1,000,000 KRW to Kim Minsu (110-123-456789)",
        })),
        Some(&uuid::Uuid::new_v4().to_string()),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let req: Value = resp.json().await.unwrap();
    (h, bank, req, content)
}

async fn approve(app: &TestApp, h: &Holder, req: &Value) -> reqwest::Response {
    post(
        app,
        &format!("/v1/approvals/{}/approve", req["id"].as_str().unwrap()),
        &h.token,
        json!({"pin": PIN, "request_digest": req["request_digest"]}),
    )
    .await
}

/// Polls `/readyz` until it answers `status` (the prober runs every 2 s).
async fn readyz_becomes(app: &TestApp, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = app.get("/readyz").await.status().as_u16();
        if got == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {got}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The token is pulled mid-run: approvals and new keys answer 503 with Retry-After, `/readyz`
/// goes 503, nothing is half-written (no key, no audit event, no PIN failure, the request
/// still pending); back in, the node recovers without a restart.
async fn a_pulled_token_fails_closed_and_recovers(engine: Engine, hsm: SoftHsm) {
    let app = spawn_app_tuned(engine, |s| s.kms = hsm.kms_settings()).await;
    let (h, _bank, req, _) = pending_request(&app).await;
    readyz_becomes(&app, 200).await;

    hsm.pull();
    let keys_before = store::custody::count_keys(&app.db).await.unwrap();
    let head_before = store::audit::head(&app.db).await.unwrap();

    let resp = approve(&app, &h, &req).await;
    assert_eq!(resp.status(), 503);
    let retry = resp
        .headers()
        .get("retry-after")
        .expect("Retry-After on a KMS outage")
        .to_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_problem(resp, 503, "kms_unavailable").await;
    // A second call while the token is out fails the same way, in bounded time.
    let started = Instant::now();
    assert_problem(approve(&app, &h, &req).await, 503, "kms_unavailable").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    // A new key (issuance) cannot be made either.
    let user = user(&app, "330100000003").await;
    let err = app
        .pki
        .issue(
            &app.db,
            fincert::pki::IssueRequest {
                owner: user,
                holder: fincert::pki::profile::HolderName::parse("홍길동").unwrap(),
                kind: fincert::pki::profile::CertKind::Financial,
                usage: Usage::General,
                key: fincert::pki::KeySource::Cloud(&pin(PIN)),
            },
        )
        .await
        .unwrap_err();
    let resp = actix_web::ResponseError::error_response(&fincert::error::ApiError::from(err));
    assert_eq!(resp.status().as_u16(), 503);
    readyz_becomes(&app, 503).await;

    assert_eq!(
        store::custody::count_keys(&app.db).await.unwrap(),
        keys_before,
        "no half-made key"
    );
    assert_eq!(
        store::audit::head(&app.db).await.unwrap(),
        head_before,
        "no audit event"
    );
    assert_eq!(
        store::custody::pin_state(&app.db, &h.cert.custody_key_id.unwrap().to_string())
            .await
            .unwrap(),
        (0, false),
        "an outage is not a wrong PIN"
    );
    let pending: Value = get(&app, "/v1/approvals", &h.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending["items"][0]["id"], req["id"], "still pending");

    hsm.put_back();
    let deadline = Instant::now() + Duration::from_secs(15);
    let signed = loop {
        let resp = approve(&app, &h, &req).await;
        if resp.status() != 503 {
            break resp;
        }
        assert!(Instant::now() < deadline, "the node did not recover");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(signed.status(), 200, "{:?}", signed.text().await);
    readyz_becomes(&app, 200).await;
}

hsm_tests!(
    the_kms_contract_holds_on_the_hsm,
    hsm_keys_cannot_be_read_out
);
hsm_tests!(
    engines: a_signature_through_the_service_on_the_hsm,
    a_pulled_token_fails_closed_and_recovers
);

/// Rotation on the HSM: a new AES key under a new `kms.pkcs11_wrap_key_label` (the HMAC key
/// stays: PIN bindings depend on it), `kms rewrap` moves every slot to it, blobs under the old
/// label open until then, and the PIN still opens the key afterwards.
async fn rotating_the_wrap_key_label_rewraps_every_slot(engine: Engine, hsm: SoftHsm) {
    use fincert::custody::{Custody, OwnerId, keys::KeyAlgorithm};
    let app = spawn_app_tuned(engine, |s| s.kms = hsm.kms_settings()).await;
    let hana = OwnerId::parse("user-hana").unwrap();
    let key = app
        .custody
        .create_key(&app.db, &hana, KeyAlgorithm::Rsa2048, &pin("482915"))
        .await
        .unwrap();

    let mut rotated = app.settings.kms.clone();
    rotated.pkcs11_wrap_key_label = "fincert-wrap-2026".into();
    let kms = std::sync::Arc::new(Pkcs11Kms::connect(&rotated).await.unwrap());
    assert_eq!(kms.current_key_id(), "pkcs11:fincert-wrap-2026");
    let next = Custody::new(
        kms.clone(),
        &app.settings.custody,
        std::sync::Arc::new(app.clock.clone()),
    );
    // Before the rewrap, the new configuration still opens what the old key wrapped.
    next.activate_with_pin(&app.db, &hana, key.id, &pin("482915"), None)
        .await
        .unwrap();
    let total: u64 = store::custody::count_by_kms_key(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    let report = next.rewrap(&app.db, 2, u64::MAX).await.unwrap();
    assert_eq!((report.moved, report.remaining), (total, 0));
    assert_eq!(
        store::custody::count_by_kms_key(&app.db).await.unwrap(),
        vec![("pkcs11:fincert-wrap-2026".to_owned(), total)]
    );
    let act = next
        .activate_with_pin(&app.db, &hana, key.id, &pin("482915"), None)
        .await
        .unwrap();
    let sig = next
        .sign(&hana, act.id, SignatureScheme::RsaPkcs1Sha256, b"m")
        .unwrap();
    assert!(openssl_verify(
        SignatureScheme::RsaPkcs1Sha256,
        &key.public_key_der,
        b"m",
        &sig
    ));
    assert!(store::audit::verify(&app.db).await.unwrap().is_ok());
}

hsm_tests!(engines: rotating_the_wrap_key_label_rewraps_every_slot);
