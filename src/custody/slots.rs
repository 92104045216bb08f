//! Slots: the copies of a key's data key, each opened by one secret (the PIN, one passkey, or
//! the service itself). Owns wrapping and unwrapping a slot (KMS MAC → slot key → inner seal →
//! KMS encrypt), binding and unbinding a passkey, and the encryption context and associated
//! data that tie every layer to its owner, key and slot.
//!
//! It never decides whether a PIN attempt counts: that is [`super::unlock`]'s job. Opening a
//! slot with the wrong secret returns `WrongPin` / `PasskeyNotBound` and nothing else.

use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    Custody, CustodyError, OwnerId,
    keys::KeyAlgorithm,
    kms::{self, DATA_KEY_LEN, DataKey, EncryptionContext, KmsError},
    sealed::{self, framed},
};
pub use crate::domain::slot::Slot;
use crate::{
    audit::{Action, NewEvent},
    domain::pin::Pin,
    store::{self, StoreError, custody::SlotRow},
};

pub(super) fn context(owner: &OwnerId, key_id: Uuid, slot: &Slot) -> EncryptionContext {
    EncryptionContext::new()
        .with("fincert:owner", owner.as_str())
        .with("fincert:key", key_id.to_string())
        .with("fincert:slot", slot.name())
}

pub(super) fn sealed_aad(owner: &OwnerId, key_id: Uuid, algorithm: KeyAlgorithm) -> Vec<u8> {
    framed(&[
        b"fincert-sealed-pkcs8-v1",
        owner.as_str().as_bytes(),
        key_id.as_bytes(),
        algorithm.as_str().as_bytes(),
    ])
}

/// The secret that binds a slot: the PIN, the passkey's credential id, or nothing but the KMS
/// (service keys: the CA's, which the service itself must be able to open).
pub(super) enum Binding<'a> {
    Pin(&'a Pin),
    Passkey(&'a [u8]),
    Service,
}

impl Binding<'_> {
    pub(super) fn slot(&self) -> Slot {
        match self {
            Self::Pin(_) => Slot::Pin,
            Self::Passkey(cred) => Slot::passkey(cred),
            Self::Service => Slot::Service,
        }
    }

    pub(super) fn mac_message(&self, owner: &OwnerId, key_id: Uuid) -> Zeroizing<Vec<u8>> {
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
    /// Wraps `dk` into the slot for `binding`: KMS MAC → slot key → inner seal → KMS encrypt.
    pub(super) async fn wrap_slot(
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
            slot,
            kms_key_id: wrapped.kms_key_id,
            wrapped: wrapped.blob,
            mac_backend: None,
        })
    }

    /// Opens a slot with its binding. A context or inner-layer mismatch means the binding is
    /// wrong (wrong PIN, unbound passkey) or the slot was moved: the caller cannot tell which.
    pub(super) async fn unwrap_slot(
        &self,
        owner: &OwnerId,
        key_id: Uuid,
        binding: &Binding<'_>,
        row: &SlotRow,
    ) -> Result<DataKey, CustodyError> {
        let wrong = || match binding {
            Binding::Pin(_) => CustodyError::WrongPin { tries_left: None },
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
            .mac_by(row.mac_source(), &binding.mac_message(owner, key_id))
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

    /// After `row` opened with `binding` to `dk`: if its inner key still derives from another
    /// backend's MAC key (a slot `kms rewrap` moved across backends), binds it again under the
    /// current backend (its MAC key and its wrap), by compare-and-set with one audit event.
    /// Only the holder's use can do this for a PIN slot: the PIN is needed to derive the new
    /// inner key. Best effort: the holder's request has succeeded whatever happens here, and a
    /// failure leaves the old slot in place for the next use.
    pub(super) async fn rebind_if_moved(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        binding: &Binding<'_>,
        row: &SlotRow,
        dk: &DataKey,
    ) {
        let current = self.kms.backend();
        if row.mac_source() == current {
            return;
        }
        let from = row.mac_source().to_owned();
        let rebound = async {
            let fresh = self.wrap_slot(owner, key_id, binding, dk).await?;
            let now = self.clock.now();
            let event = NewEvent::new(owner.actor(), Action::SlotRebound)
                .subject(key_id.to_string())
                .details(json!({"slot": slot_kind(&row.slot.name()), "from": from, "to": current}));
            let txn = db.begin().await.map_err(StoreError::from)?;
            if store::custody::replace_slot(&txn, row, &fresh, now).await? {
                store::audit::append_within(&txn, now, &[event]).await?;
                txn.commit().await.map_err(StoreError::from)?;
            }
            Ok::<_, CustodyError>(())
        };
        if let Err(e) = rebound.await {
            tracing::warn!(key = %key_id, from = %from, error = %e, "slot not bound again under the current KMS backend; the next use tries again");
        }
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
            .details(json!({"slot": row.slot.name()}));
        let txn = db.begin().await.map_err(StoreError::from)?;
        store::custody::insert_slot(&txn, &row, now).await?;
        store::audit::append_within(&txn, now, &[event]).await?;
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
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }
}

/// The kind of a stored slot name, for audit details: `pin`, `service` or `passkey`.
pub(super) fn slot_kind(slot: &str) -> &'static str {
    match slot {
        "pin" => "pin",
        "service" => "service",
        _ => "passkey",
    }
}
