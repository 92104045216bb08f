//! The decoy PIN check: the work of a wrong PIN against a slot no PIN opens, for sign-ins that
//! name an unknown or unusable certificate, or a locked one to someone not identified (see
//! `auth::login`), so that neither the answer nor the time it takes tells them from a wrong
//! PIN. One KMS Decrypt of a PIN slot under a PIN slot's encryption context, one KMS MAC of a
//! PIN message of the same length as a real one, and the inner open that fails — exactly the
//! calls `unwrap_slot` makes for a wrong PIN.
//!
//! The decoy slot is made once per node on first use (one KMS Encrypt of a random inner layer
//! sealed under a random key): no PIN can open it, so the check never succeeds, counts
//! nothing, and writes nothing. A KMS outage is reported as the outage it is.
//!
//! The decoy attempt is the database half of a wrong PIN: the reads `open_key` makes (the key
//! row, its PIN slot, the failure counter) and the one transaction a wrong PIN commits (the
//! counter written, the audit events appended), against decoy counter rows of their own
//! (`pin_attempts` rows of [`DECOY_SHARDS`] decoy key ids that no custody key has, picked by
//! the certificate id so that unknown ids do not all queue on one row lock). The counter is
//! written back to 0: a decoy never locks.
//!
//! The decoy passkey credential id: a passkey sign-in started for a certificate that is unknown,
//! not active or has no passkey is answered like one that has (WebAuthn §14.6.2, "username
//! enumeration"), offering a credential id that no authenticator holds. The id is an HMAC of the
//! certificate id under a key that is one KMS MAC of a fixed message, made once per node: the
//! same on every node and after every restart, as a real holder's credential ids are, so asking
//! twice (through a load balancer, say) tells nothing either.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use sea_orm::{DatabaseConnection, TransactionTrait};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    Custody, CustodyError, OwnerId,
    kms::{DATA_KEY_LEN, KmsError, WrappedKey},
    sealed,
    slots::{Binding, context},
};
use crate::{
    audit::NewEvent,
    domain::pin::Pin,
    store::{self, StoreError},
};

/// The owner and key the decoy slot is bound to (no real key has them).
const DECOY_OWNER: &str = "svc:sign-in-decoy";
const DECOY_KEY: Uuid = Uuid::from_u128(0x6669_6e63_6572_742d_6465_636f_7930_0001);
/// What the KMS MACs once to make the decoy passkey credential ids' key.
const PASSKEY_DECOY_MESSAGE: &[u8] = b"fincert:passkey-sign-in-decoy:v1";
/// Decoy counter rows: a refusal for certificate id `c` writes the row of shard `c mod
/// DECOY_SHARDS`, so that concurrent refusals for different ids rarely wait for one another
/// (a wrong PIN waits only for attempts on its own key).
pub const DECOY_SHARDS: u128 = 64;
/// Bytes in a decoy credential id (as many as platform authenticators' ids commonly have).
pub const DECOY_CREDENTIAL_ID_LEN: usize = 32;

impl Custody {
    /// Spends the work of one wrong PIN and answers `WrongPin` (or the KMS outage).
    pub async fn decoy_pin_check(&self, pin: &Pin) -> Result<(), CustodyError> {
        let owner = OwnerId::parse(DECOY_OWNER).map_err(|_| CustodyError::InvalidOwner)?;
        let binding = Binding::Pin(pin);
        let wrapped = self
            .decoy
            .get_or_try_init(|| self.make_decoy(&owner, &binding))
            .await?;
        let ctx = context(&owner, DECOY_KEY, &binding.slot());
        let inner = match self.kms.decrypt(wrapped, &ctx).await {
            Ok(inner) => inner,
            Err(KmsError::InvalidCiphertext) => {
                return Err(CustodyError::WrongPin { tries_left: None });
            }
            Err(e) => return Err(CustodyError::Kms(e)),
        };
        let mac = self
            .kms
            .mac(&binding.mac_message(&owner, DECOY_KEY))
            .await
            .map_err(CustodyError::Kms)?;
        // Fails: the inner layer was sealed under a random key, not one a MAC gives.
        match sealed::open(&sealed::slot_key(&mac)?, &ctx.canonical(), &inner) {
            Ok(_) => Err(CustodyError::Integrity),
            Err(_) => Err(CustodyError::WrongPin { tries_left: None }),
        }
    }

