//! Re-wrapping: moving every slot's outer KMS layer to the current KMS key (`kms rewrap`). The
//! outer layer's context holds no secret, so this needs no PIN and never touches the PIN layer;
//! each slot is replaced by compare-and-set, so a run is safe to interrupt and repeat.
//!
//! Across backends (`kms_previous` set, [`super::kms::pair::KmsPair`]):
//! - a **service slot** (bound by nothing but the KMS) is opened under the previous backend
//!   and bound anew under the current one, MAC key included: it no longer needs the previous
//!   backend at all;
//! - a **PIN or passkey slot** gets its outer layer moved (previous Decrypt, current Encrypt);
//!   its inner key derives from the previous backend's MAC key and the holder's secret, which
//!   fincert does not hold, so the slot records that MAC backend (`mac_backend`) and is bound
//!   again under the current one at the holder's next use ([`Custody::rebind_if_moved`]).
//!   `kms status` counts what still needs the previous backend.

use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::{
    Custody, CustodyError, Slot,
    kms::{self, KmsError, backend_of},
    slots::{Binding, context},
};
use crate::{
    audit::{Action, Actor, NewEvent},
    store::{self, StoreError, custody::OwnedSlot, custody::SlotRow},
};

/// Progress of a re-wrap run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Slots moved to the current KMS key.
    pub moved: u64,
    /// Slots that changed under us (PIN change) and were left for the next run.
    pub skipped: u64,
    /// Of the moved slots, service slots bound anew under the current backend's MAC key.
    pub rebound: u64,
    /// Slots still not under the current key.
    pub remaining: u64,
}

impl Custody {
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
            after = Some((last.slot.key_id.clone(), last.slot.slot.name()));
            // KMS first (nothing written), then one transaction for the batch.
            let mut moved = Vec::with_capacity(page.len());
            for owned in &page {
                moved.push(self.moved(owned).await?);
            }
            let now = self.clock.now();
            let txn = db.begin().await.map_err(StoreError::from)?;
            let mut done = 0u64;
            let mut rebound = 0u64;
            for (owned, fresh) in page.iter().zip(&moved) {
                if store::custody::replace_slot(&txn, &owned.slot, fresh, now).await? {
                    done += 1;
                    if owned.slot.mac_source() != fresh.mac_source() {
                        rebound += 1;
                    }
                } else {
                    report.skipped += 1;
                }
            }
            let event = NewEvent::new(Actor::Operator, Action::KeysRewrapped)
                .details(json!({"to": current, "slots": done, "rebound": rebound}));
            store::audit::append_within(&txn, now, &[event]).await?;
            txn.commit().await.map_err(StoreError::from)?;
            report.moved += done;
            report.rebound += rebound;
        }
        report.remaining = store::custody::count_by_kms_key(db)
            .await?
            .into_iter()
            .filter(|(id, _)| *id != current)
            .map(|(_, n)| n)
            .sum();
        Ok(report)
    }

    /// What `owned` becomes under the current key (KMS calls only; nothing written).
    async fn moved(&self, owned: &OwnedSlot) -> Result<SlotRow, CustodyError> {
        let old = &owned.slot;
        if old.slot == Slot::Service && old.mac_source() != self.kms.backend() {
            // Bound by nothing but the KMS: bind it anew, MAC key included.
            let binding = Binding::Service;
            let dk = self
                .unwrap_slot(&owned.owner_id, owned.key_id, &binding, old)
                .await?;
            return self
                .wrap_slot(&owned.owner_id, owned.key_id, &binding, &dk)
                .await;
        }
        let wrapped = kms::WrappedKey {
            kms_key_id: old.kms_key_id.clone(),
            blob: old.wrapped.clone(),
        };
        let fresh = self
            .kms
            .re_encrypt(&wrapped, &context(&owned.owner_id, owned.key_id, &old.slot))
            .await
            .map_err(|e| match e {
                KmsError::InvalidCiphertext => CustodyError::Integrity,
                other => CustodyError::Kms(other),
            })?;
        // The inner key still derives from the MAC key it was made with.
        let mac = old.mac_source();
        Ok(SlotRow {
            key_id: old.key_id.clone(),
            slot: old.slot.clone(),
            mac_backend: (mac != backend_of(&fresh.kms_key_id)).then(|| mac.to_owned()),
            kms_key_id: fresh.kms_key_id,
            wrapped: fresh.blob,
            prf_salt: old.prf_salt.clone(),
        })
    }
}
