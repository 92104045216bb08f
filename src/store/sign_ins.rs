//! Sign-ins by choosing (`sign_ins`): an identification's row, its phone code's MAC with send
//! and attempt counters, and the selection ticket's hash. Every change is a compare-and-set,
//! so a code is checked at most its allowed number of times and a ticket is spent once, across
//! every node. Expiry is compared by the caller against the service clock.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::{
    domain::{owner::OwnerId, person::Phone},
    store::{
        StoreError,
        columns::corrupt,
        sql::{all, exec, get as column, one, typed},
    },
};

const T: &str = "sign_ins";

/// A sign-in as stored.
#[derive(Debug, Clone)]
pub struct SignInRow {
    /// Id (the capability the steps share).
    pub id: String,
    /// The users the identification named; empty for an unknown person.
    pub owners: Vec<OwnerId>,
    /// The phone the code goes to.
    pub phone: Phone,
    /// KMS MAC of the current code.
    pub code_mac: Option<Vec<u8>>,
    /// When the current code expires.
    pub code_expires_at: Option<DateTime<Utc>>,
    /// Tries made on the current code.
    pub code_attempts: i32,
    /// Codes made.
    pub code_sends: i32,
    /// Whether a ticket was issued (the code step is over).
    pub ticketed: bool,
    /// When the ticket expires.
    pub ticket_expires_at: Option<DateTime<Utc>>,
    /// When the ticket was spent.
    pub ticket_used_at: Option<DateTime<Utc>>,
    /// When the sign-in expires.
    pub expires_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, owner_ids, phone, code_mac, code_expires_at, code_attempts, code_sends, ticket_hash, ticket_expires_at, ticket_used_at, expires_at";

fn row(r: &QueryResult) -> Result<SignInRow, StoreError> {
    let owners: String = column(r, T, "owner_ids")?;
    let owners: Vec<String> =
        serde_json::from_str(&owners).map_err(|e| corrupt(T, "owner_ids", e.to_string()))?;
    let owners = owners
        .iter()
        .map(|o| OwnerId::parse(o).map_err(|e| corrupt(T, "owner_ids", e.to_string())))
        .collect::<Result<_, _>>()?;
    let ticket: Option<Vec<u8>> = column(r, T, "ticket_hash")?;
    Ok(SignInRow {
        id: column(r, T, "id")?,
        owners,
        phone: typed(r, T, "phone")?,
        code_mac: column(r, T, "code_mac")?,
        code_expires_at: column(r, T, "code_expires_at")?,
        code_attempts: column(r, T, "code_attempts")?,
        code_sends: column(r, T, "code_sends")?,
        ticketed: ticket.is_some(),
        ticket_expires_at: column(r, T, "ticket_expires_at")?,
        ticket_used_at: column(r, T, "ticket_used_at")?,
        expires_at: column(r, T, "expires_at")?,
    })
}

/// The users whose name, birth date (`YYYY-MM-DD`) and phone are these.
pub async fn users_named<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    birth_date: &str,
    phone: &Phone,
) -> Result<Vec<OwnerId>, StoreError> {
    all(
        conn,
        "SELECT id FROM users WHERE phone = $1 AND name = $2 AND birth_date = $3 ORDER BY id",
        vec![phone.as_str().into(), name.into(), birth_date.into()],
    )
    .await?
    .iter()
    .map(|r| typed(r, "users", "id"))
    .collect()
}

/// Creates a sign-in with its first code.
#[allow(clippy::too_many_arguments)]
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    owners: &[OwnerId],
    phone: &Phone,
    code_mac: &[u8],
    code_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let owners: Vec<&str> = owners.iter().map(OwnerId::as_str).collect();
    let owners =
        serde_json::to_string(&owners).map_err(|e| corrupt(T, "owner_ids", e.to_string()))?;
    exec(
        conn,
        "INSERT INTO sign_ins (id, owner_ids, phone, code_mac, code_expires_at, code_attempts, code_sends, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 0, 1, $6, $7)",
        vec![
            id.into(),
            owners.into(),
            phone.as_str().into(),
            code_mac.to_vec().into(),
            code_expires_at.into(),
            now.into(),
            expires_at.into(),
        ],
    )
    .await?;
    Ok(())
}

/// A sign-in by id.
pub async fn get<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Option<SignInRow>, StoreError> {
    one(
        conn,
        &format!("SELECT {COLUMNS} FROM sign_ins WHERE id = $1"),
        vec![id.into()],
    )
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// The sign-in whose ticket has this SHA-256.
pub async fn by_ticket<C: ConnectionTrait>(
    conn: &C,
    ticket_hash: &[u8],
) -> Result<Option<SignInRow>, StoreError> {
    one(
        conn,
        &format!("SELECT {COLUMNS} FROM sign_ins WHERE ticket_hash = $1"),
        vec![ticket_hash.to_vec().into()],
    )
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// Replaces the code, if fewer than `max_sends` were made and no ticket was issued; returns
/// whether it was replaced.
pub async fn set_code<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    mac: &[u8],
    expires_at: DateTime<Utc>,
    max_sends: i32,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE sign_ins SET code_mac = $1, code_expires_at = $2, code_attempts = 0, code_sends = code_sends + 1 WHERE id = $3 AND code_sends < $4 AND ticket_hash IS NULL",
        vec![mac.to_vec().into(), expires_at.into(), id.into(), max_sends.into()],
    )
    .await?
        == 1)
}

/// Counts one try on the current code if fewer than `max` were made; returns whether it may
/// be checked.
pub async fn take_code_attempt<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    max: i32,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE sign_ins SET code_attempts = code_attempts + 1 WHERE id = $1 AND code_attempts < $2 AND code_mac IS NOT NULL AND ticket_hash IS NULL",
        vec![id.into(), max.into()],
    )
    .await?
        == 1)
}

/// Forgets the current code (expired or tried too often).
pub async fn clear_code<C: ConnectionTrait>(conn: &C, id: &str) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE sign_ins SET code_mac = NULL, code_expires_at = NULL WHERE id = $1",
        vec![id.into()],
    )
    .await?;
    Ok(())
}

/// Ends the code step with a ticket (its SHA-256 only), once; returns whether this call did.
pub async fn set_ticket<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    ticket_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE sign_ins SET ticket_hash = $1, ticket_expires_at = $2, code_mac = NULL, code_expires_at = NULL WHERE id = $3 AND ticket_hash IS NULL AND code_mac IS NOT NULL",
        vec![ticket_hash.to_vec().into(), expires_at.into(), id.into()],
    )
    .await?
        == 1)
}

/// Spends the ticket, once; returns whether this call did.
pub async fn spend_ticket<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE sign_ins SET ticket_used_at = $1 WHERE id = $2 AND ticket_used_at IS NULL AND ticket_hash IS NOT NULL",
        vec![now.into(), id.into()],
    )
    .await?
        == 1)
}

/// Deletes sign-ins that expired before `before` (their tickets expired long before); returns
/// how many.
pub async fn purge_expired<C: ConnectionTrait>(
    conn: &C,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    exec(
        conn,
        "DELETE FROM sign_ins WHERE expires_at < $1",
        vec![before.into()],
    )
    .await
}
