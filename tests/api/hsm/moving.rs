//! Moving between KMS backends (#19): from the local keyring to the HSM, the way a bank leaves
//! its development keyring (or AWS KMS for its own HSMs): `kms_previous` names the backend being
//! left, `fincert kms rewrap` moves every blob, and what only a holder can re-bind (the PIN and
//! passkey slots' inner keys, derived from the previous backend's MAC key) is bound again at
//! the holder's next use. At the end the keyring file is deleted and a node on the HSM alone
//! starts and signs for every holder who came back.

use fincert::{
    audit::Action,
    auth::media::{self, MediumKind},
    clock::Clock,
    config::{Engine, KmsBackend, Settings},
    custody::{
        Custody, CustodyError, OwnerId,
        keys::{KeyAlgorithm, SignatureScheme},
        kms::{Kms, KmsError, contract, pkcs11::Pkcs11Kms},
    },
    signing::institution::{self, Sector},
    startup::Application,
    store::{self, enrolment::MediumRow},
};
use sea_orm::ConnectionTrait;

use crate::{helpers::*, hsm_tests};

fn cli_env(app: &TestApp, previous: bool) -> Vec<(String, String)> {
    let mut env = vec![
        ("FINCERT_DATABASE_URL".into(), app.settings.database_url()),
        (
            "FINCERT_DATA_DIR".into(),
            app.settings.data_dir.display().to_string(),
        ),
        ("FINCERT_KMS_BACKEND".into(), "pkcs11".into()),
        ("FINCERT_KMS_PKCS11_MODULE".into(), softhsm_module()),
        ("FINCERT_KMS_PKCS11_TOKEN_LABEL".into(), TOKEN_LABEL.into()),
        ("FINCERT_KMS_PKCS11_PIN".into(), USER_PIN.into()),
        ("FINCERT_KMS_PKCS11_CREATE_KEYS".into(), "true".into()),
    ];
    if previous {
        env.push(("FINCERT_KMS_PREVIOUS_BACKEND".into(), "local".into()));
    }
    env
}

async fn cli(env: &[(String, String)], args: &'static [&'static str]) -> (i32, String, String) {
    let env = env.to_vec();
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_cli(args, &env)
    })
    .await
    .unwrap()
}

fn on_the_hsm(app: &TestApp, hsm: &SoftHsm, previous: bool) -> Settings {
    let mut s = app.settings.clone();
    s.kms = hsm.kms_settings();
    s.kms_previous = previous.then(|| {
        let mut local = Settings::default().kms;
        local.backend = KmsBackend::Local;
        local
    });
    s
}

fn mac_backend_of(slots: &[store::custody::SlotRow]) -> Vec<(String, Option<String>)> {
    slots
        .iter()
        .map(|s| (s.slot.name(), s.mac_backend.clone()))
        .collect()
}

