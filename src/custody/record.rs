//! Activation records: an authorization that lives in the cluster, not in one node's memory.
//!
//! A CSC `credentials/authorize` checks the PIN once and returns a SAD (256 random bits). The
//! data key the PIN opened is kept, for the authorization's window only, as an *activation
//! record* in the SAD's row:
//!
//! ```text
//!   DK (data key of the custody key, plaintext only in memory)
//!     └─ KMS.Encrypt(DK, context{owner, key, activation, expires})      = blob   (one KMS call)
//!          └─ AES-256-GCM(K_sad, framed(kms key id, blob), aad = context) = record
//!               K_sad = HKDF-SHA256(salt "fincert-activation-record-v1", ikm = SAD, info = activation)
//!   csc_sads row: SHA-256(SAD) (lookup), record, owner, key, activation, expiry — never the SAD
//! ```
//!
//! A node that meets a SAD it does not hold derives `K_sad` from the SAD in the request, opens
//! the outer layer, asks KMS to unwrap the data key (the context must match: owner, key,
//! activation and expiry are those of the row), opens the sealed private key with it, parses
//! it once off the async workers, and keeps it for the rest of the window. Extending the
//! transaction re-seals only the outer layer under the new SAD (no KMS call).
//!
//! **Threat model.**
//! - *Database dump* (or a read-only SQL injection): the record needs `K_sad`, derived from a
//!   SAD the database never holds (only its SHA-256, which gives nothing: the SAD is 256
//!   random bits), and then KMS. Nothing opens.
//! - *KMS access without the SAD* (stolen node credentials, an insider with `kms:Decrypt`):
//!   the KMS blob is inside the SAD layer, so KMS access plus a database dump still opens
//!   nothing live. Past the window the record is useless anyway: the expiry is in the context
//!   and the row's expiry is checked before KMS is asked.
//! - *Stolen SAD* (from the institution's logs or memory): signs only the hashes it
//!   authorizes, each once across the cluster, only with that institution's token, until it
//!   expires (five minutes by default) — exactly the power a SAD has by the CSC design.
//! - *Record moved* to another SAD, key or owner: `K_sad` differs (another SAD), or the KMS
//!   context and the AEAD associated data differ (another key, owner, activation or expiry):
//!   it does not open.
//! - *Node compromise*: an attacker on a node sees the keys activated there while it is
//!   compromised and the SADs passing through; no PIN, no dormant key and no other node's
//!   activation. This is the same exposure as any process that signs, and why the window is
//!   short and every activation is audited.

use aws_lc_rs::hkdf;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    OwnerId,
    kms::{DATA_KEY_LEN, DataKey, EncryptionContext, WrappedKey},
    sealed::{self, SealError, framed},
};

/// What an activation record belongs to: every part is in its KMS context and AEAD data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOf {
    /// The key's owner.
    pub owner: OwnerId,
    /// The custody key.
    pub key_id: Uuid,
    /// The activation (stable across `extendTransaction`).
    pub activation: Uuid,
    /// When the authorization ends.
    pub expires_at: DateTime<Utc>,
}

impl RecordOf {
    /// Its encryption context.
    pub fn context(&self) -> EncryptionContext {
        context(&self.owner, self.key_id, self.activation, self.expires_at)
    }
}

/// The KMS encryption context of an activation record (also its AEAD associated data).
pub fn context(
    owner: &OwnerId,
    key_id: Uuid,
    activation: Uuid,
    expires_at: DateTime<Utc>,
) -> EncryptionContext {
    EncryptionContext::new()
        .with("fincert:owner", owner.as_str())
        .with("fincert:key", key_id.to_string())
        .with("fincert:activation", activation.to_string())
        .with("fincert:expires", expires_at.timestamp().to_string())
}

