//! Key custody end to end on a real database and a real KMS (local keyring, or moto as AWS
//! KMS): sealed keys, PIN binding, passkey slots, blob swaps, activations, re-wrapping.

use std::sync::Arc;

use chrono::Duration;
use fincert::{
    audit::Action,
    clock::Clock,
    config::Engine,
    custody::{
        Custody, CustodyError, Slot,
        activation::ActivationError,
        keys::{KeyAlgorithm, SignatureScheme},
        kms::{self, local::LocalKms},
    },
    domain::pin::Pin,
    store,
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use crate::{custody_matrix, helpers::*};

/// Events of `action` by users (not the service's own CA keys).
async fn audit_actions(app: &TestApp, action: Action) -> usize {
    store::audit::by_action(&app.db, action, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.actor_kind == "user")
        .count()
}

/// Runs SQL with positional `$n` values on either engine.
async fn exec(app: &TestApp, sql: &str, values: Vec<sea_orm::Value>) {
    let backend = app.db.get_database_backend();
    let sql = if backend == DbBackend::Sqlite {
        sql.replace('$', "?")
    } else {
        sql.to_owned()
    };
    app.db
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap();
}

async fn sealed_of(app: &TestApp, key: Uuid) -> Vec<u8> {
    let row = store::custody::find_key(&app.db, "", &key.to_string())
        .await
        .unwrap();
    assert!(row.is_none(), "keys are found only with their owner");
    let all = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT sealed_private FROM custody_keys WHERE id = '{key}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    all.try_get_by_index::<Vec<u8>>(0).unwrap()
}

/// A key is generated, sealed and PIN-bound; the right PIN activates it and every signature
/// it makes verifies with openssl.
async fn create_activate_and_sign(engine: Engine, backend: Backend) {
    let app = spawn_custody_app(engine, backend).await;
    let c = &app.custody;
    let alice = owner("user-alice");
    for (alg, schemes) in [
        (
            KeyAlgorithm::Rsa2048,
            vec![
                SignatureScheme::RsaPkcs1Sha256,
                SignatureScheme::RsaPssSha256,
            ],
        ),
        (KeyAlgorithm::P256, vec![SignatureScheme::EcdsaP256Sha256]),
    ] {
        let key = c
            .create_key(&app.db, &alice, alg, &pin("482915"))
            .await
            .unwrap();
        let act = c
            .activate_with_pin(&app.db, &alice, key.id, &pin("482915"), None)
            .await
            .unwrap();
        assert_eq!(act.key_id, key.id);
        for scheme in schemes {
            let msg = "이체 1,000,000원 → 홍길동".as_bytes();
            let sig = c.sign(&alice, act.id, scheme, msg).unwrap();
            assert!(
                openssl_verify(scheme, &key.public_key_der, msg, &sig),
                "{alg:?} {scheme:?}"
            );
            assert!(!openssl_verify(
                scheme,
                &key.public_key_der,
                b"tampered",
                &sig
            ));
        }
    }
    assert_eq!(audit_actions(&app, Action::KeyCreated).await, 2);
    assert_eq!(audit_actions(&app, Action::KeyActivated).await, 2);
    assert!(store::audit::verify(&app.db).await.unwrap().is_ok());
}

/// A wrong PIN does not activate the key, is audited, and leaves no activation.
async fn wrong_pin_is_refused(engine: Engine, backend: Backend) {
    let app = spawn_custody_app(engine, backend).await;
    let c = &app.custody;
    let bob = owner("user-bob");
    let key = c
        .create_key(&app.db, &bob, KeyAlgorithm::P256, &pin("482915"))
        .await
        .unwrap();
    for wrong in ["482916", "000000", "284915"] {
        let err = c
            .activate_with_pin(&app.db, &bob, key.id, &pin(wrong), None)
            .await
            .unwrap_err();
        assert!(matches!(err, CustodyError::WrongPin), "{err:?}");
    }
    assert!(c.activations().is_empty());
    assert_eq!(audit_actions(&app, Action::KeyActivationFailed).await, 3);
    // Someone else's key is not found at all, even with its PIN.
    let err = c
        .activate_with_pin(
            &app.db,
            &owner("user-mallory"),
            key.id,
            &pin("482915"),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CustodyError::KeyNotFound));
}

