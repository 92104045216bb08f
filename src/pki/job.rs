//! The periodic background jobs, each on one node at a time (a PostgreSQL advisory lock):
//! the lifecycle job (expiry, renewal notices, the root's ARL before it nears its nextUpdate)
//! and the revocation refresh (the CRL after status changes and before it nears its
//! nextUpdate; pre-signed OCSP answers before theirs).

use chrono::Duration;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::{ISSUING, Pki, PkiError};
use crate::{
    audit::{Action, Actor, NewEvent},
    store::{self, StoreError},
};

/// The background jobs' lock: "finc" + job 1. The lifecycle job and the revocation refresh
/// share it (one node does both).
const JOB_LOCK: i64 = 0x6669_6e63_0001;

/// Pre-signed OCSP answers re-signed per run at most (a run every few seconds re-signs
/// about a hundred a second: 100,000 answers within a quarter of an hour).
const OCSP_REFRESH_BATCH: u64 = 500;

impl Pki {
    /// The periodic lifecycle job: marks certificates past their validity as expired, records
    /// a renewal notice for each certificate entering its renewal window (each audited), and
    /// then refreshes the root's ARL and runs the revocation refresh. Runs on one node at a
    /// time (a PostgreSQL advisory lock); returns what it did, or `None` if another node holds
    /// the job.
    pub async fn run_lifecycle_job(
        &self,
        db: &DatabaseConnection,
    ) -> Result<Option<JobReport>, PkiError> {
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
        self.refresh_arl(db).await?;
        self.refresh_revocation(db).await?;
        Ok(Some(JobReport {
            expired: expired.len(),
            renewal_notices: notices.len(),
        }))
    }

    /// The revocation refresh, run every few seconds by every node and done by the one that
    /// gets the job lock: signs a new CRL when a status change happened since the current one
    /// was made, or when it has less than half its validity left (so the published CRL stays
    /// valid through a failed run or two), and re-signs pre-signed OCSP answers with less than
    /// half their validity left. `None` if another node holds the job.
    pub async fn refresh_revocation(
        &self,
        db: &DatabaseConnection,
    ) -> Result<Option<RevocationReport>, PkiError> {
        let Some(guard) = store::pki::try_job_guard(db, JOB_LOCK).await? else {
            return Ok(None);
        };
        let done = self.refresh_revocation_locked(db).await;
        guard.release().await?;
        done.map(Some)
    }

    async fn refresh_revocation_locked(
        &self,
        db: &DatabaseConnection,
    ) -> Result<RevocationReport, PkiError> {
        let now = self.clock.now();
        let changes = store::pki::revocation_changes(db, ISSUING).await?;
        let crl_due = match store::pki::latest_crl_state(db, ISSUING).await? {
            // No CRL yet and nothing revoked: the first fetch publishes one (on demand).
            None => changes > 0,
            Some((_, this, next, covered)) => covered < changes || now >= next - (next - this) / 2,
        };
        let crl_published = if crl_due {
            self.publish_crl(db).await?;
            true
        } else {
            false
        };
        let ocsp_refreshed = self.refresh_ocsp(db, OCSP_REFRESH_BATCH).await?;
        Ok(RevocationReport {
            crl_published,
            ocsp_refreshed,
        })
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

/// What one revocation refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationReport {
    /// A new CRL was signed.
    pub crl_published: bool,
    /// Pre-signed OCSP answers re-signed.
    pub ocsp_refreshed: usize,
}
