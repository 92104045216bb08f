//! Passkey slots (their own copy of the data key, bound to the credential) and activations
//! (bounded in time and uses, owned by one user).

use chrono::Duration;
use fincert::{
    audit::Action,
    clock::Clock,
    config::Engine,
    custody::{
        CustodyError, Slot,
        activation::ActivationError,
        keys::{KeyAlgorithm, SignatureScheme},
    },
    store,
};

use super::audit_actions;
use crate::helpers::*;

/// A passkey gets its own copy, bound to its credential; other credentials and moved copies
/// do not open; unbinding removes it; the PIN keeps working throughout.
pub(super) async fn passkeys_have_their_own_bound_copy(engine: Engine, backend: Backend) {
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
        matches!(err, CustodyError::WrongPin { .. }),
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
            slot: Slot::passkey(other),
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
pub(super) async fn activations_are_bounded(engine: Engine, backend: Backend) {
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