/// Sealed keys and slot blobs copied to another owner or another key do not open.
async fn swapped_blobs_do_not_open(engine: Engine, backend: Backend) {
    let app = spawn_custody_app(engine, backend).await;
    let c = &app.custody;
    let (alice, bob) = (owner("user-alice"), owner("user-bob"));
    let a = c
        .create_key(&app.db, &alice, KeyAlgorithm::P256, &pin("482915"))
        .await
        .unwrap();
    let b = c
        .create_key(&app.db, &bob, KeyAlgorithm::P256, &pin("731604"))
        .await
        .unwrap();
    let a2 = c
        .create_key(&app.db, &alice, KeyAlgorithm::P256, &pin("482915"))
        .await
        .unwrap();

    // 1. Alice's PIN slot copied over Bob's: neither PIN opens Bob's key now.
    let a_slot = store::custody::find_slot(&app.db, &a.id.to_string(), "pin")
        .await
        .unwrap()
        .unwrap();
    exec(&app, "UPDATE custody_key_slots SET wrapped = $1, kms_key_id = $2 WHERE custody_key_id = $3 AND slot = 'pin'",
        vec![a_slot.wrapped.clone().into(), a_slot.kms_key_id.clone().into(), b.id.to_string().into()]).await;
    for p in ["482915", "731604"] {
        let err = c
            .activate_with_pin(&app.db, &bob, b.id, &pin(p), None)
            .await
            .unwrap_err();
        assert!(matches!(err, CustodyError::WrongPin), "{p}: {err:?}");
    }
    // 2. Alice's PIN slot copied to her other key (same owner, same PIN): still refused.
    exec(&app, "UPDATE custody_key_slots SET wrapped = $1, kms_key_id = $2 WHERE custody_key_id = $3 AND slot = 'pin'",
        vec![a_slot.wrapped.clone().into(), a_slot.kms_key_id.clone().into(), a2.id.to_string().into()]).await;
    let err = c
        .activate_with_pin(&app.db, &alice, a2.id, &pin("482915"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CustodyError::WrongPin), "{err:?}");

    // 3. A sealed private key moved to another owner's row fails its integrity check even
    //    though that owner's PIN opens the data key... of a different key: refused.
    let c2 = c
        .create_key(&app.db, &bob, KeyAlgorithm::P256, &pin("731604"))
        .await
        .unwrap();
    let sealed_a = sealed_of(&app, a.id).await;
    exec(
        &app,
        "UPDATE custody_keys SET sealed_private = $1 WHERE id = $2",
        vec![sealed_a.into(), c2.id.to_string().into()],
    )
    .await;
    let err = c
        .activate_with_pin(&app.db, &bob, c2.id, &pin("731604"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CustodyError::Integrity), "{err:?}");
    assert!(audit_actions(&app, Action::KeyActivationFailed).await >= 4);

    // The untouched key still works.
    c.activate_with_pin(&app.db, &alice, a.id, &pin("482915"), None)
        .await
        .unwrap();
}

/// Nothing in the database lets anyone check a PIN offline: no column holds the PIN or a hash
/// of it, and with the database but another KMS, the right PIN fails exactly like a wrong one.
async fn the_database_holds_no_pin_verifier(engine: Engine, backend: Backend) {
    let app = spawn_custody_app(engine, backend).await;
    let c = &app.custody;
    let carol = owner("user-carol");
    let the_pin = "582047";
    let key = c
        .create_key(&app.db, &carol, KeyAlgorithm::P256, &pin(the_pin))
        .await
        .unwrap();
    c.change_pin(&app.db, &carol, key.id, &pin(the_pin), &pin("582048"))
        .await
        .unwrap();
    c.change_pin(&app.db, &carol, key.id, &pin("582048"), &pin(the_pin))
        .await
        .unwrap();

    // Every byte of every custody and audit row.
    let backend_db = app.db.get_database_backend();
    let mut blobs: Vec<Vec<u8>> = Vec::new();
    for (table, cols) in [
        (
            "custody_keys",
            "id, owner_id, algorithm, public_key, sealed_private",
        ),
        (
            "custody_key_slots",
            "custody_key_id, slot, kms_key_id, wrapped",
        ),
        (
            "audit_events",
            "actor_id, action, subject, details, prev_hash, hash",
        ),
    ] {
        let rows = app
            .db
            .query_all_raw(Statement::from_string(
                backend_db,
                format!("SELECT {cols} FROM {table}"),
            ))
            .await
            .unwrap();
        for row in rows {
            for i in 0..cols.split(',').count() {
                if let Ok(b) = row.try_get_by_index::<Vec<u8>>(i) {
                    blobs.push(b);
                } else if let Ok(Some(s)) = row.try_get_by_index::<Option<String>>(i) {
                    blobs.push(s.into_bytes());
                }
            }
        }
    }
    assert!(blobs.len() > 10);
    let sha = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, the_pin.as_bytes());
    let needles: Vec<Vec<u8>> = vec![
        the_pin.as_bytes().to_vec(),
        sha.as_ref().to_vec(),
        hex::encode(sha.as_ref()).into_bytes(),
    ];
    for blob in &blobs {
        for needle in &needles {
            assert!(
                !blob.windows(needle.len()).any(|w| w == needle.as_slice()),
                "a stored value contains the PIN or its hash"
            );
        }
    }

    // The same database under another KMS: right and wrong PINs fail the same way, so the
    // database by itself answers no guess.
    let other_dir = tempfile::tempdir().unwrap();
    let other_kms: Arc<dyn kms::Kms> = match backend {
        Backend::Local => {
            Arc::new(LocalKms::open_or_create(&other_dir.path().join("ring.json")).unwrap())
        }
        Backend::Aws => Arc::new(
            kms::aws::AwsKms::connect(&moto_kms_settings(&moto_url()).await)
                .await
                .unwrap(),
        ),
    };
    let stranger = Custody::new(
        other_kms,
        &app.settings.custody,
        Arc::new(app.clock.clone()),
    );
    let right = stranger
        .activate_with_pin(&app.db, &carol, key.id, &pin(the_pin), None)
        .await
        .unwrap_err();
    let wrong = stranger
        .activate_with_pin(&app.db, &carol, key.id, &pin("111112"), None)
        .await
        .unwrap_err();
    assert_eq!(format!("{right:?}"), format!("{wrong:?}"));
    assert!(matches!(right, CustodyError::WrongPin));
    // And the real KMS still opens it with the right PIN.
    c.activate_with_pin(&app.db, &carol, key.id, &pin(the_pin), None)
        .await
        .unwrap();
}

