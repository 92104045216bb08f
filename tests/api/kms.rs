//! The AWS backend against moto (the same contract the local backend passes), KMS outages
//! failing closed, and `fincert kms rewrap`.

use std::sync::Arc;

use actix_web::ResponseError;
use fincert::{
    audit::Action,
    config::Engine,
    custody::{
        Custody, CustodyError, OwnerId,
        keys::{KeyAlgorithm, SignatureScheme},
        kms::{
            Kms, KmsError, WrappedKey,
            aws::{AwsKms, KmsSigningAlgorithm},
            contract,
            local::LocalKms,
        },
    },
    error::ApiError,
    store,
};

use crate::{both_engines, helpers::*};

#[tokio::test]
async fn aws_backend_passes_the_kms_contract() {
    let kms = AwsKms::connect(&moto_kms_settings(&moto_url()).await)
        .await
        .unwrap();
    contract::run(&kms).await.unwrap();
}

#[tokio::test]
async fn aws_connect_refuses_unknown_keys() {
    let mut settings = moto_kms_settings(&moto_url()).await;
    settings.aws_key_id = "alias/no-such-key".into();
    let err = AwsKms::connect(&settings).await.unwrap_err();
    assert!(
        matches!(err, KmsError::Rejected(ref code) if code == "NotFoundException"),
        "{err:?}"
    );
}

/// KMS-held asymmetric keys (the CA's) sign whole messages (`MessageType=RAW`); the signature
/// is checked by openssl, never by moto's own Verify.
#[tokio::test]
async fn aws_asymmetric_keys_sign_for_the_ca() {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let kms = AwsKms::connect(&moto_kms_settings(&moto_url()).await)
        .await
        .unwrap();
    for (spec, alg, scheme) in [
        (
            KeySpec::Rsa2048,
            KmsSigningAlgorithm::RsaPkcs1Sha256,
            SignatureScheme::RsaPkcs1Sha256,
        ),
        (
            KeySpec::EccNistP256,
            KmsSigningAlgorithm::EcdsaSha256,
            SignatureScheme::EcdsaP256Sha256,
        ),
    ] {
        let key_id = kms
            .client()
            .create_key()
            .key_spec(spec)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        let spki = kms.public_key(&key_id).await.unwrap();
        let tbs = b"to-be-signed certificate bytes";
        let sig = kms.sign(&key_id, alg, tbs).await.unwrap();
        assert!(openssl_verify(scheme, &spki, tbs, &sig), "{alg:?}");
    }
}

/// When KMS goes down mid-run: key creation and activation fail with a 503 problem, nothing is
/// written (no key, no slot, no audit event), and an outage is not counted as a PIN attempt.
async fn kms_outage_fails_closed(engine: Engine) {
    let mut moto = PrivateMoto::start().await;
    let test_db = TestDb::new(engine).await;
    let mut s = test_db.settings();
    use_moto(&mut s, &moto.url).await;
    let app = spawn_app_with(test_db, s).await;
    let c = &app.custody;
    let gil = OwnerId::parse("user-gildong").unwrap();
    let key = c
        .create_key(&app.db, &gil, KeyAlgorithm::P256, &pin("482915"))
        .await
        .unwrap();

    moto.stop();
    let keys_before = store::custody::count_keys(&app.db).await.unwrap();
    let head_before = store::audit::head(&app.db).await.unwrap();

    let err = c
        .create_key(&app.db, &gil, KeyAlgorithm::P256, &pin("482915"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CustodyError::Kms(KmsError::Unavailable(_))),
        "{err:?}"
    );
    let resp = ApiError::from(err).error_response();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body = actix_web::body::to_bytes(resp.into_body()).await.unwrap();
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "kms_unavailable");

    let err = c
        .activate_with_pin(&app.db, &gil, key.id, &pin("482915"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CustodyError::Kms(KmsError::Unavailable(_))),
        "an outage is not a wrong PIN: {err:?}"
    );
    let err = c
        .change_pin(&app.db, &gil, key.id, &pin("482915"), &pin("604172"))
        .await
        .unwrap_err();
    assert!(matches!(err, CustodyError::Kms(_)));

    assert_eq!(
        store::custody::count_keys(&app.db).await.unwrap(),
        keys_before,
        "no half-made key"
    );
    assert_eq!(
        store::audit::head(&app.db).await.unwrap(),
        head_before,
        "no audit event, no failed-attempt event"
    );
    assert_eq!(
        store::custody::pin_state(&app.db, &key.id.to_string())
            .await
            .unwrap(),
        (0, false),
        "an outage is not a wrong PIN"
    );
    assert!(c.activations().is_empty());
    assert_eq!(
        store::audit::by_action(&app.db, Action::KeyActivationFailed, 10)
            .await
            .unwrap()
            .len(),
        0
    );
}

