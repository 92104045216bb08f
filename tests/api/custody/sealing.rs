//! Sealed keys: a generated key signs (checked by openssl) once its PIN opens it, a blob moved
//! to another key or owner does not open, and the database holds nothing that tests a PIN.

use std::sync::Arc;

use fincert::{
    audit::Action,
    config::Engine,
    custody::{
        Custody, CustodyError,
        keys::{KeyAlgorithm, SignatureScheme},
        kms::{self, local::LocalKms},
    },
    store,
};
use sea_orm::{ConnectionTrait, Statement};

use super::{audit_actions, exec, sealed_of};
use crate::helpers::*;

/// A key is generated, sealed and PIN-bound; the right PIN activates it and every signature
/// it makes verifies with openssl.
pub(super) async fn create_activate_and_sign(engine: Engine, backend: Backend) {
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

/// Sealed keys and slot blobs copied to another owner or another key do not open.
pub(super) async fn swapped_blobs_do_not_open(engine: Engine, backend: Backend) {
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
        assert!(matches!(err, CustodyError::WrongPin { .. }), "{p}: {err:?}");
    }
    // 2. Alice's PIN slot copied to her other key (same owner, same PIN): still refused.
    exec(&app, "UPDATE custody_key_slots SET wrapped = $1, kms_key_id = $2 WHERE custody_key_id = $3 AND slot = 'pin'",
        vec![a_slot.wrapped.clone().into(), a_slot.kms_key_id.clone().into(), a2.id.to_string().into()]).await;
    let err = c
        .activate_with_pin(&app.db, &alice, a2.id, &pin("482915"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CustodyError::WrongPin { .. }), "{err:?}");

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
pub(super) async fn the_database_holds_no_pin_verifier(engine: Engine, backend: Backend) {
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
        Backend::Pkcs11 => Arc::new(
            kms::pkcs11::Pkcs11Kms::connect(&SoftHsm::from_env().other_kms_settings())
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
    // Both are counted wrong PINs, one after the other (the count is all that differs).
    assert!(
        matches!(
            right,
            CustodyError::WrongPin {
                tries_left: Some(4)
            }
        ),
        "{right:?}"
    );
    assert!(
        matches!(
            wrong,
            CustodyError::WrongPin {
                tries_left: Some(3)
            }
        ),
        "{wrong:?}"
    );
    // And the real KMS still opens it with the right PIN.
    c.activate_with_pin(&app.db, &carol, key.id, &pin(the_pin), None)
        .await
        .unwrap();
}
