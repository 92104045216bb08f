//! Key custody: private keys that never leave fincert, sealed under KMS, unlocked by a PIN or a
//! passkey for a bounded activation.
//!
//! ```text
//!  private key ──PKCS#8──► AES-256-GCM(DK, aad = owner‖key‖alg) ──► custody_keys.sealed_private
//!                                   ▲
//!                                   │ DK: 256-bit data key (KMS GenerateDataKey; plaintext only
//!                                   │     in memory, zeroized)
//!        ┌──────────────────────────┴───────────────────────────┐
//!   PIN slot                                              passkey slot (one per credential)
//!   K_pin = HKDF(KMS-MAC("pin"‖owner‖key‖PIN))            K_cred = HKDF(KMS-MAC("passkey"‖owner‖key‖cred))
//!   inner = AES-GCM(K_pin, DK, aad = context)             inner = AES-GCM(K_cred, DK, aad = context)
//!   wrapped = KMS.Encrypt(inner, context{owner,key,slot}) wrapped = KMS.Encrypt(inner, context{…})
//!        └──────────────────────► custody_key_slots ◄────────────────┘
//! ```
//!
//! - **No PIN verifier anywhere.** A PIN is "right" only in that it derives the key that opens
//!   the PIN slot's inner layer, and deriving it needs the KMS-held MAC key. A copy of the
//!   database alone gives nothing to test guesses against; with KMS access each guess is an
//!   online, audited, rate-limited KMS call.
//! - **Blob swaps fail.** Every layer binds owner, key and slot (KMS encryption context, AEAD
//!   associated data), so a sealed key or slot copied to another owner or key does not open.
//! - **Re-wrapping needs no PIN.** The outer KMS layer's context holds no secret, so
//!   `kms rewrap` moves it to a new KMS key (ReEncrypt) while the PIN layer stays untouched.
//! - **Fail closed.** Every KMS call happens before the database transaction that records its
//!   result (with its audit event); a KMS or database failure leaves nothing half-written.
//! - **PIN lockout** (in the manner of kanidm's softlock), counted per key in the database and
//!   decided one attempt at a time per key (this node's per-key lock, and on PostgreSQL the
//!   counter's row lock held for the attempt's transaction, so across every node); the state
//!   diagram and the rules are in [`unlock`].
//!
//!   Deciding one at a time means parallel right PINs all succeed (none is counted as a
//!   failure while in flight) and parallel wrong PINs count exactly to the limit, on any
//!   number of nodes. A locked PIN stays locked until a PIN reset (a passkey bound to the key
//!   opens the data key and a new PIN slot is made, see [`unlock`]) or a reissuance (a new
//!   key). Waiting for the lock is bounded by the database's `lock_timeout`.
//! - A passkey slot is bound to its credential; that the credential was really used is checked
//!   by WebAuthn before [`Custody::activate_with_passkey`] is called.
//!
//! Where things are: [`slots`] (slot copies of the data key, passkey binding), [`create`]
//! (generating and storing keys), [`unlock`] (PIN and passkey unlock, the lockout rules),
//! [`service_keys`] (keys the service opens itself), [`sad`] with [`record`] (cluster
//! authorizations), [`sign`] (signing with an activation), [`rewrap`] (`kms rewrap`), and below
//! them [`keys`], [`sealed`], [`kms`], [`activation`], [`locks`]. [`error`] holds the one error
//! enum.

pub mod activation;
pub mod create;
mod decoy;
pub mod error;
pub mod keys;
pub mod kms;
pub mod locks;
pub mod record;
pub mod rewrap;
pub mod sad;
pub mod sealed;
pub mod service_keys;
pub mod sign;
pub mod slots;
pub mod unlock;

use std::sync::Arc;

use chrono::Duration;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use self::{activation::Activations, keys::KeyAlgorithm, kms::Kms, locks::KeyedLocks};
pub use self::{
    create::{KeyInfo, PreparedKey},
    error::CustodyError,
    rewrap::RewrapReport,
    slots::{Prf, Slot},
    unlock::Unlock,
};
pub use crate::domain::owner::{InvalidOwnerId, OwnerId};
use crate::{
    audit::{Actor, NewEvent},
    clock::SharedClock,
    config::CustodySettings,
    store::{self, custody::KeyRow},
};

/// What an owner is in the audit log.
impl OwnerId {
    /// The service's own keys (CA, OCSP responder, token signing) act as the system.
    pub fn actor(&self) -> Actor {
        if self.is_service() {
            Actor::System
        } else {
            Actor::User(self.as_str().to_owned())
        }
    }
}

