//! Cluster authorizations (CSC SADs): activating a key once with its PIN and sealing an
//! activation record (see [`super::record`]) that any node meeting the SAD can open again,
//! opening such a record on this node, and re-sealing it under a new SAD. The record format
//! and its threat model live in `record.rs`; this file only drives KMS, the node's
//! activations and the audit log around it.

use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    Custody, CustodyError, OwnerId,
    activation::{ActivationError, ActivationInfo},
    kms::{DATA_KEY_LEN, KmsError},
    record, sealed,
    slots::{Binding, sealed_aad},
    unlock::{Unlock, parse_off_workers},
};
use crate::audit::{Action, NewEvent};

impl Custody {
    /// Activates a key with its PIN (or a verified passkey) as a cluster authorization (a CSC SAD): the node keeps the
    /// parsed key for the window, and the returned activation record (see [`record`]) lets any
    /// node that meets `sad` open it again. Audited like every activation.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), key = %key_id))]
    pub async fn activate_for_sad(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        unlock: Unlock<'_>,
        sad: &[u8],
        max_signatures: u32,
    ) -> Result<(ActivationInfo, Vec<u8>), CustodyError> {
        let (binding, slot) = match unlock {
            Unlock::Pin(pin) => (Binding::Pin(pin), "pin"),
            Unlock::Passkey(id, prf) => (Binding::Passkey(id, prf), "passkey"),
        };
        let (key, dk) = self.open_key(db, owner, key_id, &binding).await?;
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
                "slot": slot,
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
}
