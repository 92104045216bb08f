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
//!   counter's row lock held for the attempt's transaction, so across every node):
//!
//!   ```text
//!    attempt ──► lock the key's counter ──► failures ≥ 5 or locked? ──yes──► refused: PIN locked (audited)
//!                     │ no
//!                     ▼
//!                 try the PIN (KMS) ──right──► failures = 0                      ┐
//!                     │ wrong ──► failures += 1; == 5 ? locked_at = now, "key.pin_locked" ├ commit, unlock
//!                     │ KMS/database outage ──► nothing written (an outage is not a wrong PIN)
//!   ```
//!
//!   Deciding one at a time means parallel right PINs all succeed (none is counted as a
//!   failure while in flight) and parallel wrong PINs count exactly to the limit, on any
//!   number of nodes. A locked PIN stays locked: reissuance (a new key) is the way out, as in
//!   the real service. Waiting for the lock is bounded by the database's `lock_timeout`.
//! - A passkey slot is bound to its credential; that the credential was really used is checked
//!   by WebAuthn before [`Custody::activate_with_passkey`] is called.

pub mod activation;
pub mod keys;
pub mod kms;
pub mod locks;
pub mod record;
pub mod sealed;

use std::sync::Arc;

use aws_lc_rs::digest;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use chrono::Duration;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use self::{
    activation::{ActivationError, ActivationInfo, Activations},
    keys::{KeyAlgorithm, KeyError, SignatureScheme, SigningKey},
    kms::{DATA_KEY_LEN, DataKey, EncryptionContext, Kms, KmsError},
    locks::KeyedLocks,
    sealed::{SealError, framed},
};
use crate::{
    audit::{Action, Actor, NewEvent},
    clock::SharedClock,
    config::CustodySettings,
    domain::pin::Pin,
    store::{
        self, StoreError,
        custody::{KeyRow, SlotRow},
    },
};

/// Who owns a key: a user id, or `ca:<name>` for CA keys. 1–64 of `[A-Za-z0-9._:-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnerId(String);

impl OwnerId {
    /// Parses an owner id.
    pub fn parse(raw: &str) -> Result<Self, CustodyError> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(CustodyError::InvalidOwner)
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The service's own keys (CA, OCSP responder, token signing) act as the system.
    pub fn actor(&self) -> Actor {
        if self.0.starts_with("ca:") || self.0.starts_with("svc:") {
            Actor::System
        } else {
            Actor::User(self.0.clone())
        }
    }
}

/// A slot: which secret opens a copy of the data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// The PIN copy.
    Pin,
    /// A passkey's copy, named by a hash of its credential id.
    Passkey(String),
    /// The service's own copy (CA and OCSP responder keys only).
    Service,
}

impl Slot {
    /// The slot for a WebAuthn credential id (raw bytes).
    pub fn passkey(credential_id: &[u8]) -> Self {
        Self::Passkey(B64URL.encode(digest::digest(&digest::SHA256, credential_id).as_ref()))
    }

    /// Stored name.
    pub fn name(&self) -> String {
        match self {
            Self::Pin => "pin".into(),
            Self::Passkey(h) => format!("passkey:{h}"),
            Self::Service => "service".into(),
        }
    }
}

/// The holder's secret that opens a key for [`Custody::activate_once`].
#[derive(Clone, Copy)]
pub enum Unlock<'a> {
    /// The PIN (decided one attempt at a time, with lockout).
    Pin(&'a Pin),
    /// A passkey whose WebAuthn assertion the caller has verified.
    Passkey(&'a [u8]),
}

/// Custody failures.
#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    /// Malformed owner id.
    #[error("invalid owner id")]
    InvalidOwner,
    /// No such key for this owner.
    #[error("no such key")]
    KeyNotFound,
    /// The PIN did not open the key.
    #[error("wrong PIN")]
    WrongPin,
    /// Too many consecutive wrong PINs: the PIN is locked until the certificate is reissued.
    #[error("the PIN is locked")]
    PinLocked,
    /// The passkey is not bound to this key.
    #[error("this passkey is not bound to the key")]
    PasskeyNotBound,
    /// The passkey is already bound to this key.
    #[error("this passkey is already bound to the key")]
    PasskeyAlreadyBound,
    /// The sealed key or a slot does not belong where it is stored (tampering or a blob swap).
    #[error("key material failed its integrity check")]
    Integrity,
    /// KMS unavailable or refusing; nothing was changed.
    #[error(transparent)]
    Kms(KmsError),
    /// Database unavailable; nothing was changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key generation or signing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Signing with an activation was refused.
    #[error(transparent)]
    Activation(#[from] ActivationError),
    /// aws-lc failed to seal.
    #[error("sealing failed")]
    Seal,
}

impl From<SealError> for CustodyError {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Open => Self::Integrity,
            SealError::Seal => Self::Seal,
        }
    }
}