/// `K_sad`: the record's outer key, derived from the SAD's random bytes and the activation.
pub fn sad_key(sad: &[u8], activation: Uuid) -> Result<DataKey, SealError> {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            DATA_KEY_LEN
        }
    }
    let mut out = Zeroizing::new([0u8; DATA_KEY_LEN]);
    hkdf::Salt::new(hkdf::HKDF_SHA256, b"fincert-activation-record-v1")
        .extract(sad)
        .expand(&[activation.as_bytes()], Len)
        .and_then(|okm| okm.fill(out.as_mut()))
        .map_err(|_| SealError::Seal)?;
    Ok(out)
}

/// Seals a KMS-wrapped data key under `K_sad`.
pub fn seal(
    sad_key: &DataKey,
    context: &EncryptionContext,
    wrapped: &WrappedKey,
) -> Result<Vec<u8>, SealError> {
    sealed::seal(
        sad_key,
        &context.canonical(),
        &framed(&[wrapped.kms_key_id.as_bytes(), &wrapped.blob]),
    )
}

/// Opens the outer layer: the KMS-wrapped data key, still to be unwrapped by KMS.
pub fn open(
    sad_key: &DataKey,
    context: &EncryptionContext,
    record: &[u8],
) -> Result<WrappedKey, SealError> {
    let inner = sealed::open(sad_key, &context.canonical(), record)?;
    let mut parts = unframe(&inner).ok_or(SealError::Open)?;
    let (Some(blob), Some(id), None) = (parts.pop(), parts.pop(), parts.pop()) else {
        return Err(SealError::Open);
    };
    Ok(WrappedKey {
        kms_key_id: String::from_utf8(id.to_vec()).map_err(|_| SealError::Open)?,
        blob: blob.to_vec(),
    })
}

/// The parts of a [`framed`] message.
fn unframe(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut parts = Vec::new();
    while !bytes.is_empty() {
        let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let part = bytes.get(4..4 + len)?;
        parts.push(part);
        bytes = &bytes[4 + len..];
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(s: &str) -> OwnerId {
        OwnerId::parse(s).unwrap()
    }

    #[test]
    fn a_record_opens_only_with_its_sad_and_context() {
        let (key, act) = (Uuid::new_v4(), Uuid::new_v4());
        let exp = DateTime::from_timestamp(1_800_000_300, 0).unwrap();
        let ctx = context(&owner("u1"), key, act, exp);
        let wrapped = WrappedKey {
            kms_key_id: "local:k1".into(),
            blob: vec![7u8; 60],
        };
        let k = sad_key(b"sad-one-32-bytes-of-randomness!!", act).unwrap();
        let record = seal(&k, &ctx, &wrapped).unwrap();
        assert_eq!(open(&k, &ctx, &record).unwrap(), wrapped);

        let other_sad = sad_key(b"sad-two-32-bytes-of-randomness!!", act).unwrap();
        assert_eq!(open(&other_sad, &ctx, &record), Err(SealError::Open));
        let other_activation =
            sad_key(b"sad-one-32-bytes-of-randomness!!", Uuid::new_v4()).unwrap();
        assert_eq!(open(&other_activation, &ctx, &record), Err(SealError::Open));
        for moved in [
            context(&owner("u2"), key, act, exp),
            context(&owner("u1"), Uuid::new_v4(), act, exp),
            context(&owner("u1"), key, Uuid::new_v4(), exp),
            context(&owner("u1"), key, act, exp + chrono::Duration::seconds(1)),
        ] {
            assert_eq!(open(&k, &moved, &record), Err(SealError::Open));
        }
        let mut tampered = record.clone();
        tampered[20] ^= 1;
        assert_eq!(open(&k, &ctx, &tampered), Err(SealError::Open));
    }

    #[test]
    fn unframe_refuses_truncated_input() {
        assert_eq!(
            unframe(&framed(&[b"a", b"bc"])).unwrap(),
            vec![&b"a"[..], b"bc"]
        );
        assert!(unframe(&[0, 0, 0, 5, 1]).is_none());
        assert!(unframe(&[0, 0]).is_none());
    }
}
