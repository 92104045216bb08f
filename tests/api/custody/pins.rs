//! PIN binding: a wrong PIN is refused and audited, a PIN change re-wraps the data key, five
//! wrong PINs lock (also when they race), and reissue is the way out of a locked PIN.

use fincert::{
    audit::Action,
    config::Engine,
    custody::{
        CustodyError,
        keys::{KeyAlgorithm, SignatureScheme},
    },
    domain::pin::Pin,
    error::{ApiError, ErrorCode},
    store,
};

use super::{audit_actions, sealed_of};
use crate::helpers::*;

/// A wrong PIN does not activate the key, is audited, and leaves no activation.
pub(super) async fn wrong_pin_is_refused(engine: Engine, backend: Backend) {
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
        assert!(matches!(err, CustodyError::WrongPin { .. }), "{err:?}");
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

/// Changing the PIN needs the old one; afterwards only the new one works, the key is the same.
pub(super) async fn pin_change_rewraps_the_data_key(engine: Engine, backend: Backend) {
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
    assert!(matches!(err, CustodyError::WrongPin { .. }));
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
        CustodyError::WrongPin { .. }
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

/// Five consecutive wrong PINs lock the PIN; a right one before that resets the count; once
/// locked even the right PIN is refused (423), every attempt audited.
pub(super) async fn five_wrong_pins_lock(engine: Engine, backend: Backend) {
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
            CustodyError::WrongPin { .. }
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
            CustodyError::WrongPin { .. }
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
    let p = ApiError::from(err).problem();
    assert_eq!((p.status, &p.code), (423, &ErrorCode::PinLocked));
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

/// Many concurrent wrong PINs (as from several nodes): exactly five are tried, the rest are
/// refused as locked, and the right PIN afterwards is refused too.
pub(super) async fn concurrent_wrong_pins_never_pass_the_limit(engine: Engine) {
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
            Err(CustodyError::WrongPin { .. }) => wrong += 1,
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
pub(super) async fn reissue_is_the_way_out_of_a_locked_pin(engine: Engine) {
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