/// What is known about a custody key (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub id: Uuid,
    /// Owner.
    pub owner: OwnerId,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// SubjectPublicKeyInfo DER.
    pub public_key_der: Vec<u8>,
}

/// A key generated and sealed, every KMS call done, nothing stored yet.
pub struct PreparedKey {
    /// What the key is.
    pub info: KeyInfo,
    sealed_private: Vec<u8>,
    slot: SlotRow,
}

/// Progress of a re-wrap run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Slots moved to the current KMS key.
    pub moved: u64,
    /// Slots that changed under us (PIN change) and were left for the next run.
    pub skipped: u64,
    /// Slots still not under the current key.
    pub remaining: u64,
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
}

impl std::fmt::Debug for Custody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Custody")
            .field("kms", &self.kms.backend())
            .finish_non_exhaustive()
    }
}

fn context(owner: &OwnerId, key_id: Uuid, slot: &Slot) -> EncryptionContext {
    EncryptionContext::new()
        .with("fincert:owner", owner.as_str())
        .with("fincert:key", key_id.to_string())
        .with("fincert:slot", slot.name())
}

fn sealed_aad(owner: &OwnerId, key_id: Uuid, algorithm: KeyAlgorithm) -> Vec<u8> {
    framed(&[
        b"fincert-sealed-pkcs8-v1",
        owner.as_str().as_bytes(),
        key_id.as_bytes(),
        algorithm.as_str().as_bytes(),
    ])
}

/// The secret that binds a slot: the PIN, the passkey's credential id, or nothing but the KMS
/// (service keys: the CA's, which the service itself must be able to open).
enum Binding<'a> {
    Pin(&'a Pin),
    Passkey(&'a [u8]),
    Service,
}

impl Binding<'_> {
    fn slot(&self) -> Slot {
        match self {
            Self::Pin(_) => Slot::Pin,
            Self::Passkey(cred) => Slot::passkey(cred),
            Self::Service => Slot::Service,
        }
    }

    fn mac_message(&self, owner: &OwnerId, key_id: Uuid) -> Zeroizing<Vec<u8>> {
        let (label, secret): (&[u8], &[u8]) = match self {
            Self::Pin(pin) => (b"fincert-pin-v1", pin.expose()),
            Self::Passkey(cred) => (b"fincert-passkey-v1", cred),
            Self::Service => (b"fincert-service-v1", b""),
        };
        Zeroizing::new(framed(&[
            label,
            owner.as_str().as_bytes(),
            key_id.as_bytes(),
            secret,
        ]))
    }
}

