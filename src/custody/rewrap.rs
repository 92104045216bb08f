//! Re-wrapping: moving every slot's outer KMS layer to the current KMS key (`kms rewrap`). The
//! outer layer's context holds no secret, so this needs no PIN and never touches the PIN layer;
//! each slot is replaced by compare-and-set, so a run is safe to interrupt and repeat.

use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::{
    Custody, CustodyError,
    kms::{self, KmsError},
    slots::context,
};
use crate::{
    audit::{Action, Actor, NewEvent},
    store::{self, StoreError},
};

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
                let wrapped = kms::WrappedKey {
                    kms_key_id: owned.slot.kms_key_id.clone(),
                    blob: owned.slot.wrapped.clone(),
                };
                let fresh = self
                    .kms
                    .re_encrypt(
                        &wrapped,
                        &context(&owned.owner_id, owned.key_id, &owned.slot.slot),
                    )
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
            store::audit::append_within(&txn, now, &[event]).await?;
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
