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
    auth::messaging::{Channel, MessageSender},
    store::{self, StoreError, pki::CertificateRow, pki::NoticeStage},
};

/// The last renewal notice goes out this many days before expiry (the first when the renewal
/// window opens, `pki.renewal_window_days`).
pub const FINAL_NOTICE_DAYS: i64 = 7;

/// The background jobs' lock: "finc" + job 1. The lifecycle job and the revocation refresh
/// share it (one node does both).
const JOB_LOCK: i64 = 0x6669_6e63_0001;

/// Pre-signed OCSP answers re-signed per run at most (a run every few seconds re-signs
/// about a hundred a second: 100,000 answers within a quarter of an hour).
const OCSP_REFRESH_BATCH: u64 = 500;

impl Pki {
    /// The periodic lifecycle job: marks certificates past their validity as expired, claims
    /// a renewal notice for each certificate entering its renewal window and a last one 7 days
    /// before expiry (each once per certificate), sends them through `sender` to the holder's
    /// phone (each audited; a notice that could not be sent is given back and tried on the
    /// next run), and then refreshes the root's ARL and runs the revocation refresh. The claims
    /// are made on one node at a time (a PostgreSQL advisory lock); returns what it did, or
    /// `None` if another node holds the job.
    pub async fn run_lifecycle_job(
        &self,
        db: &DatabaseConnection,
        sender: &dyn MessageSender,
    ) -> Result<Option<JobReport>, PkiError> {
        let now = self.clock.now();
        let window_end = now + Duration::days(i64::from(self.settings.renewal_window_days));
        let final_end = now + Duration::days(FINAL_NOTICE_DAYS);
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !store::pki::try_job_lock(&txn, JOB_LOCK).await? {
            return Ok(None);
        }
        let expired = store::pki::expire_due(&txn, now, 1000).await?;
        let mut notices: Vec<(CertificateRow, NoticeStage, bool)> =
            store::pki::record_renewal_notices(&txn, now, window_end, final_end, 1000)
                .await?
                .into_iter()
                .map(|(row, stage)| (row, stage, true))
                .collect();
        notices.extend(
            store::pki::claim_final_notices(&txn, now, final_end, 1000)
                .await?
                .into_iter()
                .map(|row| (row, NoticeStage::Final, false)),
        );
        let events: Vec<_> = expired
            .iter()
            .map(|r| {
                NewEvent::new(Actor::System, Action::CertificateExpired)
                    .subject(r.serial_hex.clone())
                    .details(json!({"certificate": r.id.to_string()}))
            })
            .collect();
        store::audit::append_within(&txn, now, &events).await?;
        txn.commit().await.map_err(StoreError::from)?;
        let sent = self.send_renewal_notices(db, sender, &notices).await?;
        self.refresh_arl(db).await?;
        self.refresh_revocation(db).await?;
        Ok(Some(JobReport {
            expired: expired.len(),
            renewal_notices: notices.len(),
            renewal_notices_sent: sent,
        }))
    }

    /// Sends the claimed notices (after the claims committed: no message is held up by, or
    /// sent for, an uncommitted claim) and audits each; gives back the claim of one the sender
    /// refused, so the next run tries again. A holder without a phone on record keeps the claim
    /// (audited as not sent): there is nobody to tell. Returns how many went out.
    async fn send_renewal_notices(
        &self,
        db: &DatabaseConnection,
        sender: &dyn MessageSender,
        notices: &[(CertificateRow, NoticeStage, bool)],
    ) -> Result<usize, PkiError> {
        let mut sent = 0;
        let mut events = Vec::with_capacity(notices.len());
        for (row, stage, with_window) in notices {
            let days = match stage {
                NoticeStage::WindowOpen => i64::from(self.settings.renewal_window_days),
                NoticeStage::Final => FINAL_NOTICE_DAYS,
            };
            // A certificate that renews itself on its next PIN use says so.
            let choice = store::pki::auto_renewal_setting(db, &row.id.to_string()).await?;
            let automatic = self.auto_renewal_of(row, choice).active;
            let outcome = match store::enrolment::user_phone(db, row.owner_id.as_str()).await? {
                None => "no_phone",
                Some(phone) => {
                    let body = renewal_notice_body(row, days, automatic);
                    match sender.send(&phone, Channel::Sms, &body).await {
                        Ok(()) => {
                            sent += 1;
                            "sent"
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, certificate = %row.id, "renewal notice not sent; tried again next run");
                            store::pki::release_renewal_notice(db, row.id, *stage, *with_window)
                                .await?;
                            "send_failed"
                        }
                    }
                }
            };
            events.push(
                NewEvent::new(Actor::System, Action::RenewalNoticeRecorded)
                    .subject(row.serial_hex.clone())
                    .details(json!({
                        "certificate": row.id.to_string(),
                        "owner": row.owner_id.as_str(),
                        "not_after": row.not_after.to_rfc3339(),
                        "days_before": days,
                        "outcome": outcome,
                        "automatic_renewal": automatic,
                    })),
            );
        }
        if !events.is_empty() {
            store::audit::append(db, self.clock.now(), &events).await?;
        }
        Ok(sent)
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
    /// Renewal notices claimed (renewal window open, or 7 days left).
    pub renewal_notices: usize,
    /// Of those, the ones the message sender took.
    pub renewal_notices_sent: usize,
}

/// The SMS a holder gets: which certificate (its serial's last 8 hex digits and usage), when it
/// expires, and where to renew — or, with automatic renewal active, that the next signature
/// with the PIN renews it. Nothing secret.
fn renewal_notice_body(row: &CertificateRow, days: i64, automatic: bool) -> String {
    let tail = row
        .serial_hex
        .get(row.serial_hex.len().saturating_sub(8)..)
        .unwrap_or(&row.serial_hex);
    // The date in Korea (UTC+9).
    let date = chrono::FixedOffset::east_opt(9 * 3600).map_or_else(
        || row.not_after.format("%Y-%m-%d").to_string(),
        |kst| {
            row.not_after
                .with_timezone(&kst)
                .format("%Y-%m-%d")
                .to_string()
        },
    );
    let how = if automatic {
        "PIN으로 전자서명하면 자동으로 갱신됩니다."
    } else {
        "인증서 센터에서 갱신하세요."
    };
    format!(
        "[fincert] 인증서(일련번호 …{tail})가 {date}에 만료됩니다(만료 {days}일 전 안내). {how}"
    )
}

/// What one revocation refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationReport {
    /// A new CRL was signed.
    pub crl_published: bool,
    /// Pre-signed OCSP answers re-signed.
    pub ocsp_refreshed: usize,
}
