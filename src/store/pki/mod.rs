//! PKI queries, one file per table group, each with its row type and its queries; rows come
//! out typed (statuses, usages, ids, reasons), parsed once here (see `store::columns`):
//!
//! - `certificates.rs`: `certificates` (status transitions, renewal, expiry, renewal notices);
//! - `authorities.rs`: `authorities` (the CA hierarchy) and `crls`;
//! - `fees.rs`: `fee_charges` (the fee ledger);
//! - `foreign.rs`: `foreign_certificates`.
//!
//! Everything is re-exported here: callers write `store::pki::transition`, not the file.

mod authorities;
mod certificates;
mod fees;
mod foreign;

use sea_orm::ConnectionTrait;

pub use self::{
    authorities::{
        AuthorityRow, authorities, authority, insert_authority, insert_crl, latest_crl,
        revoke_authority,
    },
    certificates::{
        CertificateRow, Revocation, certificate_by_id, certificate_by_serial, certificate_of,
        certificates_of, expire_due, insert_certificate, mark_renewed, record_renewal_notices,
        revoked_for_crl, transition,
    },
    fees::{FeeRow, fees_of, insert_fee},
    foreign::{ForeignRow, foreign_exists, foreign_of, insert_foreign},
};
use super::StoreError;

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
