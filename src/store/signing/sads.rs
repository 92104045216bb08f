//! CSC SADs (`csc_sads`, `csc_sad_signatures`): cluster authorizations with their activation
//! records, and the hashes they spend. The primary key of `csc_sad_signatures` decides between
//! concurrent spends on any number of nodes; each hash signs once.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use crate::{
    domain::owner::OwnerId,
    store::{
        StoreError,
        columns::{json, text, text_opt},
        sql::{all, exec, get, one, typed, typed_opt},
    },
};

/// A CSC SAD as stored.
#[derive(Debug, Clone)]
pub struct SadRow {
    /// SHA-256 of the SAD, hex.
    pub sad_hash: String,
    /// The institution it was issued to.
    pub institution_id: String,
    /// The credential (certificate).
    pub certificate_id: String,
    /// The certificate's holder.
    pub user_id: OwnerId,
    /// The custody activation it signs with (stable across `extendTransaction`).
    pub activation_id: Uuid,
    /// The base64 hashes it authorizes, each signing once (stored as a JSON array).
    pub hashes: Vec<String>,
    /// Signatures it authorized (its hashes; `csc_sad_signatures` holds those made).
    pub remaining: i32,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// The custody key it signs with (`None` on rows from before activation records).
    pub key_id: Option<Uuid>,
    /// The activation record: the sealed, KMS-wrapped data key (see `custody::record`).
    pub record: Option<Vec<u8>>,
}

const SAD_COLS: &str = "sad_hash, institution_id, certificate_id, user_id, activation_id, hashes, remaining, expires_at, key_id, record";

fn to_sad(r: &QueryResult) -> Result<SadRow, StoreError> {
    const T: &str = "csc_sads";
    Ok(SadRow {
        sad_hash: get(r, T, "sad_hash")?,
        institution_id: get(r, T, "institution_id")?,
        certificate_id: get(r, T, "certificate_id")?,
        user_id: typed(r, T, "user_id")?,
        activation_id: typed(r, T, "activation_id")?,
        hashes: json(T, "hashes", &get::<String>(r, T, "hashes")?)?,
        remaining: get(r, T, "remaining")?,
        expires_at: get(r, T, "expires_at")?,
        key_id: typed_opt(r, T, "key_id")?,
        record: get(r, T, "record")?,
    })
}

/// Stores a SAD.
pub async fn insert_sad<C: ConnectionTrait>(
    conn: &C,
    row: &SadRow,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        &format!("INSERT INTO csc_sads ({SAD_COLS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
        vec![
            row.sad_hash.clone().into(),
            row.institution_id.clone().into(),
            row.certificate_id.clone().into(),
            text(&row.user_id),
            text(&row.activation_id),
            serde_json::Value::from(row.hashes.clone()).to_string().into(),
            row.remaining.into(),
            row.expires_at.into(),
            text_opt(row.key_id.as_ref()),
            row.record.clone().into(),
            now.into(),
        ],
    )
    .await?;
    Ok(())
}

/// A SAD by the hash of its value.
pub async fn sad<C: ConnectionTrait>(
    conn: &C,
    sad_hash: &str,
) -> Result<Option<SadRow>, StoreError> {
    one(
        conn,
        &format!("SELECT {SAD_COLS} FROM csc_sads WHERE sad_hash = $1"),
        vec![sad_hash.into()],
    )
    .await?
    .as_ref()
    .map(to_sad)
    .transpose()
}

/// One hash a SAD spends, with the signature made for it.
#[derive(Debug, Clone)]
pub struct SpendItem<'a> {
    /// The activation behind the SAD.
    pub activation: &'a str,
    /// SHA-256 of the SAD presented (a replaced SAD spends nothing).
    pub sad_hash: &'a str,
    /// The hash (base64).
    pub hash: &'a str,
    /// The signature made for it.
    pub signature: &'a [u8],
    /// What it is: `raw` (over the hash itself) or `cades` (a detached CMS of the hash).
    pub form: &'a str,
}

/// Stores each item's signature as its hash's only one, for items whose SAD is current and
/// live at `now`, in one statement. The primary key (activation, hash) decides between
/// concurrent spends on any number of nodes; returns the (activation, hash) pairs this call
/// stored. Items must be distinct by (activation, hash).
pub async fn spend_hashes<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    items: &[SpendItem<'_>],
) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
    if items.is_empty() {
        return Ok(Default::default());
    }
    let rows = batch_param(items.iter().map(|it| {
        serde_json::json!({
            "a": it.activation, "h": it.hash, "d": it.sad_hash, "s": hex::encode(it.signature),
            "f": it.form,
        })
    }));
    let sql = format!(
        "INSERT INTO csc_sad_signatures (activation_id, hash, signature, form, created_at) \
         SELECT v.a, v.h, {}, v.f, $1 FROM {} {} \
         WHERE true ON CONFLICT (activation_id, hash) DO NOTHING RETURNING activation_id, hash",
        unhex(conn, "v.s"),
        batch_rows(conn, &["a", "h", "d", "s", "f"]),
        per_row(conn, "live", "1", "csc_sads c", LIVE_SAD),
    );
    all(conn, &sql, vec![now.into(), rows.into()])
        .await?
        .iter()
        .map(|r| {
            Ok((
                get(r, "csc_sad_signatures", "activation_id")?,
                get(r, "csc_sad_signatures", "hash")?,
            ))
        })
        .collect()
}

