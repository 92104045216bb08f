//! Signed checkpoints of the chain head: what a checkpoint says, the exact bytes its signature
//! covers, how checkpoints chain to each other, and the walk that checks that chain
//! ([`CheckpointVerifier`]). Pure: signing is done by `checkpoints` (with the audit key),
//! storage by `store::checkpoints`.
//!
//! ```text
//!   checkpoint n  = { seq n, event_seq S, head_hash H(S), signed_at, prev, key_id }
//!   message n     = "fincert-audit-checkpoint-v1\n" ‖ JSON [n, S, hex H(S), signed_at, hex prev, key_id]
//!   signature n   = ECDSA P-256 / SHA-256 (DER) of message n, by the audit key key_id
//!   prev of n + 1 = SHA-256("fincert-audit-checkpoint-link-v1" ‖ message n ‖ signature n)
//!   prev of 1     = 32 zero bytes
//! ```
//!
//! Without the audit key (inside KMS, or sealed by custody) nobody can make a checkpoint, so a
//! rewrite of the events (a recomputed chain, a truncated tail with its head moved back) no
//! longer verifies against the checkpoints signed before it; and because each checkpoint names
//! its predecessor's signature, a checkpoint removed from the middle breaks the next one.

use aws_lc_rs::{
    digest,
    signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey},
};
use chrono::{DateTime, SecondsFormat, Utc};

use super::{Break, GENESIS, HASH_LEN};

const MESSAGE_DOMAIN: &[u8] = b"fincert-audit-checkpoint-v1\n";
const LINK_DOMAIN: &[u8] = b"fincert-audit-checkpoint-link-v1";

/// One signed checkpoint of the chain head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Position among checkpoints, from 1, without gaps.
    pub seq: i64,
    /// The last event it covers (the head's seq when it was signed).
    pub event_seq: i64,
    /// The hash of that event (the head's hash).
    pub head_hash: Vec<u8>,
    /// When it was signed (microsecond precision).
    pub signed_at: DateTime<Utc>,
    /// The link to the previous checkpoint ([`Checkpoint::link`]), genesis for the first.
    pub prev: Vec<u8>,
    /// The audit key that signed it ([`key_id_of`] its public key).
    pub key_id: String,
    /// ECDSA P-256 SHA-256 signature (DER) of [`Checkpoint::message`].
    pub signature: Vec<u8>,
}

impl Checkpoint {
    /// The checkpoint after `prev` (the first when `None`) for the head `(event_seq,
    /// head_hash)`, not yet signed.
    pub fn next(
        prev: Option<&Checkpoint>,
        event_seq: i64,
        head_hash: &[u8],
        signed_at: DateTime<Utc>,
        key_id: &str,
    ) -> Self {
        let (seq, link) = match prev {
            Some(p) => (p.seq + 1, p.link().to_vec()),
            None => (1, GENESIS.to_vec()),
        };
        // Stored with microsecond precision: sign exactly what will be read back.
        let signed_at =
            DateTime::from_timestamp_micros(signed_at.timestamp_micros()).unwrap_or(signed_at);
        Self {
            seq,
            event_seq,
            head_hash: head_hash.to_vec(),
            signed_at,
            prev: link,
            key_id: key_id.to_owned(),
            signature: Vec::new(),
        }
    }

    /// The bytes the signature covers.
    pub fn message(&self) -> Vec<u8> {
        let body = serde_json::json!([
            self.seq,
            self.event_seq,
            hex::encode(&self.head_hash),
            self.signed_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            hex::encode(&self.prev),
            self.key_id,
        ]);
        let mut out = MESSAGE_DOMAIN.to_vec();
        out.extend_from_slice(body.to_string().as_bytes());
        out
    }

    /// What the next checkpoint's `prev` must be: covers this message and its signature.
    pub fn link(&self) -> [u8; HASH_LEN] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(LINK_DOMAIN);
        ctx.update(&self.message());
        ctx.update(&self.signature);
        let mut out = [0u8; HASH_LEN];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }
}

/// The id of an audit key: hex SHA-256 of its SubjectPublicKeyInfo DER, first 16 bytes.
pub fn key_id_of(spki_der: &[u8]) -> String {
    hex::encode(&digest::digest(&digest::SHA256, spki_der).as_ref()[..16])
}

/// An audit public key a verifier trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPublicKey {
    /// [`key_id_of`] `spki`.
    pub key_id: String,
    /// SubjectPublicKeyInfo DER of a P-256 key.
    pub spki: Vec<u8>,
}

impl AuditPublicKey {
    /// The key with this SPKI.
    pub fn new(spki: Vec<u8>) -> Self {
        Self {
            key_id: key_id_of(&spki),
            spki,
        }
    }

    /// Whether `signature` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.spki)
            .verify(message, signature)
            .is_ok()
    }
}

/// Walks checkpoints in seq order: contiguous, each linked to the one before, each signed by
/// a trusted key, never covering fewer events than the one before.
#[derive(Debug)]
pub struct CheckpointVerifier {
    keys: Vec<AuditPublicKey>,
    next_seq: i64,
    prev: Vec<u8>,
    last_event_seq: i64,
}