    /// Makes the decoy counter rows that are not there yet (at startup, once per node; a no-op
    /// on a database that has them), so that no refusal pays for making one.
    pub async fn prepare_decoys(&self, db: &DatabaseConnection) -> Result<(), StoreError> {
        let ids: Vec<String> = (0..DECOY_SHARDS)
            .map(|n| Uuid::from_u128(DECOY_KEY.as_u128() + n).to_string())
            .collect();
        store::custody::ensure_pin_counters(db, &ids, self.clock.now()).await
    }

    /// The database work of one wrong PIN for a refusal that reaches no real key (see the
    /// module doc): the same reads, then one transaction that writes the decoy counter of
    /// `certificate_id`'s shard and appends `events`.
    pub async fn decoy_attempt(
        &self,
        db: &DatabaseConnection,
        certificate_id: Uuid,
        events: &[NewEvent],
    ) -> Result<(), CustodyError> {
        let shard = Uuid::from_u128(DECOY_KEY.as_u128() + certificate_id.as_u128() % DECOY_SHARDS);
        // (The row exists from `prepare_decoys`; `lock_pin_state` makes it if not.)
        let id = shard.to_string();
        store::custody::find_key(db, DECOY_OWNER, &id).await?;
        store::custody::find_slot(db, &id, "pin").await?;
        let now = self.clock.now();
        // As `decide_pin` does: on PostgreSQL the counter is read under its row lock in the
        // transaction; on SQLite it is read first, and the transaction only writes.
        let txn = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            let txn = db.begin().await.map_err(StoreError::from)?;
            store::custody::lock_pin_state(&txn, &id, now).await?;
            txn
        } else {
            store::custody::lock_pin_state(db, &id, now).await?;
            db.begin().await.map_err(StoreError::from)?
        };
        store::custody::set_pin_failures(&txn, &id, 0, false, now).await?;
        store::audit::append_within(&txn, now, events).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// The credential id a passkey sign-in offers for `certificate_id` when it has no passkey
    /// to offer: stable for that id across nodes and restarts, held by no authenticator.
    pub async fn decoy_credential_id(&self, certificate_id: Uuid) -> Result<Vec<u8>, CustodyError> {
        let key = self
            .passkey_decoy
            .get_or_try_init(|| self.kms.mac(PASSKEY_DECOY_MESSAGE))
            .await
            .map_err(CustodyError::Kms)?;
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
        let tag = aws_lc_rs::hmac::sign(&key, certificate_id.as_bytes());
        Ok(tag.as_ref()[..DECOY_CREDENTIAL_ID_LEN].to_vec())
    }

    /// The decoy slot: a random data key sealed under a random slot key, KMS-encrypted under a
    /// PIN slot's context.
    async fn make_decoy(
        &self,
        owner: &OwnerId,
        binding: &Binding<'_>,
    ) -> Result<WrappedKey, CustodyError> {
        let rng = SystemRandom::new();
        let mut dk = Zeroizing::new([0u8; DATA_KEY_LEN]);
        let mut not_a_mac = Zeroizing::new([0u8; 32]);
        rng.fill(dk.as_mut())
            .and_then(|()| rng.fill(not_a_mac.as_mut()))
            .map_err(|_| CustodyError::Kms(KmsError::Unavailable("random source failed".into())))?;
        let ctx = context(owner, DECOY_KEY, &binding.slot());
        let inner = sealed::seal(
            &sealed::slot_key(not_a_mac.as_ref())?,
            &ctx.canonical(),
            dk.as_ref(),
        )?;
        self.kms
            .encrypt(&inner, &ctx)
            .await
            .map_err(CustodyError::Kms)
    }
}
