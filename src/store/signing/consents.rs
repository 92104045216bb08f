//! Consents (`consents`): a user's permission for one institution to ask signatures of one
//! certificate, and its withdrawal (which bumps the cache epoch so every node sees it).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::store::{
    StoreError,
    sql::{all, exec, get, one},
};

/// A consent as stored.
#[derive(Debug, Clone)]
pub struct ConsentRow {
    /// Id.
    pub id: String,
    /// The institution.
    pub institution_id: String,
    /// The user.
    pub user_id: String,
    /// The user's reference at that institution.
    pub user_ref: String,
    /// The certificate.
    pub certificate_id: String,
    /// Given.
    pub created_at: DateTime<Utc>,
    /// Withdrawn.
    pub withdrawn_at: Option<DateTime<Utc>>,
}

const CONSENT_COLS: &str =
    "id, institution_id, user_id, user_ref, certificate_id, created_at, withdrawn_at";

fn to_consent(r: &QueryResult) -> Result<ConsentRow, StoreError> {
    const T: &str = "consents";
    Ok(ConsentRow {
        id: get(r, T, "id")?,
        institution_id: get(r, T, "institution_id")?,
        user_id: get(r, T, "user_id")?,
        user_ref: get(r, T, "user_ref")?,
        certificate_id: get(r, T, "certificate_id")?,
        created_at: get(r, T, "created_at")?,
        withdrawn_at: get(r, T, "withdrawn_at")?,
    })
}

/// Records a consent.
pub async fn insert_consent<C: ConnectionTrait>(
    conn: &C,
    row: &ConsentRow,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO consents (id, institution_id, user_id, user_ref, certificate_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            row.id.clone().into(),
            row.institution_id.clone().into(),
            row.user_id.clone().into(),
            row.user_ref.clone().into(),
            row.certificate_id.clone().into(),
            row.created_at.into(),
        ],
    )
    .await?;
    Ok(())
}

/// A user's consents, newest first (withdrawn ones included when `include_withdrawn`).
pub async fn consents_of_user<C: ConnectionTrait>(
    conn: &C,
    user: &str,
    include_withdrawn: bool,
) -> Result<Vec<ConsentRow>, StoreError> {
    let filter = if include_withdrawn {
        ""
    } else {
        " AND withdrawn_at IS NULL"
    };
    all(
        conn,
        &format!(
            "SELECT {CONSENT_COLS} FROM consents WHERE user_id = $1{filter} ORDER BY created_at DESC, id"
        ),
        vec![user.into()],
    )
    .await?
    .iter()
    .map(to_consent)
    .collect()
}

/// The live consents an institution holds, newest first.
pub async fn consents_of_institution<C: ConnectionTrait>(
    conn: &C,
    institution: &str,
) -> Result<Vec<ConsentRow>, StoreError> {
    all(
        conn,
        &format!(
            "SELECT {CONSENT_COLS} FROM consents WHERE institution_id = $1 AND withdrawn_at IS NULL ORDER BY created_at DESC, id"
        ),
        vec![institution.into()],
    )
    .await?
    .iter()
    .map(to_consent)
    .collect()
}

/// The live consent of `institution` for `certificate`, if any.
pub async fn live_consent<C: ConnectionTrait>(
    conn: &C,
    institution: &str,
    certificate: &str,
) -> Result<Option<ConsentRow>, StoreError> {
    one(
        conn,
        &format!(
            "SELECT {CONSENT_COLS} FROM consents WHERE institution_id = $1 AND certificate_id = $2 AND withdrawn_at IS NULL ORDER BY created_at DESC"
        ),
        vec![institution.into(), certificate.into()],
    )
    .await?
    .as_ref()
    .map(to_consent)
    .transpose()
}

/// The live consents of a user known to `institution` as `user_ref`, newest first.
pub async fn live_consents_by_ref<C: ConnectionTrait>(
    conn: &C,
    institution: &str,
    user_ref: &str,
) -> Result<Vec<ConsentRow>, StoreError> {
    all(
        conn,
        &format!(
            "SELECT {CONSENT_COLS} FROM consents WHERE institution_id = $1 AND user_ref = $2 AND withdrawn_at IS NULL ORDER BY created_at DESC, id"
        ),
        vec![institution.into(), user_ref.into()],
    )
    .await?
    .iter()
    .map(to_consent)
    .collect()
}

/// Withdraws a user's live consent; false if there is none with that id.
pub async fn withdraw_consent<C: ConnectionTrait>(
    conn: &C,
    user: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<ConsentRow>, StoreError> {
    let changed = exec(
        conn,
        "UPDATE consents SET withdrawn_at = $1 WHERE id = $2 AND user_id = $3 AND withdrawn_at IS NULL",
        vec![now.into(), id.into(), user.into()],
    )
    .await?;
    if changed != 1 {
        return Ok(None);
    }
    crate::store::epochs::bump(conn).await?;
    one(
        conn,
        &format!("SELECT {CONSENT_COLS} FROM consents WHERE id = $1"),
        vec![id.into()],
    )
    .await?
    .as_ref()
    .map(to_consent)
    .transpose()
}
