//! Activated keys: a private key unwrapped by a PIN or passkey, held parsed in memory for a
//! bounded time and number of signatures, then wiped.
//!
//! ```text
//!   activate (PIN/passkey ok) ──► Live{expires_at, remaining = N}
//!        sign ──► remaining -= 1 ──► remaining = 0 ──► removed (key wiped)
//!        now ≥ expires_at ─────────────────────────► removed (key wiped) on next use or sweep
//!        shutdown ─────────────────────────────────► clear(): every key wiped
//! ```
//!
//! Parsing an RSA key costs about as much as a signature, so an activation keeps the parsed
//! key: signing within the window costs one RSA operation. The map is per node; a
//! limit on live activations bounds memory.
//!
//! Two kinds live here. A *counted* activation (native approvals) allows N signatures and is
//! the authority for that count on its node. An *uncounted* one is a node's cached copy of a
//! cluster authorization (a CSC SAD, opened from its activation record): the database decides
//! what it may sign (`csc_sad_signatures`), so a spend that loses a race consumes nothing here.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::keys::{KeyError, SignatureScheme, SigningKey};

/// Why a signature with an activation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationError {
    /// No such activation for this owner (never made, already wiped, or another owner's).
    #[error("no live activation")]
    NotFound,
    /// Its time ran out; the key was wiped.
    #[error("activation expired")]
    Expired,
    /// Its signature count ran out; the key was wiped.
    #[error("activation used up")]
    Exhausted,
    /// The node holds as many activations as it may.
    #[error("too many live activations on this node")]
    Full,
    /// The key refused (wrong scheme, bad digest).
    #[error(transparent)]
    Key(#[from] KeyError),
}

struct Live {
    owner: String,
    key_id: Uuid,
    key: SigningKey,
    expires_at: DateTime<Utc>,
    /// `None`: uncounted (the database counts).
    remaining: Option<Mutex<u32>>,
}

/// What the caller learns about an activation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationInfo {
    /// Handle for signing.
    pub id: Uuid,
    /// The custody key it unlocks.
    pub key_id: Uuid,
    /// When it is wiped at the latest.
    pub expires_at: DateTime<Utc>,
    /// Signatures it allows.
    pub remaining: u32,
}

/// The live activations of this node.
pub struct Activations {
    live: Mutex<HashMap<Uuid, Arc<Live>>>,
    ttl: Duration,
    max_signatures: u32,
    max_live: usize,
}

