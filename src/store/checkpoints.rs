//! Signed checkpoints of the audit chain head, the audit keys that sign them, and how far each
//! witness has been sent. `audit_checkpoints` is append-only (triggers), like `audit_events`.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use super::{
    StoreError,
    sql::{all, exec, get, one},
};
use crate::audit::Checkpoint;

const T: &str = "audit_checkpoints";
const K: &str = "audit_keys";

/// Checkpoints read per page.
pub const PAGE: u64 = 1000;

/// One audit key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditKeyRow {
    /// Hex of the first 16 bytes of SHA-256(SPKI).
    pub key_id: String,
    /// `sealed` or `kms`.
    pub key_kind: String,
    /// The sealed custody service key, for `sealed`.
    pub custody_key_id: Option<Uuid>,
    /// The KMS key's ARN, for `kms`.
    pub kms_key_id: Option<String>,
    /// SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
    /// When it was made or adopted.
    pub created_at: DateTime<Utc>,
}

fn to_key(r: &QueryResult) -> Result<AuditKeyRow, StoreError> {
    let custody: Option<String> = get(r, K, "custody_key_id")?;
    Ok(AuditKeyRow {
        key_id: get(r, K, "key_id")?,
        key_kind: get(r, K, "key_kind")?,
        custody_key_id: custody
            .map(|c| Uuid::parse_str(&c))
            .transpose()
            .map_err(|e| super::columns::corrupt(K, "custody_key_id", e.to_string()))?,
        kms_key_id: get(r, K, "kms_key_id")?,
        spki: get(r, K, "spki")?,
        created_at: get(r, K, "created_at")?,
    })
}

/// Stores a new audit key.
pub async fn insert_key<C: ConnectionTrait>(conn: &C, row: &AuditKeyRow) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO audit_keys (key_id, key_kind, custody_key_id, kms_key_id, spki, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            row.key_id.clone().into(),
            row.key_kind.clone().into(),
            row.custody_key_id.map(|u| u.to_string()).into(),
            row.kms_key_id.clone().into(),
            row.spki.clone().into(),
            row.created_at.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Every audit key, newest first.
pub async fn keys<C: ConnectionTrait>(conn: &C) -> Result<Vec<AuditKeyRow>, StoreError> {
    all(
        conn,
        "SELECT key_id, key_kind, custody_key_id, kms_key_id, spki, created_at FROM audit_keys \
         ORDER BY created_at DESC, key_id",
        vec![],
    )
    .await?
    .iter()
    .map(to_key)
    .collect()
}

fn to_checkpoint(r: &QueryResult) -> Result<Checkpoint, StoreError> {
    Ok(Checkpoint {
        seq: get(r, T, "seq")?,
        event_seq: get(r, T, "event_seq")?,
        head_hash: get(r, T, "head_hash")?,
        signed_at: get(r, T, "signed_at")?,
        prev: get(r, T, "prev")?,
        key_id: get(r, T, "key_id")?,
        signature: get(r, T, "signature")?,
    })
}

const COLUMNS: &str = "seq, event_seq, head_hash, signed_at, prev, key_id, signature";

/// Stores a signed checkpoint.
pub async fn insert<C: ConnectionTrait>(conn: &C, cp: &Checkpoint) -> Result<(), StoreError> {
    exec(
        conn,
        &format!("INSERT INTO audit_checkpoints ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
        vec![
            cp.seq.into(),
            cp.event_seq.into(),
            cp.head_hash.clone().into(),
            cp.signed_at.into(),
            cp.prev.clone().into(),
            cp.key_id.clone().into(),
            cp.signature.clone().into(),
        ],
    )
    .await?;
    Ok(())
}

/// The newest checkpoint, if any.
pub async fn last<C: ConnectionTrait>(conn: &C) -> Result<Option<Checkpoint>, StoreError> {
    one(
        conn,
        &format!("SELECT {COLUMNS} FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"),
        vec![],
    )
    .await?
    .as_ref()
    .map(to_checkpoint)
    .transpose()
}

/// Up to `limit` checkpoints with seq greater than `after`, in order.
pub async fn page_after<C: ConnectionTrait>(
    conn: &C,
    after: i64,
    limit: u64,
) -> Result<Vec<Checkpoint>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    all(
        conn,
        &format!("SELECT {COLUMNS} FROM audit_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2"),
        vec![after.into(), limit.into()],
    )
    .await?
    .iter()
    .map(to_checkpoint)
    .collect()
}

/// Every checkpoint, in order (`audit verify` holds them in memory: ≈ 200 bytes each, one a
/// minute at most, about 100 MB after a year of checkpoints).
pub async fn all_checkpoints<C: ConnectionTrait>(conn: &C) -> Result<Vec<Checkpoint>, StoreError> {
    let mut out: Vec<Checkpoint> = Vec::new();
    loop {
        let after = out.last().map_or(0, |c| c.seq);
        let page = page_after(conn, after, PAGE).await?;
        let done = (page.len() as u64) < PAGE;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// The last checkpoint witness `name` holds (0 for none).
pub async fn witnessed_upto<C: ConnectionTrait>(conn: &C, name: &str) -> Result<i64, StoreError> {
    match one(
        conn,
        "SELECT upto FROM audit_witness_progress WHERE witness = $1",
        vec![name.into()],
    )
    .await?
    {
        Some(r) => get(&r, "audit_witness_progress", "upto"),
        None => Ok(0),
    }
}

/// Records that witness `name` holds every checkpoint up to `upto` (never moves back).
pub async fn set_witnessed<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    upto: i64,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO audit_witness_progress (witness, upto) VALUES ($1, $2) \
         ON CONFLICT (witness) DO UPDATE SET upto = excluded.upto \
         WHERE audit_witness_progress.upto < excluded.upto",
        vec![name.into(), upto.into()],
    )
    .await?;
    Ok(())
}