/// Changing the PIN needs the old one; afterwards only the new one works, the key is the same.
async fn pin_change_rewraps_the_data_key(engine: Engine, backend: Backend) {
    let app = spawn_custody_app(engine, backend).await;
    let c = &app.custody;
    let dan = owner("user-dan");
    let key = c
        .create_key(&app.db, &dan, KeyAlgorithm::Rsa2048, &pin("482915"))
        .await
        .unwrap();
    let sealed_before = sealed_of(&app, key.id).await;
    let err = c
        .change_pin(&app.db, &dan, key.id, &pin("999998"), &pin("604172"))
        .await
        .unwrap_err();
    assert!(matches!(err, CustodyError::WrongPin));
    c.activate_with_pin(&app.db, &dan, key.id, &pin("482915"), None)
        .await
        .unwrap();

    c.change_pin(&app.db, &dan, key.id, &pin("482915"), &pin("604172"))
        .await
        .unwrap();
    assert!(matches!(
        c.activate_with_pin(&app.db, &dan, key.id, &pin("482915"), None)
            .await
            .unwrap_err(),
        CustodyError::WrongPin
    ));
    let act = c
        .activate_with_pin(&app.db, &dan, key.id, &pin("604172"), None)
        .await
        .unwrap();
    let sig = c
        .sign(&dan, act.id, SignatureScheme::RsaPkcs1Sha256, b"m")
        .unwrap();
    assert!(openssl_verify(
        SignatureScheme::RsaPkcs1Sha256,
        &key.public_key_der,
        b"m",
        &sig
    ));
    assert_eq!(
        sealed_of(&app, key.id).await,
        sealed_before,
        "the private key itself is not re-sealed"
    );
    assert_eq!(audit_actions(&app, Action::PinChanged).await, 1);
}

