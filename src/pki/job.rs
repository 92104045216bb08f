//! The periodic lifecycle job: expiry, renewal notices and the CRL and ARL refresh, on one
//! node at a time.

use chrono::Duration;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::{Pki, PkiError};
use crate::{
    audit::{Action, Actor, NewEvent},
    store::{self, StoreError},
};

impl Pki {
    /// The periodic lifecycle job: marks certificates past their validity as expired, records
    /// a renewal notice for each certificate entering its renewal window (each audited), and
    /// refreshes the CRL and the root's ARL when they near their nextUpdate. Runs on one node at a time (a
    /// PostgreSQL advisory lock); returns what it did, or `None` if another node holds the job.
    pub async fn run_lifecycle_job(
        &self,
        db: &DatabaseConnection,
    ) -> Result<Option<JobReport>, PkiError> {
        const JOB_LOCK: i64 = 0x6669_6e63_0001; // "finc" + job 1
        let now = self.clock.now();
        let window_end = now + Duration::days(i64::from(self.settings.renewal_window_days));
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !store::pki::try_job_lock(&txn, JOB_LOCK).await? {
            return Ok(None);
        }
        let expired = store::pki::expire_due(&txn, now, 1000).await?;
        let notices = store::pki::record_renewal_notices(&txn, now, window_end, 1000).await?;
        let mut events: Vec<_> = expired
            .iter()
            .map(|r| {
                NewEvent::new(Actor::System, Action::CertificateExpired)
                    .subject(r.serial_hex.clone())
                    .details(json!({"certificate": r.id.to_string()}))
            })
            .collect();
        events.extend(notices.iter().map(|r| {
            NewEvent::new(Actor::System, Action::RenewalNoticeRecorded)
                .subject(r.serial_hex.clone())
                .details(json!({"certificate": r.id.to_string(), "owner": r.owner_id.as_str(), "not_after": r.not_after.to_rfc3339()}))
        }));
        store::audit::append_within(&txn, now, &events).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.current_crl(db).await?;
        self.refresh_arl(db).await?;
        Ok(Some(JobReport {
            expired: expired.len(),
            renewal_notices: notices.len(),
        }))
    }
}

/// What one run of the lifecycle job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobReport {
    /// Certificates marked expired.
    pub expired: usize,
    /// Renewal notices recorded.
    pub renewal_notices: usize,
}