/// The stored signatures, with their forms, of `(activation, sad_hash, hash)` items whose SAD
/// is current and live at `now`, by (activation, hash).
pub async fn stored_signatures<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    items: &[(&str, &str, &str)],
) -> Result<std::collections::HashMap<(String, String), (Vec<u8>, String)>, StoreError> {
    if items.is_empty() {
        return Ok(Default::default());
    }
    let rows = batch_param(
        items
            .iter()
            .map(|(a, d, h)| serde_json::json!({"a": a, "h": h, "d": d})),
    );
    let sql = format!(
        "SELECT s.activation_id, s.hash, s.signature, s.form FROM {} {} {}",
        batch_rows(conn, &["a", "h", "d"]),
        per_row(conn, "live", "1", "csc_sads c", LIVE_SAD),
        per_row(
            conn,
            "s",
            "s.activation_id, s.hash, s.signature, s.form",
            "csc_sad_signatures s",
            "s.activation_id = v.a AND s.hash = v.h",
        ),
    );
    all(conn, &sql, vec![now.into(), rows.into()])
        .await?
        .iter()
        .map(|r| {
            const T: &str = "csc_sad_signatures";
            Ok((
                (get(r, T, "activation_id")?, get(r, T, "hash")?),
                (get(r, T, "signature")?, get(r, T, "form")?),
            ))
        })
        .collect()
}

/// The SAD of a batch row `v` (`a` activation, `d` SAD hash) is current and live at `$1`.
const LIVE_SAD: &str = "c.activation_id = v.a AND c.sad_hash = v.d AND c.expires_at > $1";

/// A batch's rows as one JSON parameter (`$2`): one statement text, and one cached plan,
/// whatever the batch size (a `VALUES` list per size filled the driver's statement cache).
fn batch_param(rows: impl Iterator<Item = serde_json::Value>) -> String {
    serde_json::Value::Array(rows.collect()).to_string()
}

/// The rows of [`batch_param`] as a table `v` with text columns `cols`.
fn batch_rows<C: ConnectionTrait>(conn: &C, cols: &[&str]) -> String {
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        let typed: Vec<String> = cols.iter().map(|c| format!("{c} text")).collect();
        format!("json_to_recordset($2::json) AS v({})", typed.join(", "))
    } else {
        let picked: Vec<String> = cols
            .iter()
            .map(|c| format!("value ->> '{c}' AS {c}"))
            .collect();
        format!("(SELECT {} FROM json_each($2)) AS v", picked.join(", "))
    }
}

/// Joins each row of `v` to the row (at most one) of `from` where `cond` holds, as `alias`.
///
/// PostgreSQL cannot see how many rows a JSON parameter holds (it assumes 100) and joined a
/// batch to a whole table by sequential scan and hash; a `LATERAL … LIMIT 1` subquery is a
/// nested loop by construction, one index lookup per row. SQLite, without `LATERAL`, takes the
/// same lookup as a plain join (its planner already drives from the JSON rows).
fn per_row<C: ConnectionTrait>(
    conn: &C,
    alias: &str,
    select: &str,
    from: &str,
    cond: &str,
) -> String {
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        format!("CROSS JOIN LATERAL (SELECT {select} FROM {from} WHERE {cond} LIMIT 1) AS {alias}")
    } else {
        format!("JOIN {from} ON {cond}")
    }
}

/// Hex text to bytes in this engine's SQL.
fn unhex<C: ConnectionTrait>(conn: &C, expr: &str) -> String {
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        format!("decode({expr}, 'hex')")
    } else {
        format!("unhex({expr})")
    }
}

/// How many of an activation's hashes are signed.
pub async fn spent_count<C: ConnectionTrait>(
    conn: &C,
    activation: &str,
) -> Result<i64, StoreError> {
    let row = one(
        conn,
        "SELECT COUNT(*) AS n FROM csc_sad_signatures WHERE activation_id = $1",
        vec![activation.into()],
    )
    .await?;
    row.map_or(Ok(0), |r| get(&r, "csc_sad_signatures", "n"))
}

/// Replaces a SAD's value and its record (extendTransaction): the old one stops working.
pub async fn rekey_sad<C: ConnectionTrait>(
    conn: &C,
    old_hash: &str,
    new_hash: &str,
    record: &[u8],
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE csc_sads SET sad_hash = $1, record = $2 WHERE sad_hash = $3",
        vec![new_hash.into(), record.to_vec().into(), old_hash.into()],
    )
    .await?
        == 1)
}
