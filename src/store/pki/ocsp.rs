//! Pre-signed OCSP answers (`ocsp_responses`, one per issuer, serial and CertID hash
//! algorithm) and the status-change counters the background CRL refresh compares with the
//! CRL it last published (`revocation_counters`, `crls.changes_covered`).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::store::{
    StoreError,
    sql::{all, exec, get, one},
};

const T: &str = "ocsp_responses";

/// A stored, signed OCSP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRow {
    /// The serial it answers for (hex, lower case).
    pub serial_hex: String,
    /// The CertID hash algorithm it was made for (`sha1` or `sha256`).
    pub hash_alg: String,
    /// The status it states (`good`, `revoked:<unix>:<reason code>`).
    pub cert_status: String,
    /// Its thisUpdate (and producedAt).
    pub this_update: DateTime<Utc>,
    /// Its nextUpdate.
    pub next_update: DateTime<Utc>,
    /// The OCSPResponse, DER.
    pub der: Vec<u8>,
}

fn to_row(r: &QueryResult) -> Result<OcspRow, StoreError> {
    Ok(OcspRow {
        serial_hex: get(r, T, "serial_hex")?,
        hash_alg: get(r, T, "hash_alg")?,
        cert_status: get(r, T, "cert_status")?,
        this_update: get(r, T, "this_update")?,
        next_update: get(r, T, "next_update")?,
        der: get(r, T, "der")?,
    })
}

/// The stored answer for one serial and hash algorithm.
pub async fn ocsp_response<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
    serial_hex: &str,
    hash_alg: &str,
) -> Result<Option<OcspRow>, StoreError> {
    one(
        conn,
        "SELECT serial_hex, hash_alg, cert_status, this_update, next_update, der \
         FROM ocsp_responses WHERE issuer_id = $1 AND serial_hex = $2 AND hash_alg = $3",
        vec![issuer.into(), serial_hex.into(), hash_alg.into()],
    )
    .await?
    .as_ref()
    .map(to_row)
    .transpose()
}

/// Stores (or replaces) the answer for `row`'s serial and hash algorithm.
pub async fn upsert_ocsp_response<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
    row: OcspRow,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO ocsp_responses \
         (issuer_id, serial_hex, hash_alg, cert_status, this_update, next_update, der) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (issuer_id, serial_hex, hash_alg) DO UPDATE SET \
         cert_status = excluded.cert_status, this_update = excluded.this_update, \
         next_update = excluded.next_update, der = excluded.der",
        vec![
            issuer.into(),
            row.serial_hex.into(),
            row.hash_alg.into(),
            row.cert_status.into(),
            row.this_update.into(),
            row.next_update.into(),
            row.der.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Stored answers whose nextUpdate is before `before`, soonest first: `(serial, hash_alg)`.
pub async fn ocsp_responses_due<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(String, String)>, StoreError> {
    all(
        conn,
        "SELECT serial_hex, hash_alg FROM ocsp_responses \
         WHERE issuer_id = $1 AND next_update < $2 ORDER BY next_update LIMIT $3",
        vec![
            issuer.into(),
            before.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    )
    .await?
    .iter()
    .map(|r| Ok((get(r, T, "serial_hex")?, get(r, T, "hash_alg")?)))
    .collect()
}

/// Status changes this process made: its own OCSP answer cache follows them at once, not at
/// the next poll of `revocation_counters` (see `pki::ocsp_cache`).
static LOCAL_CHANGES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many status changes this process has counted (see [`bump_revocation_changes`]).
pub fn local_revocation_changes() -> u64 {
    LOCAL_CHANGES.load(std::sync::atomic::Ordering::SeqCst)
}

/// Moves this process's count once more after a status change has committed: an answer read
/// between the change's [`bump_revocation_changes`] and its commit (the old status, tagged
/// with the already-moved count) is then dropped too.
pub fn count_committed_revocation_change() {
    LOCAL_CHANGES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// Counts one status change of a certificate of `issuer` (in the change's transaction).
pub async fn bump_revocation_changes<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
) -> Result<(), StoreError> {
    LOCAL_CHANGES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    exec(
        conn,
        "INSERT INTO revocation_counters (issuer_id, changes) VALUES ($1, 1) \
         ON CONFLICT (issuer_id) DO UPDATE SET changes = revocation_counters.changes + 1",
        vec![issuer.into()],
    )
    .await?;
    Ok(())
}

/// How many status changes `issuer`'s certificates have had.
pub async fn revocation_changes<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
) -> Result<i64, StoreError> {
    match one(
        conn,
        "SELECT changes FROM revocation_counters WHERE issuer_id = $1",
        vec![issuer.into()],
    )
    .await?
    {
        Some(r) => get(&r, "revocation_counters", "changes"),
        None => Ok(0),
    }
}

/// Records that CRL `number` of `issuer` was made after `changes` status changes.
pub async fn mark_crl_covers<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
    number: i64,
    changes: i64,
) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE crls SET changes_covered = $3 WHERE issuer_id = $1 AND crl_number = $2",
        vec![issuer.into(), number.into(), changes.into()],
    )
    .await?;
    Ok(())
}

/// The newest CRL of `issuer`: `(number, this_update, next_update, changes_covered)`.
pub async fn latest_crl_state<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
) -> Result<Option<(i64, DateTime<Utc>, DateTime<Utc>, i64)>, StoreError> {
    one(
        conn,
        "SELECT crl_number, this_update, next_update, changes_covered FROM crls \
         WHERE issuer_id = $1 ORDER BY crl_number DESC LIMIT 1",
        vec![issuer.into()],
    )
    .await?
    .map(|r| {
        Ok((
            get(&r, "crls", "crl_number")?,
            get(&r, "crls", "this_update")?,
            get(&r, "crls", "next_update")?,
            get(&r, "crls", "changes_covered")?,
        ))
    })
    .transpose()
}