/// The custody service: KMS, activations and the clock.
pub struct Custody {
    kms: Arc<dyn Kms>,
    activations: Activations,
    clock: SharedClock,
    max_pin_failures: i32,
    /// PIN attempts of one key are decided one at a time (with the row lock on PostgreSQL).
    pin_locks: KeyedLocks,
    /// A node opens one activation record once, however many requests meet it together.
    opening: KeyedLocks,
    /// Where KMS calls made outside the `Kms` trait (CA keys inside KMS) are counted.
    kms_metrics: Option<crate::metrics::KmsMetrics>,
    /// The slot no PIN opens, for the decoy check (`decoy`), made on first use.
    decoy: tokio::sync::OnceCell<kms::WrappedKey>,
    /// The key the decoy passkey credential ids are derived from (`decoy`), made on first use.
    passkey_decoy: tokio::sync::OnceCell<zeroize::Zeroizing<Vec<u8>>>,
    /// The node's pool for heavy CPU work (key generation here; key files and uploaded DER
    /// in the PKI, which shares it).
    heavy: Arc<crate::heavy::HeavyPool>,
    /// Query-only connections beside the writer (SQLite WAL; `store::connect_readers`), for
    /// the reads that decide nothing by themselves: a key's row and its slots. Without them
    /// (tools, tests) the connection each call is given serves them.
    readers: Option<sea_orm::DatabaseConnection>,
}

impl std::fmt::Debug for Custody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Custody")
            .field("kms", &self.kms.backend())
            .finish_non_exhaustive()
    }
}

impl Custody {
    /// This custody, with KMS calls made beside it (CA keys inside KMS) counted into
    /// `metrics`.
    pub fn with_kms_metrics(mut self, metrics: crate::metrics::KmsMetrics) -> Self {
        self.kms_metrics = Some(metrics);
        self
    }

    /// This custody, reading key rows and slots on `readers` (see the field) rather than on
    /// the writer: a read there does not queue behind a group commit on SQLite's one writer.
    pub fn with_readers(mut self, readers: sea_orm::DatabaseConnection) -> Self {
        self.readers = Some(readers);
        self
    }

    /// Where the reads that decide nothing go: the readers, else `db`.
    fn reads<'a>(&'a self, db: &'a DatabaseConnection) -> &'a DatabaseConnection {
        self.readers.as_ref().unwrap_or(db)
    }

    /// Where KMS calls made beside custody are counted, if anywhere.
    pub fn kms_metrics(&self) -> Option<&crate::metrics::KmsMetrics> {
        self.kms_metrics.as_ref()
    }

    /// A custody service over `kms`.
    pub fn new(kms: Arc<dyn Kms>, settings: &CustodySettings, clock: SharedClock) -> Self {
        Self {
            kms,
            activations: Activations::new(
                Duration::seconds(i64::try_from(settings.activation_ttl_secs).unwrap_or(300)),
                settings.activation_max_signatures,
                settings.max_live_activations,
            ),
            clock,
            max_pin_failures: i32::try_from(settings.max_pin_failures).unwrap_or(5),
            pin_locks: KeyedLocks::default(),
            opening: KeyedLocks::default(),
            kms_metrics: None,
            decoy: tokio::sync::OnceCell::new(),
            passkey_decoy: tokio::sync::OnceCell::new(),
            heavy: Arc::new(crate::heavy::HeavyPool::new(
                settings.heavy_concurrency,
                settings.heavy_queue,
            )),
            readers: None,
        }
    }

    /// The node's pool for heavy CPU work (`crate::heavy`).
    pub fn heavy(&self) -> &crate::heavy::HeavyPool {
        &self.heavy
    }

    /// The KMS in use.
    pub fn kms(&self) -> &Arc<dyn Kms> {
        &self.kms
    }

    /// The live activations of this node.
    pub fn activations(&self) -> &Activations {
        &self.activations
    }

    /// The stored key `key_id` of `owner`, and its algorithm.
    async fn load(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
    ) -> Result<(KeyRow, KeyAlgorithm), CustodyError> {
        let row = store::custody::find_key(self.reads(db), owner.as_str(), &key_id.to_string())
            .await?
            .ok_or(CustodyError::KeyNotFound)?;
        let algorithm = row.algorithm;
        Ok((row, algorithm))
    }

    /// Appends audit events on their own (outside any transaction of the caller).
    async fn audit(
        &self,
        db: &DatabaseConnection,
        events: &[NewEvent],
    ) -> Result<(), CustodyError> {
        store::audit::append(db, self.clock.now(), events).await?;
        Ok(())
    }
}
