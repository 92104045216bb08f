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

/// A passkey's PRF (WebAuthn `prf`, CTAP `hmac-secret`): the salt its slot was bound with and
/// the authenticator's output over it. Only the holder's authenticator can compute the
/// output; it reaches fincert in the WebAuthn ceremony's client extension results and lives
/// only as long as the request.
pub struct Prf {
    /// The slot's salt (not secret; stored with the slot, sent in the ceremony's options).
    pub salt: [u8; 32],
    /// The authenticator's PRF output over `salt`.
    pub output: Zeroizing<[u8; 32]>,
}

/// The secret that binds a slot: the PIN, the passkey's credential id (and its PRF output,
/// for a slot bound with one), or nothing but the KMS (service keys: the CA's, which the
/// service itself must be able to open).
#[derive(Clone, Copy)]
pub(super) enum Binding<'a> {
    Pin(&'a Pin),
    Passkey(&'a [u8], Option<&'a Prf>),
    Service,
}

impl<'a> Binding<'a> {
    pub(super) fn slot(&self) -> Slot {
        match self {
            Self::Pin(_) => Slot::Pin,
            Self::Passkey(cred, _) => Slot::passkey(cred),
            Self::Service => Slot::Service,
        }
    }

    /// The binding that opens `row`: a slot without a PRF salt ignores a PRF output (the
    /// authenticator has one, the slot was bound without it); a slot with one needs the
    /// output over that very salt, else nothing can open it (`None`).
    pub(super) fn for_row(self, row: &SlotRow) -> Option<Binding<'a>> {
        match (self, row.prf_salt.as_deref()) {
            (Self::Passkey(cred, _), None) => Some(Self::Passkey(cred, None)),
            (Self::Passkey(cred, Some(prf)), Some(salt)) if prf.salt.as_slice() == salt => {
                Some(Self::Passkey(cred, Some(prf)))
            }
            (Self::Passkey(..), Some(_)) => None,
            (other, _) => Some(other),
        }
    }

    pub(super) fn mac_message(&self, owner: &OwnerId, key_id: Uuid) -> Zeroizing<Vec<u8>> {
        let prf_secret;
        let (label, secret): (&[u8], &[u8]) = match self {
            Self::Pin(pin) => (b"fincert-pin-v1", pin.expose()),
            Self::Passkey(cred, None) => (b"fincert-passkey-v1", cred),
            Self::Passkey(cred, Some(prf)) => {
                prf_secret = Zeroizing::new(framed(&[cred, prf.output.as_slice()]));
                (b"fincert-passkey-prf-v1", prf_secret.as_slice())
            }
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
            prf_salt: match binding {
                Binding::Passkey(_, Some(prf)) => Some(prf.salt.to_vec()),
                _ => None,
            },
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
            Binding::Passkey(..) => CustodyError::PasskeyNotBound,
            Binding::Service => CustodyError::Integrity,
        };
        let binding = &binding.for_row(row).ok_or_else(wrong)?;
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

    /// Gives a passkey its own copy of the data key (the PIN is required to make it), bound by
    /// the credential id alone (an authenticator without PRF).
    pub async fn bind_passkey(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        pin: &Pin,
        credential_id: &[u8],
    ) -> Result<(), CustodyError> {
        self.bind_passkey_with(db, owner, key_id, pin, credential_id, None)
            .await
    }

    /// Gives a passkey its own copy of the data key (the PIN is required to make it). With
    /// `prf`, the copy is bound by the authenticator's PRF output too: sole control, as the
    /// database, the KMS and the credential id no longer open it without the holder's device.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), key = %key_id))]
    pub async fn bind_passkey_with(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        pin: &Pin,
        credential_id: &[u8],
        prf: Option<&Prf>,
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
            .wrap_slot(owner, key_id, &Binding::Passkey(credential_id, prf), &dk)
            .await?;
        drop(dk);
        let now = self.clock.now();
        let event = NewEvent::new(owner.actor(), Action::PasskeyBound)
            .subject(key_id.to_string())
            .details(json!({"slot": row.slot.name(), "prf": prf.is_some()}));
        let txn = db.begin().await.map_err(StoreError::from)?;
        store::custody::insert_slot(&txn, &row, now).await?;
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// The PRF salts of `key_id`'s passkey slots bound with one, by slot name
    /// (`Slot::passkey(credential id)`): what a ceremony asks each authenticator to evaluate.
    pub async fn prf_salts(
        &self,
        db: &DatabaseConnection,
        key_id: Uuid,
    ) -> Result<std::collections::HashMap<String, [u8; 32]>, CustodyError> {
        Ok(store::custody::slots_of(db, &key_id.to_string())
            .await?
            .into_iter()
            .filter_map(|row| {
                let salt: [u8; 32] = row.prf_salt.as_deref()?.try_into().ok()?;
                Some((row.slot.name(), salt))
            })
            .collect())
    }

    /// How many passkey copies `key_id` has, and how many of them need their authenticator's
    /// PRF output (sole control).
    pub async fn passkey_copies(
        &self,
        db: &DatabaseConnection,
        key_id: Uuid,
    ) -> Result<(u32, u32), CustodyError> {
        let slots = store::custody::slots_of(db, &key_id.to_string()).await?;
        let passkeys = slots
            .iter()
            .filter(|s| slot_kind(&s.slot.name()) == "passkey");
        let (mut bound, mut sole) = (0, 0);
        for s in passkeys {
            bound += 1;
            sole += u32::from(s.prf_salt.is_some());
        }
        Ok((bound, sole))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(prf_salt: Option<[u8; 32]>) -> SlotRow {
        SlotRow {
            key_id: Uuid::nil().to_string(),
            slot: Slot::passkey(b"cred"),
            kms_key_id: "local:1".into(),
            wrapped: vec![],
            mac_backend: None,
            prf_salt: prf_salt.map(|s| s.to_vec()),
        }
    }

    fn prf(salt: u8, output: u8) -> Prf {
        Prf {
            salt: [salt; 32],
            output: Zeroizing::new([output; 32]),
        }
    }

    #[test]
    fn a_prf_slot_opens_only_with_the_output_over_its_own_salt() {
        let owner = OwnerId::parse("user-a").unwrap();
        let key = Uuid::nil();
        let (right, other_salt) = (prf(1, 9), prf(2, 9));
        let with = Binding::Passkey(b"cred", Some(&right));
        let alone = Binding::Passkey(b"cred", None);
        // A slot without a salt: the output is ignored, the binding is the credential id's.
        let plain = with.for_row(&row(None)).unwrap();
        assert_eq!(
            plain.mac_message(&owner, key),
            alone.mac_message(&owner, key)
        );
        // A slot with a salt: without the output, or with one over another salt, nothing.
        assert!(alone.for_row(&row(Some([1; 32]))).is_none());
        let elsewhere = Binding::Passkey(b"cred", Some(&other_salt));
        assert!(elsewhere.for_row(&row(Some([1; 32]))).is_none());
        // With the output over its salt, a MAC message that is neither the plain one nor the
        // one of another output.
        let bound = with.for_row(&row(Some([1; 32]))).unwrap();
        let guessed = prf(1, 8);
        let guess = Binding::Passkey(b"cred", Some(&guessed));
        assert_ne!(
            bound.mac_message(&owner, key),
            alone.mac_message(&owner, key)
        );
        assert_ne!(
            bound.mac_message(&owner, key),
            guess.mac_message(&owner, key)
        );
        // The pin and service bindings do not depend on the row.
        let pin = Pin::parse("482915").unwrap();
        assert!(Binding::Pin(&pin).for_row(&row(Some([1; 32]))).is_some());
    }
}
