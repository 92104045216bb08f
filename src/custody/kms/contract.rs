//! The behaviour every [`Kms`] backend must show, as one suite the local backend runs in unit
//! tests and the AWS backend runs against moto. It reports the first failed expectation as an
//! error instead of panicking, so it can live in the library.

use super::{EncryptionContext, Kms, KmsError};

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// Runs the suite against `kms`.
pub async fn run(kms: &dyn Kms) -> Result<(), String> {
    let e = |e: KmsError| e.to_string();
    let ctx = EncryptionContext::new()
        .with("fincert:owner", "user-1")
        .with("fincert:key", "key-1")
        .with("fincert:slot", "pin");

    // Data keys are 256-bit and fresh every time.
    let a = kms.generate_data_key(&ctx).await.map_err(e)?;
    let b = kms.generate_data_key(&ctx).await.map_err(e)?;
    ensure!(a.as_ref() != b.as_ref(), "two data keys are equal");
    ensure!(a.iter().any(|x| *x != 0), "data key is all zeroes");

    // Round trip under the same context, tagged with the current key.
    let wrapped = kms.encrypt(a.as_ref(), &ctx).await.map_err(e)?;
    ensure!(
        wrapped.kms_key_id == kms.current_key_id(),
        "wrapped under {} not the current key {}",
        wrapped.kms_key_id,
        kms.current_key_id()
    );
    ensure!(
        !wrapped.blob.windows(a.len()).any(|w| w == a.as_ref()),
        "the blob contains the plaintext"
    );
    let opened = kms.decrypt(&wrapped, &ctx).await.map_err(e)?;
    ensure!(
        opened.as_slice() == a.as_ref(),
        "round trip changed the plaintext"
    );

    // Any other context fails, with InvalidCiphertext (not Unavailable).
    let others = [
        EncryptionContext::new(),
        ctx.clone().with("fincert:slot", "passkey:x"),
        ctx.clone().with("fincert:owner", "user-2"),
        ctx.clone().with("extra", "1"),
    ];
    for other in &others {
        let got = kms.decrypt(&wrapped, other).await;
        ensure!(
            got == Err(KmsError::InvalidCiphertext),
            "decrypt under context {other:?} gave {:?}",
            got.map(|_| "plaintext")
        );
    }

    // A changed blob fails.
    let mut tampered = wrapped.clone();
    if let Some(last) = tampered.blob.last_mut() {
        *last ^= 0x01;
    }
    let got = kms.decrypt(&tampered, &ctx).await;
    ensure!(
        got == Err(KmsError::InvalidCiphertext),
        "tampered blob gave {:?}",
        got.map(|_| "plaintext")
    );

    // re_encrypt keeps the context binding and the plaintext.
    let moved = kms.re_encrypt(&wrapped, &ctx).await.map_err(e)?;
    ensure!(
        moved.kms_key_id == kms.current_key_id(),
        "re_encrypt did not target the current key"
    );
    let opened = kms.decrypt(&moved, &ctx).await.map_err(e)?;
    ensure!(
        opened.as_slice() == a.as_ref(),
        "re_encrypt changed the plaintext"
    );
    let got = kms.re_encrypt(&wrapped, &others[2]).await;
    ensure!(
        got == Err(KmsError::InvalidCiphertext),
        "re_encrypt under a wrong context gave {got:?}"
    );

    // MACs are deterministic, 32 bytes, message-bound, and verify in constant time.
    let m1 = kms
        .mac(b"fincert-pin-v1|user-1|key-1|123456")
        .await
        .map_err(e)?;
    let m2 = kms
        .mac(b"fincert-pin-v1|user-1|key-1|123456")
        .await
        .map_err(e)?;
    let m3 = kms
        .mac(b"fincert-pin-v1|user-1|key-1|123457")
        .await
        .map_err(e)?;
    ensure!(m1.len() == 32, "MAC is {} bytes", m1.len());
    ensure!(m1 == m2, "MAC is not deterministic");
    ensure!(m1 != m3, "different messages share a MAC");
    ensure!(
        kms.verify_mac(b"fincert-pin-v1|user-1|key-1|123456", &m1)
            .await
            .map_err(e)?,
        "verify_mac refuses a good MAC"
    );
    ensure!(
        !kms.verify_mac(b"fincert-pin-v1|user-1|key-1|123457", &m1)
            .await
            .map_err(e)?,
        "verify_mac accepts a MAC of another message"
    );
    Ok(())
}
