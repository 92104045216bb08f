//! Enrolments (`enrolments`): an enrolment's row and its single-use step transitions, the
//! phone code's MAC with its send and attempt counters, and the security-medium attempt
//! counter. Every transition is a compare-and-set on the current step, so it happens once.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::{
    domain::{
        enrolment_step::{Purpose, Step},
        owner::OwnerId,
        person::Phone,
    },
    store::{
        StoreError,
        columns::text,
        sql::{exec, get as column, one, typed, typed_opt},
    },
};

/// An enrolment as stored.
#[derive(Debug, Clone)]
pub struct EnrolmentRow {
    /// Id.
    pub id: String,
    /// Issue, reissue or PIN reset.
    pub purpose: Purpose,
    /// The step it waits for.
    pub step: Step,
    /// The user, once identified.
    pub user_id: Option<OwnerId>,
    /// The phone the code goes to, once identified.
    pub phone: Option<Phone>,
    /// KMS MAC of the current code.
    pub code_mac: Option<Vec<u8>>,
    /// When the current code expires.
    pub code_expires_at: Option<DateTime<Utc>>,
    /// Wrong codes entered.
    pub code_attempts: i32,
    /// Codes sent.
    pub code_sends: i32,
    /// When the enrolment expires.
    pub expires_at: DateTime<Utc>,
}

const T: &str = "enrolments";

fn row_to_enrolment(r: &QueryResult) -> Result<EnrolmentRow, StoreError> {
    Ok(EnrolmentRow {
        id: column(r, T, "id")?,
        purpose: typed(r, T, "purpose")?,
        step: typed(r, T, "step")?,
        user_id: typed_opt(r, T, "user_id")?,
        phone: typed_opt(r, T, "phone")?,
        code_mac: column(r, T, "code_mac")?,
        code_expires_at: column(r, T, "code_expires_at")?,
        code_attempts: column(r, T, "code_attempts")?,
        code_sends: column(r, T, "code_sends")?,
        expires_at: column(r, T, "expires_at")?,
    })
}

/// Creates an enrolment at step `first`.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    purpose: Purpose,
    first: Step,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO enrolments (id, purpose, step, code_attempts, code_sends, created_at, expires_at, updated_at) VALUES ($1, $2, $5, 0, 0, $3, $4, $3)",
        vec![
            id.into(),
            text(&purpose),
            now.into(),
            expires_at.into(),
            text(&first),
        ],
    )
    .await?;
    Ok(())
}

/// An enrolment by id.
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<EnrolmentRow>, StoreError> {
    one(conn, "SELECT id, purpose, step, user_id, phone, code_mac, code_expires_at, code_attempts, code_sends, expires_at FROM enrolments WHERE id = $1", vec![id.into()])
        .await?
        .as_ref()
        .map(row_to_enrolment)
        .transpose()
}

/// Moves an enrolment from `from` to `to` if it is still at `from` (single use); returns
/// whether this call moved it.
pub async fn advance<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    from: Step,
    to: Step,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE enrolments SET step = $1, updated_at = $2 WHERE id = $3 AND step = $4",
        vec![text(&to), now.into(), id.into(), text(&from)],
    )
    .await?
        == 1)
}

/// Records who the enrolment is for (identity step).
pub async fn set_identity<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    user_id: &str,
    phone: &Phone,
) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE enrolments SET user_id = $1, phone = $2 WHERE id = $3",
        vec![user_id.into(), text(phone), id.into()],
    )
    .await?;
    Ok(())
}

/// Stores a new code's MAC if fewer than `max_sends` were sent; returns whether it was stored.
pub async fn set_code<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    mac: &[u8],
    expires_at: DateTime<Utc>,
    max_sends: i32,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE enrolments SET code_mac = $1, code_expires_at = $2, code_attempts = 0, code_sends = code_sends + 1 WHERE id = $3 AND step = $5 AND code_sends < $4",
        vec![
            mac.to_vec().into(),
            expires_at.into(),
            id.into(),
            max_sends.into(),
            text(&Step::Phone),
        ],
    )
    .await?
        == 1)
}

/// Counts one code attempt if fewer than `max` were made; returns whether it may be checked.
pub async fn take_code_attempt<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    max: i32,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE enrolments SET code_attempts = code_attempts + 1 WHERE id = $1 AND step = $3 AND code_attempts < $2",
        vec![id.into(), max.into(), text(&Step::Phone)],
    )
    .await?
        == 1)
}

/// Forgets the code (used, or too many attempts).
pub async fn clear_code<C: ConnectionTrait>(conn: &C, id: &str) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE enrolments SET code_mac = NULL, code_expires_at = NULL WHERE id = $1",
        vec![id.into()],
    )
    .await?;
    Ok(())
}

/// Counts one medium attempt if fewer than `max`; returns whether it may be checked.
pub async fn take_medium_attempt<C: ConnectionTrait>(
    conn: &C,
    enrolment: &str,
    max: i32,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE enrolments SET medium_attempts = medium_attempts + 1 WHERE id = $1 AND step = $3 AND medium_attempts < $2",
        vec![enrolment.into(), max.into(), text(&Step::Medium)],
    )
    .await?
        == 1)
}
