//! Terms consents (`terms_consents`): which terms, in which version, an enrolment agreed to.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::store::{
    StoreError,
    sql::{exec, stmt},
};

/// Records a consent.
pub async fn insert_consent<C: ConnectionTrait>(
    conn: &C,
    enrolment: &str,
    code: &str,
    version: i32,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO terms_consents (id, enrolment_id, code, version, agreed_at) VALUES ($1, $2, $3, $4, $5)",
        vec![uuid::Uuid::new_v4().to_string().into(), enrolment.into(), code.into(), version.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// Consents given in an enrolment: `(code, version)`.
pub async fn consents_of<C: ConnectionTrait>(
    conn: &C,
    enrolment: &str,
) -> Result<Vec<(String, i32)>, StoreError> {
    let backend = conn.get_database_backend();
    let rows = conn
        .query_all_raw(stmt(
            backend,
            "SELECT code, version FROM terms_consents WHERE enrolment_id = $1 ORDER BY code",
            vec![enrolment.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("", "code")?, r.try_get("", "version")?)))
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(StoreError::from)
}