impl CheckpointVerifier {
    /// A walk from the first checkpoint, trusting `keys`.
    pub fn new(keys: Vec<AuditPublicKey>) -> Self {
        Self {
            keys,
            next_seq: 1,
            prev: GENESIS.to_vec(),
            last_event_seq: 0,
        }
    }

    /// Checks one checkpoint's signature alone (for copies held outside the database).
    pub fn check_signature(&self, cp: &Checkpoint) -> Result<(), Break> {
        let key = self
            .keys
            .iter()
            .find(|k| k.key_id == cp.key_id)
            .ok_or_else(|| Break::CheckpointKey {
                checkpoint: cp.seq,
                key_id: cp.key_id.clone(),
            })?;
        if !key.verifies(&cp.message(), &cp.signature) {
            return Err(Break::CheckpointSignature { checkpoint: cp.seq });
        }
        Ok(())
    }

    /// Checks the next checkpoint.
    pub fn push(&mut self, cp: &Checkpoint) -> Result<(), Break> {
        if cp.seq != self.next_seq {
            return Err(Break::CheckpointGap {
                expected: self.next_seq,
                found: cp.seq,
            });
        }
        self.check_signature(cp)?;
        if cp.prev != self.prev {
            return Err(Break::CheckpointLink { checkpoint: cp.seq });
        }
        if cp.event_seq < self.last_event_seq || cp.event_seq < 1 {
            return Err(Break::CheckpointOrder { checkpoint: cp.seq });
        }
        self.next_seq += 1;
        self.prev = cp.link().to_vec();
        self.last_event_seq = cp.event_seq;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::{
        rand::SystemRandom,
        signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair},
    };

    struct Key(EcdsaKeyPair, AuditPublicKey);

    fn key() -> Key {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
        let der: PublicKeyX509Der<'static> = pair.public_key().as_der().unwrap();
        let spki = der.as_ref().to_vec();
        Key(pair, AuditPublicKey::new(spki))
    }

    fn sign(k: &Key, mut cp: Checkpoint) -> Checkpoint {
        cp.signature =
            k.0.sign(&SystemRandom::new(), &cp.message())
                .unwrap()
                .as_ref()
                .to_vec();
        cp
    }

    fn chain(k: &Key, n: i64) -> Vec<Checkpoint> {
        let at = DateTime::from_timestamp(1_800_000_000, 123_456_000).unwrap();
        let mut out: Vec<Checkpoint> = Vec::new();
        for i in 1..=n {
            let cp = Checkpoint::next(out.last(), i * 10, &[i as u8; 32], at, &k.1.key_id);
            out.push(sign(k, cp));
        }
        out
    }

    fn walk(keys: Vec<AuditPublicKey>, cps: &[Checkpoint]) -> Result<(), Break> {
        let mut v = CheckpointVerifier::new(keys);
        cps.iter().try_for_each(|cp| v.push(cp))
    }

    #[test]
    fn an_untouched_chain_of_checkpoints_verifies() {
        let k = key();
        assert_eq!(walk(vec![k.1.clone()], &chain(&k, 4)), Ok(()));
    }

    #[test]
    fn the_message_is_fixed_text() {
        let k = key();
        let cp = &chain(&k, 1)[0];
        let text = String::from_utf8(cp.message()).unwrap();
        assert_eq!(
            text,
            format!(
                "fincert-audit-checkpoint-v1\n[1,10,\"{}\",\"2027-01-15T08:00:00.123456Z\",\"{}\",\"{}\"]",
                "01".repeat(32),
                "00".repeat(32),
                k.1.key_id
            )
        );
    }

    #[test]
    fn every_field_is_signed() {
        let k = key();
        let base = chain(&k, 2);
        let edits: Vec<Box<dyn Fn(&mut Checkpoint)>> = vec![
            Box::new(|c| c.event_seq += 1),
            Box::new(|c| c.head_hash[0] ^= 1),
            Box::new(|c| c.signed_at += chrono::Duration::microseconds(1)),
        ];
        for edit in edits {
            let mut cps = base.clone();
            edit(&mut cps[1]);
            assert_eq!(
                walk(vec![k.1.clone()], &cps),
                Err(Break::CheckpointSignature { checkpoint: 2 })
            );
        }
    }

    #[test]
    fn a_removed_or_foreign_checkpoint_is_caught() {
        let k = key();
        let mut cps = chain(&k, 3);
        cps.remove(1);
        assert_eq!(
            walk(vec![k.1.clone()], &cps),
            Err(Break::CheckpointGap {
                expected: 2,
                found: 3
            })
        );

        // A forger with a key of their own re-signs checkpoint 2.
        let other = key();
        let mut cps = chain(&k, 3);
        let mut forged = cps[1].clone();
        forged.key_id = other.1.key_id.clone();
        forged.head_hash = vec![9; 32];
        cps[1] = sign(&other, forged);
        assert_eq!(
            walk(vec![k.1.clone()], &cps),
            Err(Break::CheckpointKey {
                checkpoint: 2,
                key_id: other.1.key_id.clone()
            })
        );
        // Trusted or not, re-signing one breaks the link of the next.
        assert_eq!(
            walk(vec![k.1.clone(), other.1.clone()], &cps),
            Err(Break::CheckpointLink { checkpoint: 3 })
        );
    }
}