impl Activations {
    /// An empty set with the given limits.
    pub fn new(ttl: Duration, max_signatures: u32, max_live: usize) -> Self {
        Self {
            live: Mutex::new(HashMap::new()),
            ttl,
            max_signatures,
            max_live,
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Live>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most signatures one activation may allow (configuration).
    pub fn max_signatures(&self) -> u32 {
        self.max_signatures
    }

    /// Holds `key` for `owner`; `max_signatures` of `None` uses the configured limit.
    pub fn insert(
        &self,
        owner: &str,
        key_id: Uuid,
        key: SigningKey,
        now: DateTime<Utc>,
        max_signatures: Option<u32>,
    ) -> Result<ActivationInfo, ActivationError> {
        let remaining = max_signatures
            .unwrap_or(self.max_signatures)
            .min(self.max_signatures)
            .max(1);
        let id = Uuid::new_v4();
        let expires_at = now + self.ttl;
        self.hold(
            id,
            Live {
                owner: owner.to_owned(),
                key_id,
                key,
                expires_at,
                remaining: Some(Mutex::new(remaining)),
            },
            now,
        )?;
        Ok(ActivationInfo {
            id,
            key_id,
            expires_at,
            remaining,
        })
    }

    /// Holds `key` as the node's copy of the cluster authorization `id` until `expires_at`;
    /// the database counts its signatures. A copy already held stays (the same key).
    pub fn insert_uncounted(
        &self,
        id: Uuid,
        owner: &str,
        key_id: Uuid,
        key: SigningKey,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), ActivationError> {
        if now >= expires_at {
            return Err(ActivationError::Expired);
        }
        self.hold(
            id,
            Live {
                owner: owner.to_owned(),
                key_id,
                key,
                expires_at: expires_at.min(now + self.ttl),
                remaining: None,
            },
            now,
        )
    }

    /// Keeps `live` under `id` within the node's limit (a copy already held stays).
    fn hold(&self, id: Uuid, live: Live, now: DateTime<Utc>) -> Result<(), ActivationError> {
        let mut map = self.map();
        if map.contains_key(&id) {
            return Ok(());
        }
        if map.len() >= self.max_live {
            map.retain(|_, l| l.expires_at > now);
            if map.len() >= self.max_live {
                return Err(ActivationError::Full);
            }
        }
        map.insert(id, Arc::new(live));
        Ok(())
    }

    /// A new activation id and the expiry an activation made now gets.
    pub fn plan(&self, now: DateTime<Utc>) -> (Uuid, DateTime<Utc>) {
        (Uuid::new_v4(), now + self.ttl)
    }

    /// Whether this node holds a live copy of activation `id` for `owner`.
    pub fn holds(&self, id: Uuid, owner: &str, now: DateTime<Utc>) -> bool {
        self.key_of(id, owner, now).is_some()
    }

    /// Takes one signature from the activation, then signs outside the map lock.
    fn take(
        &self,
        id: Uuid,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<Live>, ActivationError> {
        let mut map = self.map();
        let live = map
            .get(&id)
            .filter(|l| l.owner == owner)
            .cloned()
            .ok_or(ActivationError::NotFound)?;
        if now >= live.expires_at {
            map.remove(&id);
            return Err(ActivationError::Expired);
        }
        let Some(counter) = &live.remaining else {
            return Ok(live);
        };
        let mut remaining = counter.lock().unwrap_or_else(|p| p.into_inner());
        if *remaining == 0 {
            map.remove(&id);
            return Err(ActivationError::Exhausted);
        }
        *remaining -= 1;
        let last = *remaining == 0;
        drop(remaining);
        if last {
            // The last signature: drop it from the map now; the key is wiped when this
            // signature's reference goes.
            map.remove(&id);
        }
        Ok(live)
    }

    /// Signs a message with a live activation of `owner`.
    pub fn sign(
        &self,
        id: Uuid,
        owner: &str,
        now: DateTime<Utc>,
        scheme: SignatureScheme,
        message: &[u8],
    ) -> Result<Vec<u8>, ActivationError> {
        let live = self.take(id, owner, now)?;
        Ok(live.key.sign(scheme, message)?)
    }

    /// Signs a SHA-256 digest with a live activation of `owner`.
    pub fn sign_digest(
        &self,
        id: Uuid,
        owner: &str,
        now: DateTime<Utc>,
        scheme: SignatureScheme,
        sha256: &[u8],
    ) -> Result<Vec<u8>, ActivationError> {
        let live = self.take(id, owner, now)?;
        Ok(live.key.sign_digest(scheme, sha256)?)
    }

    /// The key an activation unlocks, if it is live for `owner`.
    pub fn key_of(&self, id: Uuid, owner: &str, now: DateTime<Utc>) -> Option<Uuid> {
        self.map()
            .get(&id)
            .filter(|l| l.owner == owner && now < l.expires_at)
            .map(|l| l.key_id)
    }

    /// Wipes one activation (e.g. when its audit event could not be written).
    pub fn remove(&self, id: Uuid) {
        self.map().remove(&id);
    }

    /// Wipes every expired activation; returns how many.
    pub fn sweep(&self, now: DateTime<Utc>) -> usize {
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, l| l.expires_at > now);
        before - map.len()
    }

    /// Wipes every activation (shutdown).
    pub fn clear(&self) {
        self.map().clear();
    }

    /// Live activations.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether none are live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::keys::{KeyAlgorithm, generate};

    fn key() -> SigningKey {
        let g = generate(KeyAlgorithm::P256).unwrap();
        SigningKey::from_pkcs8(KeyAlgorithm::P256, &g.pkcs8).unwrap()
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    const S: SignatureScheme = SignatureScheme::EcdsaP256Sha256;

    #[test]
    fn a_count_limit_wipes_the_key_after_the_last_signature() {
        let a = Activations::new(Duration::minutes(5), 3, 10);
        let info = a.insert("u1", Uuid::new_v4(), key(), t(0), None).unwrap();
        assert_eq!(info.remaining, 3);
        for _ in 0..3 {
            a.sign(info.id, "u1", t(1), S, b"m").unwrap();
        }
        assert!(a.is_empty(), "wiped after the last signature");
        assert_eq!(
            a.sign(info.id, "u1", t(1), S, b"m").unwrap_err(),
            ActivationError::NotFound
        );
    }

    #[test]
    fn a_time_limit_wipes_the_key() {
        let a = Activations::new(Duration::minutes(5), 10, 10);
        let info = a
            .insert("u1", Uuid::new_v4(), key(), t(0), Some(2))
            .unwrap();
        assert_eq!(info.remaining, 2, "a request may ask for fewer signatures");
        assert_eq!(info.expires_at, t(300));
        assert_eq!(
            a.sign(info.id, "u1", t(300), S, b"m").unwrap_err(),
            ActivationError::Expired
        );
        assert!(a.is_empty());

        let info = a
            .insert("u1", Uuid::new_v4(), key(), t(0), Some(50))
            .unwrap();
        assert_eq!(info.remaining, 10, "never more than the configured limit");
        assert_eq!(a.sweep(t(299)), 0);
        assert_eq!(a.sweep(t(301)), 1);
    }

    #[test]
    fn an_uncounted_copy_signs_until_its_window_ends() {
        let a = Activations::new(Duration::minutes(5), 2, 10);
        let id = Uuid::new_v4();
        a.insert_uncounted(id, "u1", Uuid::new_v4(), key(), t(0), t(120))
            .unwrap();
        for _ in 0..5 {
            a.sign(id, "u1", t(1), S, b"m").unwrap();
        }
        assert!(a.holds(id, "u1", t(119)));
        assert!(!a.holds(id, "u2", t(1)), "another owner's");
        assert_eq!(
            a.sign(id, "u1", t(120), S, b"m").unwrap_err(),
            ActivationError::Expired
        );
        assert_eq!(
            a.insert_uncounted(id, "u1", Uuid::new_v4(), key(), t(130), t(120))
                .unwrap_err(),
            ActivationError::Expired
        );
    }

    #[test]
    fn activations_belong_to_their_owner_and_are_bounded() {
        let a = Activations::new(Duration::minutes(5), 10, 2);
        let info = a.insert("u1", Uuid::new_v4(), key(), t(0), None).unwrap();
        assert_eq!(
            a.sign(info.id, "u2", t(1), S, b"m").unwrap_err(),
            ActivationError::NotFound
        );
        a.insert("u1", Uuid::new_v4(), key(), t(0), None).unwrap();
        assert_eq!(
            a.insert("u1", Uuid::new_v4(), key(), t(0), None)
                .unwrap_err(),
            ActivationError::Full
        );
        a.clear();
        assert!(a.is_empty());
    }
}
