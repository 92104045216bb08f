//! AES-256-GCM sealing under a data key: the sealed PKCS#8 of every private key, and the inner
//! layer of every slot copy of a data key. Format: `nonce (12) ‖ ciphertext ‖ tag (16)`.
//! The associated data names what the blob belongs to, so a blob moved to another owner, key or
//! slot does not open.

use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    hkdf,
    rand::{SecureRandom, SystemRandom},
};
use zeroize::Zeroizing;

use super::kms::{DATA_KEY_LEN, DataKey};

/// Sealing failures; `Open` covers every reason a blob does not open (wrong key, wrong
/// associated data, tampering) without saying which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The blob does not open with this key and associated data.
    #[error("sealed blob does not open")]
    Open,
    /// aws-lc or the random source failed.
    #[error("sealing failed")]
    Seal,
}

fn key(data_key: &[u8; DATA_KEY_LEN]) -> Result<LessSafeKey, SealError> {
    UnboundKey::new(&AES_256_GCM, data_key)
        .map(LessSafeKey::new)
        .map_err(|_| SealError::Seal)
}

/// Seals `plaintext` under `data_key` with associated data `aad`.
pub fn seal(data_key: &DataKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| SealError::Seal)?;
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = key(data_key)?
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[NONCE_LEN..],
        )
        .map_err(|_| SealError::Seal)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens a blob made by [`seal`] with the same key and associated data.
pub fn open(
    data_key: &DataKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(SealError::Open);
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&sealed[..NONCE_LEN]);
    let mut buf = Zeroizing::new(sealed[NONCE_LEN..].to_vec());
    let len = key(data_key)?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            buf.as_mut(),
        )
        .map_err(|_| SealError::Open)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// Derives a slot key from a KMS MAC (HKDF-SHA256), for the inner layer of a slot copy.
pub fn slot_key(mac: &[u8]) -> Result<DataKey, SealError> {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            DATA_KEY_LEN
        }
    }
    let mut out = Zeroizing::new([0u8; DATA_KEY_LEN]);
    hkdf::Salt::new(hkdf::HKDF_SHA256, b"fincert-slot-key-v1")
        .extract(mac)
        .expand(&[b"aes-256-gcm"], Len)
        .and_then(|okm| okm.fill(out.as_mut()))
        .map_err(|_| SealError::Seal)?;
    Ok(out)
}

/// Length-prefixed concatenation: unambiguous associated data and MAC messages.
pub fn framed(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dk(b: u8) -> DataKey {
        Zeroizing::new([b; DATA_KEY_LEN])
    }

    #[test]
    fn opens_only_with_the_same_key_and_aad() {
        let blob = seal(&dk(1), b"owner-1|key-1", b"pkcs8 bytes").unwrap();
        assert_eq!(
            open(&dk(1), b"owner-1|key-1", &blob).unwrap().as_slice(),
            b"pkcs8 bytes"
        );
        assert_eq!(
            open(&dk(2), b"owner-1|key-1", &blob).unwrap_err(),
            SealError::Open
        );
        assert_eq!(
            open(&dk(1), b"owner-2|key-1", &blob).unwrap_err(),
            SealError::Open
        );
        let mut tampered = blob.clone();
        tampered[NONCE_LEN] ^= 1;
        assert_eq!(
            open(&dk(1), b"owner-1|key-1", &tampered).unwrap_err(),
            SealError::Open
        );
        assert_eq!(open(&dk(1), b"", &[0u8; 5]).unwrap_err(), SealError::Open);
    }

    #[test]
    fn nonces_are_fresh() {
        assert_ne!(
            seal(&dk(1), b"", b"x").unwrap(),
            seal(&dk(1), b"", b"x").unwrap()
        );
    }

    #[test]
    fn framing_is_unambiguous_and_slot_keys_differ_by_mac() {
        assert_ne!(framed(&[b"ab", b"c"]), framed(&[b"a", b"bc"]));
        assert_ne!(
            slot_key(b"mac-1").unwrap().as_ref(),
            slot_key(b"mac-2").unwrap().as_ref()
        );
    }
}