impl Custody {
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
        }
    }

    /// The KMS in use.
    pub fn kms(&self) -> &Arc<dyn Kms> {
        &self.kms
    }

    /// The live activations of this node.
    pub fn activations(&self) -> &Activations {
        &self.activations
    }

    /// Wraps `dk` into the slot for `binding`: KMS MAC → slot key → inner seal → KMS encrypt.
    async fn wrap_slot(
        &self,
        owner: &OwnerId,
        key_id: Uuid,
        binding: &Binding<'_>,
        dk: &DataKey,
    ) -> Result<SlotRow, CustodyError> {
        let slot = binding.slot();
        let ctx = context(owner, key_id, &slot);
        let mac = self
            .kms
            .mac(&binding.mac_message(owner, key_id))
            .await
            .map_err(CustodyError::Kms)?;
        let inner = sealed::seal(&sealed::slot_key(&mac)?, &ctx.canonical(), dk.as_ref())?;
        let wrapped = self
            .kms
            .encrypt(&inner, &ctx)
            .await
            .map_err(CustodyError::Kms)?;
        Ok(SlotRow {
            key_id: key_id.to_string(),
            slot: slot.name(),
            kms_key_id: wrapped.kms_key_id,
            wrapped: wrapped.blob,
        })
    }

    /// Opens a slot with its binding. A context or inner-layer mismatch means the binding is
    /// wrong (wrong PIN, unbound passkey) or the slot was moved: the caller cannot tell which.
    async fn unwrap_slot(
        &self,
        owner: &OwnerId,
        key_id: Uuid,
        binding: &Binding<'_>,
        row: &SlotRow,
    ) -> Result<DataKey, CustodyError> {
        let wrong = || match binding {
            Binding::Pin(_) => CustodyError::WrongPin,
            Binding::Passkey(_) => CustodyError::PasskeyNotBound,
            Binding::Service => CustodyError::Integrity,
        };
        let slot = binding.slot();
        let ctx = context(owner, key_id, &slot);
        let wrapped = kms::WrappedKey {
            kms_key_id: row.kms_key_id.clone(),
            blob: row.wrapped.clone(),
        };
        let inner = match self.kms.decrypt(&wrapped, &ctx).await {
            Ok(inner) => inner,
            Err(KmsError::InvalidCiphertext) => return Err(wrong()),
            Err(e) => return Err(CustodyError::Kms(e)),
        };
        let mac = self
            .kms
            .mac(&binding.mac_message(owner, key_id))
            .await
            .map_err(CustodyError::Kms)?;
        let dk_bytes = sealed::open(&sealed::slot_key(&mac)?, &ctx.canonical(), &inner)
            .map_err(|_| wrong())?;
        let mut dk = Zeroizing::new([0u8; DATA_KEY_LEN]);
        if dk_bytes.len() != DATA_KEY_LEN {
            return Err(CustodyError::Integrity);
        }
        dk.copy_from_slice(&dk_bytes);
        Ok(dk)
    }

    async fn load(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
    ) -> Result<(KeyRow, KeyAlgorithm), CustodyError> {
        let row = store::custody::find_key(db, owner.as_str(), &key_id.to_string())
            .await?
            .ok_or(CustodyError::KeyNotFound)?;
        let algorithm = KeyAlgorithm::parse(&row.algorithm).ok_or(CustodyError::Integrity)?;
        Ok((row, algorithm))
    }

    async fn audit(
        &self,
        db: &DatabaseConnection,
        events: &[NewEvent],
    ) -> Result<(), CustodyError> {
        store::audit::append(db, self.clock.now(), events).await?;
        Ok(())
    }

    /// Generates a key for `owner`, sealed, with a PIN slot, and stores it with its audit event
    /// in one transaction. Nothing is stored unless every KMS call succeeded.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), algorithm = algorithm.as_str()))]
    pub async fn create_key(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        algorithm: KeyAlgorithm,
        pin: &Pin,
    ) -> Result<KeyInfo, CustodyError> {
        let prepared = self.prepare_key(owner, algorithm, pin).await?;
        let txn = db.begin().await.map_err(StoreError::from)?;
        let info = self.persist_key(&txn, prepared).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(info)
    }

    /// Generates and seals a key with a PIN slot, doing every KMS call, and writes nothing:
    /// the caller stores it with [`Custody::persist_key`] inside its own transaction (so a key
    /// and the certificate made for it commit together).
    pub async fn prepare_key(
        &self,
        owner: &OwnerId,
        algorithm: KeyAlgorithm,
        pin: &Pin,
    ) -> Result<PreparedKey, CustodyError> {
        self.prepare(owner, algorithm, &Binding::Pin(pin), None)
            .await
    }

    /// Seals an existing private key (PKCS#8, e.g. imported from PKCS#12) with a PIN slot.
    pub async fn prepare_imported_key(
        &self,
        owner: &OwnerId,
        algorithm: KeyAlgorithm,
        pkcs8: Zeroizing<Vec<u8>>,
        pin: &Pin,
    ) -> Result<PreparedKey, CustodyError> {
        self.prepare(owner, algorithm, &Binding::Pin(pin), Some(pkcs8))
            .await
    }

    /// A key only the service opens (CA and OCSP responder keys), with its KMS work done.
    pub async fn prepare_service_key(
        &self,
        owner: &OwnerId,
        algorithm: KeyAlgorithm,
    ) -> Result<PreparedKey, CustodyError> {
        self.prepare(owner, algorithm, &Binding::Service, None)
            .await
    }

    async fn prepare(
        &self,
        owner: &OwnerId,
        algorithm: KeyAlgorithm,
        binding: &Binding<'_>,
        existing: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<PreparedKey, CustodyError> {
        let key_id = Uuid::new_v4();
        let (pkcs8, public_key_der) = match existing {
            Some(pkcs8) => {
                let (pkcs8, public) = tokio::task::spawn_blocking(move || {
                    let public = SigningKey::from_pkcs8(algorithm, &pkcs8)?.public_key_der()?;
                    Ok::<_, KeyError>((pkcs8, public))
                })
                .await
                .map_err(|_| KeyError::Parse("key"))??;
                (pkcs8, public)
            }
            None => {
                let generated = tokio::task::spawn_blocking(move || keys::generate(algorithm))
                    .await
                    .map_err(|_| KeyError::Generate)??;
                (generated.pkcs8, generated.public_key_der)
            }
        };
        let seal_ctx = EncryptionContext::new()
            .with("fincert:owner", owner.as_str())
            .with("fincert:key", key_id.to_string())
            .with("fincert:purpose", "seal");
        let dk = self
            .kms
            .generate_data_key(&seal_ctx)
            .await
            .map_err(CustodyError::Kms)?;
        let sealed_private = sealed::seal(&dk, &sealed_aad(owner, key_id, algorithm), &pkcs8)?;
        drop(pkcs8);
        let slot = self.wrap_slot(owner, key_id, binding, &dk).await?;
        drop(dk);
        Ok(PreparedKey {
            info: KeyInfo {
                id: key_id,
                owner: owner.clone(),
                algorithm,
                public_key_der,
            },
            sealed_private,
            slot,
        })
    }

    /// Stores a prepared key, its slot and its audit event on `conn` (the caller's transaction).
    pub async fn persist_key(
        &self,
        conn: &sea_orm::DatabaseTransaction,
        prepared: PreparedKey,
    ) -> Result<KeyInfo, CustodyError> {
        let now = self.clock.now();
        let info = prepared.info;
        let row = KeyRow {
            id: info.id.to_string(),
            owner_id: info.owner.as_str().to_owned(),
            algorithm: info.algorithm.as_str().to_owned(),
            public_key: info.public_key_der.clone(),
            sealed_private: prepared.sealed_private,
            created_at: now,
        };
        let event = NewEvent::new(info.owner.actor(), Action::KeyCreated)
            .subject(info.id.to_string())
            .details(json!({"algorithm": info.algorithm.as_str(), "kms": self.kms.backend(), "kms_key_id": prepared.slot.kms_key_id, "slot": prepared.slot.slot}));
        store::custody::insert_key(conn, &row, &prepared.slot).await?;
        store::audit::append(conn, now, &[event]).await?;
        Ok(info)
    }

    /// Opens a prepared, not yet stored service key (a new CA key must sign before the
    /// transaction that stores it).
    pub async fn unseal_prepared(
        &self,
        prepared: &PreparedKey,
    ) -> Result<SigningKey, CustodyError> {
        let pkcs8 = self.prepared_service_pkcs8(prepared).await?;
        Ok(SigningKey::from_pkcs8(prepared.info.algorithm, &pkcs8)?)
    }

    /// The PKCS#8 of a prepared, not yet stored service key.
    pub async fn prepared_service_pkcs8(
        &self,
        prepared: &PreparedKey,
    ) -> Result<Zeroizing<Vec<u8>>, CustodyError> {
        if prepared.slot.slot != Slot::Service.name() {
            return Err(CustodyError::Integrity);
        }
        let info = &prepared.info;
        let dk = self
            .unwrap_slot(&info.owner, info.id, &Binding::Service, &prepared.slot)
            .await?;
        Ok(sealed::open(
            &dk,
            &sealed_aad(&info.owner, info.id, info.algorithm),
            &prepared.sealed_private,
        )?)
    }

    /// The PKCS#8 of a service key (prepared, or stored), for libraries that take a key as
    /// bytes (the token signer). Service slots only; the bytes are zeroized on drop.
    pub async fn service_pkcs8(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
    ) -> Result<Zeroizing<Vec<u8>>, CustodyError> {
        let (row, algorithm) = self.load(db, owner, key_id).await?;
        let slot = store::custody::find_slot(db, &row.id, &Slot::Service.name())
            .await?
            .ok_or(CustodyError::Integrity)?;
        let dk = self
            .unwrap_slot(owner, key_id, &Binding::Service, &slot)
            .await?;
        Ok(sealed::open(
            &dk,
            &sealed_aad(owner, key_id, algorithm),
            &row.sealed_private,
        )?)
    }

    /// Opens a service key (CA, OCSP responder) for the life of the process.
    pub async fn open_service_key(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
    ) -> Result<SigningKey, CustodyError> {
        let (key, dk) = self.open_key(db, owner, key_id, &Binding::Service).await?;
        drop(dk);
        Ok(key)
    }

    /// Opens the data key with `binding` and parses the private key, auditing the attempt.
    async fn open_key(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        binding: &Binding<'_>,
    ) -> Result<(SigningKey, DataKey), CustodyError> {
        let (row, algorithm) = self.load(db, owner, key_id).await?;
        let slot_name = binding.slot().name();
        let slot = store::custody::find_slot(db, &row.id, &slot_name).await?;
        // Everything that decides whether the secret is right, and nothing that touches the
        // database: for a PIN it runs under the key's lock (see the lockout diagram above).
        let unlock = async {
            let slot = slot.ok_or(match binding {
                Binding::Pin(_) => CustodyError::WrongPin,
                Binding::Passkey(_) => CustodyError::PasskeyNotBound,
                Binding::Service => CustodyError::Integrity,
            })?;
            let dk = self.unwrap_slot(owner, key_id, binding, &slot).await?;
            let pkcs8 = sealed::open(
                &dk,
                &sealed_aad(owner, key_id, algorithm),
                &row.sealed_private,
            )?;
            Ok::<_, CustodyError>((pkcs8, dk))
        };
        let (pkcs8, dk) = match binding {
            Binding::Pin(_) => self.decide_pin(db, owner, key_id, &row.id, unlock).await?,
            _ => match unlock.await {
                Ok(opened) => opened,
                Err(e) => {
                    // Wrong secrets and integrity failures are security events; outages are
                    // not attempts (and the audit write would fail with them).
                    if matches!(e, CustodyError::PasskeyNotBound | CustodyError::Integrity) {
                        let event = NewEvent::new(owner.actor(), Action::KeyActivationFailed)
                            .subject(key_id.to_string())
                            .details(
                                json!({"slot": slot_kind(&slot_name), "reason": e.to_string()}),
                            );
                        self.audit(db, &[event]).await?;
                    }
                    return Err(e);
                }
            },
        };
        let key = parse_off_workers(algorithm, pkcs8).await?;
        Ok((key, dk))
    }

    /// Decides one PIN attempt of key `row_id` while holding the key's lock: this node's
    /// per-key lock, and on PostgreSQL the counter's row lock for the transaction, so attempts
    /// on one key are decided one at a time across the cluster. Parallel right PINs all
    /// succeed; parallel wrong PINs count exactly; an outage decides (and writes) nothing.
    async fn decide_pin<T>(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        row_id: &str,
        unlock: impl std::future::Future<Output = Result<T, CustodyError>>,
    ) -> Result<T, CustodyError> {
        let _one_at_a_time = self.pin_locks.lock(row_id).await;
        if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            let txn = db.begin().await.map_err(StoreError::from)?;
            let (result, decided) = self
                .pin_attempt(&txn, owner, key_id, row_id, unlock)
                .await?;
            if decided {
                txn.commit().await.map_err(StoreError::from)?;
            }
            result
        } else {
            self.pin_attempt(db, owner, key_id, row_id, unlock).await?.0
        }
    }

    /// One PIN attempt against the counter read (and locked) on `conn`; returns the outcome
    /// and whether it decided anything (to be committed).
    async fn pin_attempt<C, T>(
        &self,
        conn: &C,
        owner: &OwnerId,
        key_id: Uuid,
        row_id: &str,
        unlock: impl std::future::Future<Output = Result<T, CustodyError>>,
    ) -> Result<(Result<T, CustodyError>, bool), CustodyError>
    where
        C: sea_orm::ConnectionTrait + TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
    {
        let now = self.clock.now();
        let (failures, locked) = store::custody::lock_pin_state(conn, row_id, now).await?;
        if locked || failures >= self.max_pin_failures {
            let event = NewEvent::new(owner.actor(), Action::KeyActivationFailed)
                .subject(key_id.to_string())
                .details(json!({"slot": "pin", "reason": "PIN locked"}));
            store::audit::append(conn, now, &[event]).await?;
            return Ok((Err(CustodyError::PinLocked), true));
        }
        match unlock.await {
            Ok(opened) => {
                if failures > 0 {
                    store::custody::set_pin_failures(conn, row_id, 0, false, now).await?;
                }
                Ok((Ok(opened), true))
            }
            Err(e @ (CustodyError::WrongPin | CustodyError::Integrity)) => {
                let now = self.clock.now();
                let counted = failures + 1;
                let lock = counted >= self.max_pin_failures;
                store::custody::set_pin_failures(conn, row_id, counted, lock, now).await?;
                let mut events = vec![
                    NewEvent::new(owner.actor(), Action::KeyActivationFailed)
                        .subject(key_id.to_string())
                        .details(
                            json!({"slot": "pin", "reason": e.to_string(), "failures": counted}),
                        ),
                ];
                if lock {
                    events.push(
                        NewEvent::new(owner.actor(), Action::PinLocked)
                            .subject(key_id.to_string())
                            .details(json!({"failures": counted})),
                    );
                }
                store::audit::append(conn, now, &events).await?;
                Ok((Err(e), true))
            }
            // An outage decided nothing: nothing is counted.
            Err(e) => Ok((Err(e), false)),
        }
    }

    async fn activate(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        binding: &Binding<'_>,
        max_signatures: Option<u32>,
    ) -> Result<ActivationInfo, CustodyError> {
        let (info, event) = self
            .activate_unaudited(db, owner, key_id, binding, max_signatures)
            .await?;
        if let Err(e) = self.audit(db, &[event]).await {
            // Not audited, not usable: wipe it again.
            self.activations.remove(info.id);
            return Err(e);
        }
        Ok(info)
    }

    /// Opens the key and holds the activation; its `key.activated` event is the caller's to
    /// write before anything the activation produces leaves the service.
    async fn activate_unaudited(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        binding: &Binding<'_>,
        max_signatures: Option<u32>,
    ) -> Result<(ActivationInfo, NewEvent), CustodyError> {
        let (key, dk) = self.open_key(db, owner, key_id, binding).await?;
        drop(dk);
        let info = self.activations.insert(
            owner.as_str(),
            key_id,
            key,
            self.clock.now(),
            max_signatures,
        )?;
        let event = NewEvent::new(owner.actor(), Action::KeyActivated)
            .subject(key_id.to_string())
            .details(json!({
                "slot": slot_kind(&binding.slot().name()),
                "activation": info.id.to_string(),
                "expires_at": info.expires_at.to_rfc3339(),
                "max_signatures": info.remaining,
            }));
        Ok((info, event))
    }

    /// Activates a key for one use within the caller's request (a native approval): the
    /// `key.activated` event comes back unwritten, to be committed in the same transaction as
    /// what the activation produced, and the caller wipes the activation when done. Nothing
    /// the activation signs may leave unless that commit succeeds.
    pub async fn activate_once(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        unlock: Unlock<'_>,
        max_signatures: Option<u32>,
    ) -> Result<(ActivationInfo, NewEvent), CustodyError> {
        let binding = match unlock {
            Unlock::Pin(pin) => Binding::Pin(pin),
            Unlock::Passkey(id) => Binding::Passkey(id),
        };
        self.activate_unaudited(db, owner, key_id, &binding, max_signatures)
            .await
    }

    /// A key's algorithm and whether its PIN is locked (no secret is touched).
    pub async fn key_status(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
    ) -> Result<(KeyAlgorithm, bool), CustodyError> {
        let (row, algorithm) = self.load(db, owner, key_id).await?;
        let (_, locked) = store::custody::pin_state(db, &row.id).await?;
        Ok((algorithm, locked))
    }

    /// Checks a PIN (with lockout and auditing) without activating the key: sign-in.
    pub async fn verify_pin(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        pin: &Pin,
    ) -> Result<(), CustodyError> {
        let (key, dk) = self.open_key(db, owner, key_id, &Binding::Pin(pin)).await?;
        drop((key, dk));
        Ok(())
    }

    /// Activates a key with its PIN for at most `max_signatures` (capped by configuration).
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), key = %key_id))]
    pub async fn activate_with_pin(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        pin: &Pin,
        max_signatures: Option<u32>,
    ) -> Result<ActivationInfo, CustodyError> {
        self.activate(db, owner, key_id, &Binding::Pin(pin), max_signatures)
            .await
    }

    /// Activates a key through a passkey's slot. The caller has verified the WebAuthn
    /// assertion of `credential_id`.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), key = %key_id))]
    pub async fn activate_with_passkey(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        credential_id: &[u8],
        max_signatures: Option<u32>,
    ) -> Result<ActivationInfo, CustodyError> {
        self.activate(
            db,
            owner,
            key_id,
            &Binding::Passkey(credential_id),
            max_signatures,
        )
        .await
    }

    /// Re-binds the PIN slot to `new` (the old PIN is required); the data key and sealed key
    /// stay the same, passkey slots are untouched.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), key = %key_id))]
    pub async fn change_pin(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        old: &Pin,
        new: &Pin,
    ) -> Result<(), CustodyError> {
        let (_key, dk) = self.open_key(db, owner, key_id, &Binding::Pin(old)).await?;
        let current = store::custody::find_slot(db, &key_id.to_string(), "pin")
            .await?
            .ok_or(CustodyError::WrongPin)?;
        let fresh = self
            .wrap_slot(owner, key_id, &Binding::Pin(new), &dk)
            .await?;
        drop(dk);
        let now = self.clock.now();
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !store::custody::replace_slot(&txn, &current, &fresh.kms_key_id, &fresh.wrapped, now)
            .await?
        {
            // Changed concurrently: refuse rather than overwrite a PIN we did not check.
            return Err(CustodyError::WrongPin);
        }
        store::audit::append(
            &txn,
            now,
            &[NewEvent::new(owner.actor(), Action::PinChanged).subject(key_id.to_string())],
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Gives a passkey its own copy of the data key (the PIN is required to make it).
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), key = %key_id))]
    pub async fn bind_passkey(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        pin: &Pin,
        credential_id: &[u8],
    ) -> Result<(), CustodyError> {
        let slot = Slot::passkey(credential_id);
        if store::custody::find_slot(db, &key_id.to_string(), &slot.name())
            .await?
            .is_some()
        {
            return Err(CustodyError::PasskeyAlreadyBound);
        }
        let (_key, dk) = self.open_key(db, owner, key_id, &Binding::Pin(pin)).await?;
        let row = self
            .wrap_slot(owner, key_id, &Binding::Passkey(credential_id), &dk)
            .await?;
        drop(dk);
        let now = self.clock.now();
        let event = NewEvent::new(owner.actor(), Action::PasskeyBound)
            .subject(key_id.to_string())
            .details(json!({"slot": row.slot}));
        let txn = db.begin().await.map_err(StoreError::from)?;
        store::custody::insert_slot(&txn, &row, now).await?;
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Removes a passkey's copy of the data key.
    pub async fn unbind_passkey(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        credential_id: &[u8],
    ) -> Result<(), CustodyError> {
        self.load(db, owner, key_id).await?;
        let slot = Slot::passkey(credential_id).name();
        let now = self.clock.now();
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !store::custody::delete_slot(&txn, &key_id.to_string(), &slot).await? {
            return Err(CustodyError::PasskeyNotBound);
        }
        let event = NewEvent::new(owner.actor(), Action::PasskeyUnbound)
            .subject(key_id.to_string())
            .details(json!({"slot": slot}));
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Activates a key with its PIN as a cluster authorization (a CSC SAD): the node keeps the
    /// parsed key for the window, and the returned activation record (see [`record`]) lets any
    /// node that meets `sad` open it again. Audited like every activation.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), key = %key_id))]
    pub async fn activate_for_sad(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        pin: &Pin,
        sad: &[u8],
        max_signatures: u32,
    ) -> Result<(ActivationInfo, Vec<u8>), CustodyError> {
        let (key, dk) = self.open_key(db, owner, key_id, &Binding::Pin(pin)).await?;
        let now = self.clock.now();
        let (id, expires_at) = self.activations.plan(now);
        let ctx = record::context(owner, key_id, id, expires_at);
        let wrapped = self
            .kms
            .encrypt(dk.as_ref(), &ctx)
            .await
            .map_err(CustodyError::Kms)?;
        drop(dk);
        let sealed = record::seal(&record::sad_key(sad, id)?, &ctx, &wrapped)?;
        self.activations
            .insert_uncounted(id, owner.as_str(), key_id, key, now, expires_at)?;
        let info = ActivationInfo {
            id,
            key_id,
            expires_at,
            remaining: max_signatures,
        };
        let event = NewEvent::new(owner.actor(), Action::KeyActivated)
            .subject(key_id.to_string())
            .details(json!({
                "slot": "pin",
                "activation": id.to_string(),
                "expires_at": expires_at.to_rfc3339(),
                "max_signatures": max_signatures,
                "record": true,
            }));
        if let Err(e) = self.audit(db, &[event]).await {
            self.activations.remove(id);
            return Err(e);
        }
        Ok((info, sealed))
    }

    /// Makes sure this node holds the key of cluster authorization `activation`, opening its
    /// record with `sad` (one KMS call, the key parsed once off the async workers) if it does
    /// not. Concurrent callers on one node wait for one opening. A record that does not open
    /// (another SAD, key, owner, activation or expiry; tampering) is an integrity failure.
    pub async fn ensure_sad_activation(
        &self,
        db: &DatabaseConnection,
        of: &record::RecordOf,
        sad: &[u8],
        sealed: &[u8],
    ) -> Result<(), CustodyError> {
        let record::RecordOf {
            owner,
            key_id,
            activation,
            expires_at,
        } = of;
        let (key_id, activation, expires_at) = (*key_id, *activation, *expires_at);
        if self
            .activations
            .holds(activation, owner.as_str(), self.clock.now())
        {
            return Ok(());
        }
        let _once = self.opening.lock(&activation.to_string()).await;
        let now = self.clock.now();
        if self.activations.holds(activation, owner.as_str(), now) {
            return Ok(());
        }
        if now >= expires_at {
            return Err(ActivationError::Expired.into());
        }
        let ctx = of.context();
        let (row, algorithm) = self.load(db, owner, key_id).await?;
        let opened = async {
            let wrapped = record::open(&record::sad_key(sad, activation)?, &ctx, sealed)?;
            let plain = match self.kms.decrypt(&wrapped, &ctx).await {
                Ok(p) => p,
                Err(KmsError::InvalidCiphertext) => return Err(CustodyError::Integrity),
                Err(e) => return Err(CustodyError::Kms(e)),
            };
            if plain.len() != DATA_KEY_LEN {
                return Err(CustodyError::Integrity);
            }
            let mut dk = Zeroizing::new([0u8; DATA_KEY_LEN]);
            dk.copy_from_slice(&plain);
            drop(plain);
            Ok(sealed::open(
                &dk,
                &sealed_aad(owner, key_id, algorithm),
                &row.sealed_private,
            )?)
        }
        .await;
        let details = json!({"slot": "activation", "activation": activation.to_string()});
        let pkcs8 = match opened {
            Ok(pkcs8) => pkcs8,
            Err(e) => {
                if matches!(e, CustodyError::Integrity) {
                    // A record that does not open with the SAD its row is found by: moved or
                    // tampered with.
                    let event = NewEvent::new(owner.actor(), Action::KeyActivationFailed)
                        .subject(key_id.to_string())
                        .details(json!({"slot": "activation", "activation": activation.to_string(), "reason": e.to_string()}));
                    self.audit(db, &[event]).await?;
                }
                return Err(e);
            }
        };
        let key = parse_off_workers(algorithm, pkcs8).await?;
        // Each node that opens the record says so (once per node and authorization).
        let event = NewEvent::new(owner.actor(), Action::KeyActivationOpened)
            .subject(key_id.to_string())
            .details(details);
        self.audit(db, &[event]).await?;
        self.activations.insert_uncounted(
            activation,
            owner.as_str(),
            key_id,
            key,
            self.clock.now(),
            expires_at,
        )?;
        tracing::debug!(%activation, "activation record opened on this node");
        Ok(())
    }

    /// Re-seals an activation record from `old_sad` to `new_sad` (extendTransaction): only the
    /// outer layer changes, so no KMS call is made.
    pub fn reseal_record(
        &self,
        of: &record::RecordOf,
        old_sad: &[u8],
        new_sad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, CustodyError> {
        let ctx = of.context();
        let wrapped = record::open(&record::sad_key(old_sad, of.activation)?, &ctx, sealed)?;
        Ok(record::seal(
            &record::sad_key(new_sad, of.activation)?,
            &ctx,
            &wrapped,
        )?)
    }

    /// Signs a message with a live activation.
    pub fn sign(
        &self,
        owner: &OwnerId,
        activation: Uuid,
        scheme: SignatureScheme,
        message: &[u8],
    ) -> Result<Vec<u8>, CustodyError> {
        Ok(self.activations.sign(
            activation,
            owner.as_str(),
            self.clock.now(),
            scheme,
            message,
        )?)
    }

    /// Signs a SHA-256 digest with a live activation.
    pub fn sign_digest(
        &self,
        owner: &OwnerId,
        activation: Uuid,
        scheme: SignatureScheme,
        sha256: &[u8],
    ) -> Result<Vec<u8>, CustodyError> {
        Ok(self.activations.sign_digest(
            activation,
            owner.as_str(),
            self.clock.now(),
            scheme,
            sha256,
        )?)
    }

    /// Moves up to `limit` slots not under the current KMS key to it, `batch` per transaction
    /// (each with one audit event). Safe to interrupt and run again: each slot is replaced by
    /// compare-and-set, and a run picks up whatever is still under an old key.
    pub async fn rewrap(
        &self,
        db: &DatabaseConnection,
        batch: u64,
        limit: u64,
    ) -> Result<RewrapReport, CustodyError> {
        let current = self.kms.current_key_id();
        let mut report = RewrapReport::default();
        let mut after: Option<(String, String)> = None;
        while report.moved + report.skipped < limit {
            let take = batch.min(limit - report.moved - report.skipped);
            let page = store::custody::slots_not_under(
                db,
                &current,
                after.as_ref().map(|(k, s)| (k.as_str(), s.as_str())),
                take,
            )
            .await?;
            let Some(last) = page.last() else { break };
            after = Some((last.slot.key_id.clone(), last.slot.slot.clone()));
            // KMS first (nothing written), then one transaction for the batch.
            let mut moved = Vec::with_capacity(page.len());
            for owned in &page {
                let owner = OwnerId::parse(&owned.owner_id)?;
                let key_id =
                    Uuid::parse_str(&owned.slot.key_id).map_err(|_| CustodyError::Integrity)?;
                let slot = match owned.slot.slot.as_str() {
                    "pin" => Slot::Pin,
                    "service" => Slot::Service,
                    other => Slot::Passkey(other.trim_start_matches("passkey:").to_owned()),
                };
                let wrapped = kms::WrappedKey {
                    kms_key_id: owned.slot.kms_key_id.clone(),
                    blob: owned.slot.wrapped.clone(),
                };
                let fresh = self
                    .kms
                    .re_encrypt(&wrapped, &context(&owner, key_id, &slot))
                    .await
                    .map_err(|e| match e {
                        KmsError::InvalidCiphertext => CustodyError::Integrity,
                        other => CustodyError::Kms(other),
                    })?;
                moved.push((owned.slot.clone(), fresh));
            }
            let now = self.clock.now();
            let txn = db.begin().await.map_err(StoreError::from)?;
            let mut done = 0u64;
            for (old, fresh) in &moved {
                if store::custody::replace_slot(&txn, old, &fresh.kms_key_id, &fresh.blob, now)
                    .await?
                {
                    done += 1;
                } else {
                    report.skipped += 1;
                }
            }
            let event = NewEvent::new(Actor::Operator, Action::KeysRewrapped)
                .details(json!({"to": current, "slots": done}));
            store::audit::append(&txn, now, &[event]).await?;
            txn.commit().await.map_err(StoreError::from)?;
            report.moved += done;
        }
        report.remaining = store::custody::count_by_kms_key(db)
            .await?
            .into_iter()
            .filter(|(id, _)| *id != current)
            .map(|(_, n)| n)
            .sum();
        Ok(report)
    }
}

fn slot_kind(slot: &str) -> &'static str {
    match slot {
        "pin" => "pin",
        "service" => "service",
        _ => "passkey",
    }
}

/// Parses a PKCS#8 key on the blocking pool: an RSA parse costs about as much as a signature
/// and must not hold up the async workers.
async fn parse_off_workers(
    algorithm: KeyAlgorithm,
    pkcs8: Zeroizing<Vec<u8>>,
) -> Result<SigningKey, CustodyError> {
    Ok(
        tokio::task::spawn_blocking(move || SigningKey::from_pkcs8(algorithm, &pkcs8))
            .await
            .map_err(|_| KeyError::Parse("key"))??,
    )
}
