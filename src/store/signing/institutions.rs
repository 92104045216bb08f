//! Institutions (`institutions`): the relying parties that ask for signatures, with their
//! OAuth2 client credentials (only hashes of secrets), scopes and webhook key version.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::{
    domain::{institution_status::InstitutionStatus, sector::Sector},
    store::{
        StoreError,
        columns::text,
        sql::{all, exec, get, one, typed},
    },
};

/// An institution as stored.
#[derive(Debug, Clone)]
pub struct InstitutionRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Sector.
    pub sector: Sector,
    /// OAuth2 client id.
    pub client_id: String,
    /// SHA-256 of the client secret.
    pub secret_hash: Vec<u8>,
    /// SHA-256 of the previous secret, during its grace period.
    pub previous_secret_hash: Option<Vec<u8>>,
    /// End of that grace period.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// Version of the webhook signing key.
    pub webhook_key_version: i32,
    /// Scopes held, space-separated.
    pub scopes: String,
    /// Active or disabled.
    pub status: InstitutionStatus,
    /// Registered.
    pub created_at: DateTime<Utc>,
    /// Whether its `signature_request.signed` webhooks carry the validation material.
    pub webhook_validation_info: bool,
    /// The KMS backend whose MAC key derives its webhook secret (NULL: made before backends
    /// were recorded; start-up names them).
    pub webhook_mac_backend: Option<String>,
}

const INSTITUTION_COLS: &str = "id, name, sector, client_id, secret_hash, previous_secret_hash, previous_secret_until, webhook_key_version, scopes, status, created_at, webhook_validation_info, webhook_mac_backend";

fn to_institution(r: &QueryResult) -> Result<InstitutionRow, StoreError> {
    const T: &str = "institutions";
    Ok(InstitutionRow {
        id: get(r, T, "id")?,
        name: get(r, T, "name")?,
        sector: typed(r, T, "sector")?,
        client_id: get(r, T, "client_id")?,
        secret_hash: get(r, T, "secret_hash")?,
        previous_secret_hash: get(r, T, "previous_secret_hash")?,
        previous_secret_until: get(r, T, "previous_secret_until")?,
        webhook_key_version: get(r, T, "webhook_key_version")?,
        scopes: get(r, T, "scopes")?,
        status: typed(r, T, "status")?,
        created_at: get(r, T, "created_at")?,
        webhook_validation_info: get(r, T, "webhook_validation_info")?,
        webhook_mac_backend: get(r, T, "webhook_mac_backend")?,
    })
}

/// Registers an institution.
pub async fn insert_institution<C: ConnectionTrait>(
    conn: &C,
    row: &InstitutionRow,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO institutions (id, name, sector, client_id, secret_hash, webhook_key_version, scopes, status, created_at, webhook_validation_info, webhook_mac_backend) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        vec![
            row.id.clone().into(),
            row.name.clone().into(),
            text(&row.sector),
            row.client_id.clone().into(),
            row.secret_hash.clone().into(),
            row.webhook_key_version.into(),
            row.scopes.clone().into(),
            text(&row.status),
            row.created_at.into(),
            row.webhook_validation_info.into(),
            row.webhook_mac_backend.clone().into(),
        ],
    )
    .await?;
    Ok(())
}

/// Turns the validation material in the institution's webhook bodies on or off; whether the
/// row exists.
pub async fn set_webhook_validation_info<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    on: bool,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE institutions SET webhook_validation_info = $1 WHERE id = $2",
        vec![on.into(), id.into()],
    )
    .await?
        == 1)
}

/// An institution by its OAuth2 client id.
pub async fn institution_by_client_id<C: ConnectionTrait>(
    conn: &C,
    client_id: &str,
) -> Result<Option<InstitutionRow>, StoreError> {
    one(
        conn,
        &format!("SELECT {INSTITUTION_COLS} FROM institutions WHERE client_id = $1"),
        vec![client_id.into()],
    )
    .await?
    .as_ref()
    .map(to_institution)
    .transpose()
}

/// An institution by id.
pub async fn institution<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<InstitutionRow>, StoreError> {
    one(
        conn,
        &format!("SELECT {INSTITUTION_COLS} FROM institutions WHERE id = $1"),
        vec![id.into()],
    )
    .await?
    .as_ref()
    .map(to_institution)
    .transpose()
}

/// Every institution, by name.
pub async fn institutions<C: ConnectionTrait>(conn: &C) -> Result<Vec<InstitutionRow>, StoreError> {
    all(
        conn,
        &format!("SELECT {INSTITUTION_COLS} FROM institutions ORDER BY name, id"),
        vec![],
    )
    .await?
    .iter()
    .map(to_institution)
    .collect()
}

/// Replaces the client secret; the old one stays valid until `previous_until`.
pub async fn rotate_secret<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    new_hash: &[u8],
    previous_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE institutions SET previous_secret_hash = secret_hash, previous_secret_until = $1, secret_hash = $2, rotated_at = $3 WHERE id = $4",
        vec![previous_until.into(), new_hash.to_vec().into(), now.into(), id.into()],
    )
    .await?
        == 1)
}

/// Starts the institution's next webhook secret: key version + 1, derived from `backend`'s MAC
/// key; whether the row exists.
pub async fn next_webhook_key<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    backend: &str,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE institutions SET webhook_key_version = webhook_key_version + 1, webhook_mac_backend = $1 WHERE id = $2",
        vec![backend.into(), id.into()],
    )
    .await?
        == 1)
}

/// Names `backend` for the webhook secrets of rows made before backends were recorded: the one
/// in force before any move between backends. Returns how many rows it named.
pub async fn name_webhook_mac_backends<C: ConnectionTrait>(
    conn: &C,
    backend: &str,
) -> Result<u64, StoreError> {
    exec(
        conn,
        "UPDATE institutions SET webhook_mac_backend = $1 WHERE webhook_mac_backend IS NULL",
        vec![backend.into()],
    )
    .await
}

/// Institutions whose webhook secret derives from a backend other than `current`, per backend
/// (a row not yet named counts as `unnamed`'s, the backend start-up will name for it).
pub async fn webhook_mac_backends_other_than<C: ConnectionTrait>(
    conn: &C,
    current: &str,
    unnamed: &str,
) -> Result<Vec<(String, u64)>, StoreError> {
    let rows = all(
        conn,
        "SELECT COALESCE(webhook_mac_backend, $2) AS b, COUNT(*) AS n FROM institutions WHERE COALESCE(webhook_mac_backend, $2) <> $1 GROUP BY 1 ORDER BY 1",
        vec![current.into(), unnamed.into()],
    )
    .await?;
    const T: &str = "institutions";
    rows.iter()
        .map(|r| {
            let n: i64 = get(r, T, "n")?;
            Ok((get(r, T, "b")?, u64::try_from(n).unwrap_or(0)))
        })
        .collect()
}
