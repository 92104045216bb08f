//! The `pkcs11` KMS backend against SoftHSM2: the KMS contract, keys that cannot leave the
//! token, signing through the service, and a token pulled mid-run. Each test runs in a process
//! of its own on a token of its own (`hsm_tests!`, see `helpers/softhsm.rs`).

use fincert::custody::kms::{Kms, KmsError, WrappedKey, contract, pkcs11::Pkcs11Kms};

use crate::{helpers::*, hsm_tests};

async fn the_kms_contract_holds_on_the_hsm(hsm: SoftHsm) {
    let kms = Pkcs11Kms::connect(&hsm.kms_settings()).await.unwrap();
    assert_eq!(kms.backend(), "pkcs11");
    assert_eq!(kms.current_key_id(), "pkcs11:fincert-wrap");
    contract::run(&kms).await.unwrap();
    let ctx = fincert::custody::kms::EncryptionContext::new().with("fincert:owner", "u1");
    let wrapped = kms.encrypt(b"data key", &ctx).await.unwrap();
    // Blobs of another backend or naming a key the token lacks do not open.
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
    // Pull the token.
    hsm.pull();
    let got = kms.decrypt(&wrapped, &ctx).await;
    eprintln!("after pull: decrypt {:?}", got.as_ref().map(|_| "plaintext"));
    eprintln!("after pull: probe {:?}", kms.probe().await);
    eprintln!("after pull: mac {:?}", kms.mac(b"x").await.map(|_| "mac"));
    hsm.put_back();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    eprintln!("after put back: probe {:?}", kms.probe().await);
    let got = kms.decrypt(&wrapped, &ctx).await;
    eprintln!("after put back: decrypt {:?}", got.as_ref().map(|_| "plaintext"));
}

hsm_tests!(the_kms_contract_holds_on_the_hsm);