/// `fincert kms rotate` + `fincert kms rewrap` on the local backend: moves every slot to the
/// new key, resumably (`--limit`), and the PIN still opens the key afterwards.
async fn local_rewrap_moves_every_slot_resumably(engine: Engine) {
    let app = spawn_app(engine).await;
    let c = &app.custody;
    let owners: Vec<_> = (0..3)
        .map(|i| OwnerId::parse(&format!("user-{i}")).unwrap())
        .collect();
    let mut keys = Vec::new();
    for o in &owners {
        keys.push(
            c.create_key(&app.db, o, KeyAlgorithm::P256, &pin("482915"))
                .await
                .unwrap(),
        );
    }
    c.bind_passkey(&app.db, &owners[0], keys[0].id, &pin("482915"), b"cred-0")
        .await
        .unwrap();
    let blob_before = store::custody::find_slot(&app.db, &keys[1].id.to_string(), "pin")
        .await
        .unwrap()
        .unwrap();

    let env = [
        ("FINCERT_DATABASE_URL", app.settings.database_url()),
        (
            "FINCERT_DATA_DIR",
            app.settings.data_dir.display().to_string(),
        ),
    ];
    let run = |args: &'static [&'static str]| {
        let env = env.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                run_cli(args, &env)
            })
            .await
            .unwrap()
        }
    };
    let (code, out, err) = run(&["kms", "rotate"]).await;
    assert_eq!(code, 0, "{err}");
    let new_id = out
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(';')
        .to_string();
    assert!(new_id.starts_with("local:"));

    // Every slot: the users' PIN and passkey slots and the CA's service slots.
    let total: u64 = store::custody::count_by_kms_key(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert!(total >= 5);
    // Interrupted after two slots...
    let (code, out, err) = run(&["kms", "rewrap", "--batch", "1", "--limit", "2"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("moved 2 skipped 0 remaining {}", total - 2)),
        "{out}"
    );
    // ...and resumed.
    let (code, out, _) = run(&["kms", "rewrap"]).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("moved {} skipped 0 remaining 0", total - 2)),
        "{out}"
    );
    let (_, out, _) = run(&["kms", "status"]).await;
    assert!(
        out.contains(&format!(
            "{total} wrapped data keys under {new_id} (current)"
        )),
        "{out}"
    );

    let blob_after = store::custody::find_slot(&app.db, &keys[1].id.to_string(), "pin")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(blob_after.wrapped, blob_before.wrapped);
    assert_eq!(blob_after.kms_key_id, new_id);

    // A node started after the rotation (fresh keyring read) opens every key with its PIN.
    let kms = Arc::new(LocalKms::open_or_create(&app.settings.local_keyring_path()).unwrap());
    let fresh = Custody::new(kms, &app.settings.custody, Arc::new(app.clock.clone()));
    for (o, k) in owners.iter().zip(&keys) {
        fresh
            .activate_with_pin(&app.db, o, k.id, &pin("482915"), None)
            .await
            .unwrap();
    }
    fresh
        .activate_with_passkey(&app.db, &owners[0], keys[0].id, b"cred-0", None)
        .await
        .unwrap();
    assert_eq!(
        store::audit::by_action(&app.db, Action::KeysRewrapped, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(store::audit::verify(&app.db).await.unwrap().is_ok());
}

/// With AWS KMS the operator points `kms.aws_key_id` at a new key and re-wraps: KMS ReEncrypt
/// moves each blob, fincert never sees the plaintext, and the PIN still opens the key.
async fn aws_rewrap_moves_slots_to_the_new_key(engine: Engine) {
    let test_db = TestDb::new(engine).await;
    let mut settings = test_db.settings();
    use_moto(&mut settings, &moto_url()).await;
    let app = spawn_app_with(test_db, settings.clone()).await;
    let c = &app.custody;
    let hana = OwnerId::parse("user-hana").unwrap();
    let key = c
        .create_key(&app.db, &hana, KeyAlgorithm::Rsa2048, &pin("482915"))
        .await
        .unwrap();

    settings.kms.aws_key_id = moto_symmetric_key(&moto_client(&moto_url()).await).await;
    let rotated = Arc::new(AwsKms::connect(&settings.kms).await.unwrap());
    let new_arn = rotated.current_key_id();
    let next = Custody::new(
        rotated.clone(),
        &settings.custody,
        Arc::new(app.clock.clone()),
    );
    let total: u64 = store::custody::count_by_kms_key(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    let report = next.rewrap(&app.db, 100, u64::MAX).await.unwrap();
    assert_eq!((report.moved, report.remaining), (total, 0));
    let slot = store::custody::find_slot(&app.db, &key.id.to_string(), "pin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(slot.kms_key_id, new_arn);

    let act = next
        .activate_with_pin(&app.db, &hana, key.id, &pin("482915"), None)
        .await
        .unwrap();
    let sig = next
        .sign(&hana, act.id, SignatureScheme::RsaPssSha256, b"m")
        .unwrap();
    assert!(openssl_verify(
        SignatureScheme::RsaPssSha256,
        &key.public_key_der,
        b"m",
        &sig
    ));
    // The old blob is gone from the database; the new one is bound to the same context.
    let wrong_ctx =
        fincert::custody::kms::EncryptionContext::new().with("fincert:owner", "user-hana");
    let got = rotated
        .decrypt(
            &WrappedKey {
                kms_key_id: slot.kms_key_id,
                blob: slot.wrapped,
            },
            &wrong_ctx,
        )
        .await;
    assert_eq!(got.map(|_| ()), Err(KmsError::InvalidCiphertext));
}

/// Leaving AWS KMS for the local keyring (`kms_previous` = the AWS settings): `rewrap` moves
/// every slot; the PIN slot's inner key still derives from AWS's MAC key until its holder's
/// next correct PIN binds it again under the local one; then the keyring alone opens it.
async fn aws_rewrap_moves_slots_to_another_backend(engine: Engine) {
    let test_db = TestDb::new(engine).await;
    let mut settings = test_db.settings();
    use_moto(&mut settings, &moto_url()).await;
    let app = spawn_app_with(test_db, settings.clone()).await;
    let hana = OwnerId::parse("user-hana").unwrap();
    let key = app
        .custody
        .create_key(&app.db, &hana, KeyAlgorithm::P256, &pin("482915"))
        .await
        .unwrap();

    let mut moving = settings.clone();
    moving.kms_previous = Some(settings.kms.clone());
    moving.kms = fincert::config::Settings::default().kms;
    let pair = fincert::custody::kms::connect(&moving).await.unwrap();
    let clock = Arc::new(app.clock.clone());
    let next = Custody::new(pair, &settings.custody, clock.clone());
    let total: u64 = store::custody::count_by_kms_key(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    let report = next.rewrap(&app.db, 2, u64::MAX).await.unwrap();
    assert_eq!((report.moved, report.remaining), (total, 0));
    let slot = |db: &sea_orm::DatabaseConnection| {
        let db = db.clone();
        let id = key.id.to_string();
        async move {
            store::custody::find_slot(&db, &id, "pin")
                .await
                .unwrap()
                .unwrap()
        }
    };
    let moved = slot(&app.db).await;
    assert!(
        moved.kms_key_id.starts_with("local:"),
        "{}",
        moved.kms_key_id
    );
    assert_eq!(
        moved.mac_backend.as_deref(),
        Some("aws"),
        "bound by AWS's MAC key"
    );

    // The keyring alone cannot open it yet: its inner key needs AWS's MAC.
    let keyring = LocalKms::open_or_create(&moving.keyring_path_of(&moving.kms)).unwrap();
    let alone = Custody::new(Arc::new(keyring), &settings.custody, clock.clone());
    let refused = alone
        .activate_with_pin(&app.db, &hana, key.id, &pin("482915"), None)
        .await;
    assert!(refused.is_err(), "{refused:?}");
    // The holder's next PIN, during the move, binds it again under the local backend.
    next.activate_with_pin(&app.db, &hana, key.id, &pin("482915"), None)
        .await
        .unwrap();
    assert_eq!(slot(&app.db).await.mac_backend, None, "bound anew");
    let act = alone
        .activate_with_pin(&app.db, &hana, key.id, &pin("482915"), None)
        .await
        .unwrap();
    let sig = alone
        .sign(
            &hana,
            act.id,
            SignatureScheme::EcdsaP256Sha256,
            b"after the move",
        )
        .unwrap();
    assert!(openssl_verify(
        SignatureScheme::EcdsaP256Sha256,
        &key.public_key_der,
        b"after the move",
        &sig
    ));
    let rebound = store::audit::by_action(&app.db, Action::SlotRebound, 10)
        .await
        .unwrap();
    assert_eq!(rebound.len(), 1, "audited");
}

both_engines!(
    kms_outage_fails_closed,
    local_rewrap_moves_every_slot_resumably,
    aws_rewrap_moves_slots_to_the_new_key,
    aws_rewrap_moves_slots_to_another_backend,
);

/// The same outage seen from outside: sign-in needs the KMS, and answers 503 problem+json.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_outage_is_a_503_over_http() {
    use fincert::pki::profile::Usage;
    let mut moto = PrivateMoto::start().await;
    let test_db = TestDb::new(Engine::Postgres).await;
    let mut s = test_db.settings();
    use_moto(&mut s, &moto.url).await;
    let app = spawn_app_with(test_db, s).await;
    let cert = cloud_cert("user-outage")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    moto.stop();
    let head = store::audit::head(&app.db).await.unwrap();
    let resp = post(
        &app,
        "/v1/auth/pin",
        ANON,
        serde_json::json!({"certificate_id": cert.id, "pin": "482915"}),
    )
    .await;
    let body = assert_problem(resp, 503, "kms_unavailable").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was changed")
    );
    assert_eq!(
        store::audit::head(&app.db).await.unwrap(),
        head,
        "no half-done session, no audit row"
    );
    assert_eq!(
        store::custody::pin_state(&app.db, &cert.custody_key_id.unwrap().to_string())
            .await
            .unwrap(),
        (0, false)
    );
}
