//! PKI queries, one file per table group, each with its row type and its queries; rows come
//! out typed (statuses, usages, ids, reasons), parsed once here (see `store::columns`):
//!
//! - `certificates.rs`: `certificates` (status transitions, renewal, expiry, renewal notices);
//! - `authorities.rs`: `authorities` (the CA hierarchy) and `crls`;
//! - `fees.rs`: `fee_charges` (the fee ledger);
//! - `auto_renewal.rs`: `auto_renewal_settings` (the holder's automatic-renewal choices);
//! - `foreign.rs`: `foreign_certificates`;
//! - `ocsp.rs`: `ocsp_responses` (pre-signed OCSP answers) and `revocation_counters`.
//!
//! Everything is re-exported here: callers write `store::pki::transition`, not the file.

mod authorities;
mod auto_renewal;
mod certificates;
mod fees;
mod foreign;
mod ocsp;

use sea_orm::ConnectionTrait;

pub use self::{
    authorities::{
        AuthorityRow, authorities, authority, insert_authority, insert_crl, latest_crl,
        revoke_authority,
    },
    auto_renewal::{AutoRenewalRow, auto_renewal_setting, put_auto_renewal_setting},
    certificates::{
        CertificateRow, FOREIGN_ISSUER, NoticeStage, Revocation, certificate_by_id,
        certificate_by_serial, certificate_of, certificates_of, claim_final_notices, expire_due,
        insert_certificate, mark_renewed, record_renewal_notices, release_renewal_notice,
        revoked_for_crl, transition,
    },
    fees::{FeeRow, fees_of, insert_fee},
    foreign::{ForeignRow, foreign_exists, foreign_of, insert_foreign},
    ocsp::{
        OcspRow, bump_revocation_changes, count_committed_revocation_change, latest_crl_state,
        local_revocation_changes, mark_crl_covers, ocsp_response, ocsp_responses_due,
        revocation_changes, upsert_ocsp_response,
    },
};
use super::StoreError;

/// A held background-job lock (see [`try_job_guard`]): on PostgreSQL an open transaction
/// holding the advisory lock, released by [`JobGuard::release`] (or by dropping it, which rolls
/// the empty transaction back).
pub struct JobGuard(Option<sea_orm::DatabaseTransaction>);

impl JobGuard {
    /// Releases the lock.
    pub async fn release(self) -> Result<(), StoreError> {
        if let Some(txn) = self.0 {
            txn.commit().await?;
        }
        Ok(())
    }
}

/// Takes job lock `job` for work done on other connections meanwhile (signing a CRL, which
/// should not run inside the transaction that writes it): `None` if another node holds it.
/// On SQLite (one node, one writer connection) there is nothing to take.
pub async fn try_job_guard(
    db: &sea_orm::DatabaseConnection,
    job: i64,
) -> Result<Option<JobGuard>, StoreError> {
    use sea_orm::TransactionTrait;
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(Some(JobGuard(None)));
    }
    let txn = db.begin().await?;
    if try_job_lock(&txn, job).await? {
        Ok(Some(JobGuard(Some(txn))))
    } else {
        txn.rollback().await?;
        Ok(None)
    }
}

/// Takes a PostgreSQL transaction-scoped advisory lock if free (always true on SQLite, which
/// has one writer); background jobs run only on the node that gets it.
pub async fn try_job_lock<C: ConnectionTrait>(conn: &C, job: i64) -> Result<bool, StoreError> {
    use sea_orm::{DbBackend, Statement};
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS locked",
            [job.into()],
        ))
        .await?;
    Ok(row
        .and_then(|r| r.try_get::<bool>("", "locked").ok())
        .unwrap_or(false))
}