async fn moving_from_the_local_keyring_to_the_hsm(engine: Engine, hsm: SoftHsm) {
    let app = spawn_app(engine).await;
    let c = &app.custody;
    let (hana, jun) = (
        OwnerId::parse("user-hana").unwrap(),
        OwnerId::parse("user-jun").unwrap(),
    );
    let hana_key = c
        .create_key(&app.db, &hana, KeyAlgorithm::P256, &pin("482915"))
        .await
        .unwrap();
    let jun_key = c
        .create_key(&app.db, &jun, KeyAlgorithm::P256, &pin("731904"))
        .await
        .unwrap();
    c.bind_passkey(&app.db, &hana, hana_key.id, &pin("482915"), b"cred-hana")
        .await
        .unwrap();
    register_otp(&app, MediumKind::Totp, None).await;
    let bank = institution::register(
        &app.db,
        c.kms().as_ref(),
        app.clock.now(),
        "Hana Bank",
        Sector::Bank,
    )
    .await
    .unwrap();
    let webhook_before = bank.webhook_secret.to_string();
    // A row made before the backend of its webhook secret was recorded.
    app.db
        .execute_unprepared(&format!(
            "UPDATE institutions SET webhook_mac_backend = NULL WHERE id = '{}'",
            bank.institution.id
        ))
        .await
        .unwrap();
    let total: u64 = store::custody::count_by_kms_key(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    // Hana's PIN and passkey slots and Jun's PIN slot; the rest are the CA's service slots.
    let service_slots = total - 3;
    app.stop().await;

    // `kms rewrap` with the HSM current and the keyring previous: interrupted, then resumed.
    let env = cli_env(&app, true);
    let (code, out, err) = cli(&env, &["kms", "rewrap", "--batch", "1", "--limit", "2"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!(
            "moved 2 skipped 0 remaining {} (current pkcs11:fincert-wrap)",
            total - 2
        )),
        "{out}"
    );
    assert!(
        out.contains("security-medium secrets: moved 0 remaining 1"),
        "{out}"
    );
    let (code, out, err) = cli(&env, &["kms", "rewrap"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("moved {} skipped 0 remaining 0", total - 2)),
        "{out}"
    );
    assert!(
        out.contains("security-medium secrets: moved 1 remaining 0"),
        "{out}"
    );
    let (code, out, err) = cli(&env, &["kms", "status"]).await;
    assert_eq!(code, 0, "{err}");
    for line in [
        format!("{total} wrapped data keys under pkcs11:fincert-wrap (current)"),
        "1 security-medium secrets under pkcs11:fincert-wrap (current)".to_owned(),
        // The CA's service slots were bound anew; the holders' three wait for them.
        "3 slots bound with the local backend's MAC key".to_owned(),
        "1 institutions' webhook secrets derive from the local backend's MAC key".to_owned(),
    ] {
        assert!(out.contains(&line), "{line:?} missing from\n{out}");
    }
    assert_eq!(
        mac_backend_of(
            &store::custody::slots_of(&app.db, &hana_key.id.to_string())
                .await
                .unwrap()
        ),
        vec![
            (
                fincert::custody::Slot::passkey(b"cred-hana").name(),
                Some("local".to_owned())
            ),
            ("pin".to_owned(), Some("local".to_owned())),
        ]
    );
    let rewrapped = store::audit::by_action(&app.db, Action::KeysRewrapped, 20)
        .await
        .unwrap();
    let rebound: u64 = rewrapped
        .iter()
        .filter_map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.details).unwrap()["rebound"].as_u64()
        })
        .sum();
    assert_eq!(rebound, service_slots, "every CA service slot bound anew");

    // A node with both backends: start-up names the old row's webhook backend (the secret the
    // bank holds does not change), and the PIN and passkey still open.
    let clock: fincert::clock::SharedClock = std::sync::Arc::new(app.clock.clone());
    let both = Application::build(on_the_hsm(&app, &hsm, true), clock.clone())
        .await
        .expect("a node with kms_previous starts");
    let row = institution::find(&app.db, &bank.institution.id)
        .await
        .unwrap();
    assert_eq!(row.webhook_mac_backend.as_deref(), Some("local"));
    let pair = both.custody().kms().clone();
    assert_eq!(
        institution::webhook_secret(pair.as_ref(), &row)
            .await
            .unwrap()
            .as_str(),
        webhook_before
    );
    contract::run(pair.as_ref()).await.unwrap();

    // The HSM alone: what the holders have not used since cannot open, and fails closed (an
    // outage, not a wrong PIN: nothing is counted).
    let hsm_alone: std::sync::Arc<dyn Kms> =
        std::sync::Arc::new(Pkcs11Kms::connect(&hsm.kms_settings()).await.unwrap());
    let alone = Custody::new(hsm_alone.clone(), &app.settings.custody, clock.clone());
    let err = alone
        .activate_with_pin(&app.db, &jun, jun_key.id, &pin("731904"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CustodyError::Kms(KmsError::Unavailable(why)) if why.contains("local backend")),
        "{err:?}"
    );
    assert!(
        store::audit::by_action(&app.db, Action::KeyActivationFailed, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        institution::webhook_secret(hsm_alone.as_ref(), &row)
            .await
            .is_err()
    );
    // The medium's secret moved whole.
    let medium = store::enrolment::media_not_under(&app.db, "", None, 10)
        .await
        .unwrap()
        .remove(0);
    let medium = MediumRow {
        id: medium.id,
        kind: medium.kind,
        kms_key_id: medium.kms_key_id,
        wrapped_secret: medium.wrapped_secret,
        last_step: -1,
        challenge: None,
        previous_challenge: None,
        device_id: None,
    };
    assert_eq!(
        media::secret_of(hsm_alone.as_ref(), &medium, MediumKind::Totp)
            .await
            .unwrap()
            .as_slice(),
        OTP_SECRET
    );

    // Hana comes back, once with her PIN and once with her passkey: each slot is bound again.
    let node = both.custody();
    node.activate_with_pin(&app.db, &hana, hana_key.id, &pin("482915"), None)
        .await
        .unwrap();
    node.activate_with_passkey(&app.db, &hana, hana_key.id, b"cred-hana", None)
        .await
        .unwrap();
    assert_eq!(
        mac_backend_of(
            &store::custody::slots_of(&app.db, &hana_key.id.to_string())
                .await
                .unwrap()
        ),
        vec![
            (fincert::custody::Slot::passkey(b"cred-hana").name(), None),
            ("pin".to_owned(), None),
        ]
    );
    assert_eq!(
        store::audit::by_action(&app.db, Action::SlotRebound, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    // The bank gets a new webhook secret, from the HSM's MAC key.
    let (_, rotated) =
        institution::rotate_webhook_secret(&app.db, pair.as_ref(), app.clock.now(), &row.id)
            .await
            .unwrap();
    assert_ne!(rotated.as_str(), webhook_before);
    let row = institution::find(&app.db, &row.id).await.unwrap();
    assert_eq!(
        institution::webhook_secret(hsm_alone.as_ref(), &row)
            .await
            .unwrap()
            .as_str(),
        rotated.as_str()
    );
    drop(both);

    // The keyring is gone. A node on the HSM alone starts (the CA's keys open) and signs for
    // Hana, by PIN and by passkey; Jun, who has not been back, needs the old backend still.
    std::fs::remove_file(app.settings.local_keyring_path()).unwrap();
    let last = Application::build(on_the_hsm(&app, &hsm, false), clock)
        .await
        .expect("a node on the HSM alone starts");
    let node = last.custody();
    for act in [
        node.activate_with_pin(&app.db, &hana, hana_key.id, &pin("482915"), None)
            .await
            .unwrap(),
        node.activate_with_passkey(&app.db, &hana, hana_key.id, b"cred-hana", None)
            .await
            .unwrap(),
    ] {
        let sig = node
            .sign(&hana, act.id, SignatureScheme::EcdsaP256Sha256, b"moved")
            .unwrap();
        assert!(openssl_verify(
            SignatureScheme::EcdsaP256Sha256,
            &hana_key.public_key_der,
            b"moved",
            &sig
        ));
    }
    assert!(matches!(
        node.activate_with_pin(&app.db, &jun, jun_key.id, &pin("731904"), None)
            .await,
        Err(CustodyError::Kms(KmsError::Unavailable(_)))
    ));
    let (code, out, err) = cli(&cli_env(&app, false), &["kms", "status"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("1 slots bound with the local backend's MAC key"),
        "{out}"
    );
    assert!(!out.contains("webhook"), "{out}");
    assert!(store::audit::verify(&app.db).await.unwrap().is_ok());
}

hsm_tests!(engines: moving_from_the_local_keyring_to_the_hsm);