/// A passkey gets its own copy, bound to its credential; other credentials and moved copies
/// do not open; unbinding removes it; the PIN keeps working throughout.
async fn passkeys_have_their_own_bound_copy(engine: Engine, backend: Backend) {
    let app = spawn_custody_app(engine, backend).await;
    let c = &app.custody;
    let erin = owner("user-erin");
    let key = c
        .create_key(&app.db, &erin, KeyAlgorithm::P256, &pin("482915"))
        .await
        .unwrap();
    let cred = b"credential-id-of-erins-phone".as_slice();
    let other = b"credential-id-of-someone-else".as_slice();

    let err = c
        .bind_passkey(&app.db, &erin, key.id, &pin("000001"), cred)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CustodyError::WrongPin),
        "binding needs the PIN"
    );
    c.bind_passkey(&app.db, &erin, key.id, &pin("482915"), cred)
        .await
        .unwrap();
    assert!(matches!(
        c.bind_passkey(&app.db, &erin, key.id, &pin("482915"), cred)
            .await
            .unwrap_err(),
        CustodyError::PasskeyAlreadyBound
    ));

    let act = c
        .activate_with_passkey(&app.db, &erin, key.id, cred, Some(1))
        .await
        .unwrap();
    let sig = c
        .sign(
            &erin,
            act.id,
            SignatureScheme::EcdsaP256Sha256,
            b"login nonce",
        )
        .unwrap();
    assert!(openssl_verify(
        SignatureScheme::EcdsaP256Sha256,
        &key.public_key_der,
        b"login nonce",
        &sig
    ));
    assert!(matches!(
        c.activate_with_passkey(&app.db, &erin, key.id, other, None)
            .await
            .unwrap_err(),
        CustodyError::PasskeyNotBound
    ));

    // The bound copy moved under another credential's slot name does not open for it.
    let slot = store::custody::find_slot(&app.db, &key.id.to_string(), &Slot::passkey(cred).name())
        .await
        .unwrap()
        .unwrap();
    store::custody::insert_slot(
        &app.db,
        &store::custody::SlotRow {
            slot: Slot::passkey(other).name(),
            ..slot
        },
        app.clock.now(),
    )
    .await
    .unwrap();
    assert!(matches!(
        c.activate_with_passkey(&app.db, &erin, key.id, other, None)
            .await
            .unwrap_err(),
        CustodyError::PasskeyNotBound
    ));

    // A PIN change leaves the passkey copy working.
    c.change_pin(&app.db, &erin, key.id, &pin("482915"), &pin("604172"))
        .await
        .unwrap();
    c.activate_with_passkey(&app.db, &erin, key.id, cred, None)
        .await
        .unwrap();

    c.unbind_passkey(&app.db, &erin, key.id, cred)
        .await
        .unwrap();
    assert!(matches!(
        c.activate_with_passkey(&app.db, &erin, key.id, cred, None)
            .await
            .unwrap_err(),
        CustodyError::PasskeyNotBound
    ));
    assert_eq!(audit_actions(&app, Action::PasskeyBound).await, 1);
    assert_eq!(audit_actions(&app, Action::PasskeyUnbound).await, 1);
}

/// Activations end by count, by time and on shutdown; an ended activation signs nothing.
async fn activations_are_bounded(engine: Engine, backend: Backend) {
    let app = spawn_custody_app(engine, backend).await;
    let c = &app.custody;
    let fay = owner("user-fay");
    let key = c
        .create_key(&app.db, &fay, KeyAlgorithm::P256, &pin("482915"))
        .await
        .unwrap();
    let s = SignatureScheme::EcdsaP256Sha256;

    let act = c
        .activate_with_pin(&app.db, &fay, key.id, &pin("482915"), Some(2))
        .await
        .unwrap();
    c.sign(&fay, act.id, s, b"1").unwrap();
    c.sign(&fay, act.id, s, b"2").unwrap();
    assert!(matches!(
        c.sign(&fay, act.id, s, b"3").unwrap_err(),
        CustodyError::Activation(ActivationError::NotFound)
    ));

    let act = c
        .activate_with_pin(&app.db, &fay, key.id, &pin("482915"), None)
        .await
        .unwrap();
    assert_eq!(
        act.remaining,
        app.settings.custody.activation_max_signatures
    );
    app.clock.advance(Duration::seconds(
        i64::try_from(app.settings.custody.activation_ttl_secs).unwrap(),
    ));
    assert!(matches!(
        c.sign(&fay, act.id, s, b"late").unwrap_err(),
        CustodyError::Activation(ActivationError::Expired)
    ));

    c.activate_with_pin(&app.db, &fay, key.id, &pin("482915"), None)
        .await
        .unwrap();
    assert_eq!(c.activations().len(), 1);
    app.stop().await;
    // run_until_stopped wipes activations once the server has stopped.
    for _ in 0..50 {
        if c.activations().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        c.activations().is_empty(),
        "shutdown wipes every activated key"
    );
}

/// Five consecutive wrong PINs lock the PIN; a right one before that resets the count; once
/// locked even the right PIN is refused (423), every attempt audited.
async fn five_wrong_pins_lock(engine: Engine, backend: Backend) {
    let app = spawn_custody_app(engine, backend).await;
    let c = &app.custody;
    let ko = owner("user-ko");
    let key = c
        .create_key(&app.db, &ko, KeyAlgorithm::P256, &pin("482915"))
        .await
        .unwrap();
    let kid = key.id.to_string();
    for _ in 0..4 {
        assert!(matches!(
            c.activate_with_pin(&app.db, &ko, key.id, &pin("000001"), None)
                .await
                .unwrap_err(),
            CustodyError::WrongPin
        ));
    }
    assert_eq!(
        store::custody::pin_state(&app.db, &kid).await.unwrap(),
        (4, false)
    );
    c.activate_with_pin(&app.db, &ko, key.id, &pin("482915"), None)
        .await
        .unwrap();
    assert_eq!(
        store::custody::pin_state(&app.db, &kid).await.unwrap(),
        (0, false),
        "a success resets the count"
    );

    for _ in 0..5 {
        assert!(matches!(
            c.activate_with_pin(&app.db, &ko, key.id, &pin("000001"), None)
                .await
                .unwrap_err(),
            CustodyError::WrongPin
        ));
    }
    assert_eq!(
        store::custody::pin_state(&app.db, &kid).await.unwrap(),
        (5, true)
    );
    let err = c
        .activate_with_pin(&app.db, &ko, key.id, &pin("482915"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CustodyError::PinLocked), "{err:?}");
    let p = fincert::error::ApiError::from(err).problem();
    assert_eq!((p.status, p.code.as_str()), (423, "pin_locked"));
    // Every PIN path is locked, not only activation.
    assert!(matches!(
        c.change_pin(&app.db, &ko, key.id, &pin("482915"), &pin("604172"))
            .await
            .unwrap_err(),
        CustodyError::PinLocked
    ));
    assert!(matches!(
        c.bind_passkey(&app.db, &ko, key.id, &pin("482915"), b"cred")
            .await
            .unwrap_err(),
        CustodyError::PinLocked
    ));
    assert_eq!(audit_actions(&app, Action::PinLocked).await, 1);
    assert!(
        c.activations().len() <= 1,
        "only the one successful activation"
    );
}

custody_matrix!(
    five_wrong_pins_lock,
    create_activate_and_sign,
    wrong_pin_is_refused,
    swapped_blobs_do_not_open,
    the_database_holds_no_pin_verifier,
    pin_change_rewraps_the_data_key,
    passkeys_have_their_own_bound_copy,
    activations_are_bounded,
);

/// Many concurrent wrong PINs (as from several nodes): exactly five are tried, the rest are
/// refused as locked, and the right PIN afterwards is refused too.
async fn concurrent_wrong_pins_never_pass_the_limit(engine: Engine) {
    let app = spawn_custody_app(engine, Backend::Local).await;
    let ko = owner("user-race");
    let key = app
        .custody
        .create_key(&app.db, &ko, KeyAlgorithm::P256, &pin("482915"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (c, db, ko) = (app.custody.clone(), app.db.clone(), ko.clone());
        let wrong = format!("{:06}", 100_000 + i);
        tasks.push(tokio::spawn(async move {
            c.activate_with_pin(&db, &ko, key.id, &Pin::parse(&wrong).unwrap(), None)
                .await
        }));
    }
    let (mut wrong, mut locked) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Err(CustodyError::WrongPin) => wrong += 1,
            Err(CustodyError::PinLocked) => locked += 1,
            other => panic!("unexpected {:?}", other.map(|_| ())),
        }
    }
    assert_eq!((wrong, locked), (5, 15));
    assert!(matches!(
        app.custody
            .activate_with_pin(&app.db, &ko, key.id, &pin("482915"), None)
            .await
            .unwrap_err(),
        CustodyError::PinLocked
    ));
    assert_eq!(
        store::custody::pin_state(&app.db, &key.id.to_string())
            .await
            .unwrap(),
        (5, true)
    );
}

/// A locked PIN is undone by reissuance: a new key with a new PIN and its own count.
async fn reissue_is_the_way_out_of_a_locked_pin(engine: Engine) {
    use fincert::pki::{KeySource, profile::Usage};
    let app = spawn_app(engine).await;
    let who = owner("user-locked");
    let cert = cloud_cert("user-locked")
        .holder("이영희")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    for _ in 0..5 {
        let _ = app
            .custody
            .activate_with_pin(
                &app.db,
                &who,
                cert.custody_key_id.unwrap(),
                &pin("111112"),
                None,
            )
            .await;
    }
    let err = app
        .pki
        .renew(&app.db, &who, cert.id, KeySource::Cloud(&pin("482915")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            fincert::pki::PkiError::Custody(CustodyError::PinLocked)
                | fincert::pki::PkiError::Lifecycle(_)
        ),
        "{err:?}"
    );
    let new = app
        .pki
        .reissue(&app.db, &who, cert.id, KeySource::Cloud(&pin("604172")))
        .await
        .unwrap();
    app.custody
        .activate_with_pin(
            &app.db,
            &who,
            new.custody_key_id.unwrap(),
            &pin("604172"),
            None,
        )
        .await
        .unwrap();
}

crate::both_engines!(
    concurrent_wrong_pins_never_pass_the_limit,
    reissue_is_the_way_out_of_a_locked_pin
);
