//! `csc_async_results`: the outcomes of asynchronous CSC signing (`operationMode: "A"`), kept
//! for `signatures/signPolling` until they expire. A result is written once: `pending` becomes
//! `done` or `failed` by one conditional update.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::store::{
    StoreError,
    sql::{exec, get, one},
};

const T: &str = "csc_async_results";

/// Where an asynchronous call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsyncStatus {
    /// Being made.
    Pending,
    /// Signed: the body is the answer.
    Done,
    /// Refused or failed: the body is the CSC error.
    Failed,
}

impl AsyncStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// An asynchronous call's row.
#[derive(Debug, Clone)]
pub struct AsyncResultRow {
    /// The responseID.
    pub id: String,
    /// The institution that asked (the only one that may fetch it).
    pub institution_id: String,
    /// Where it stands.
    pub status: AsyncStatus,
    /// The answer's HTTP status, once made.
    pub http_status: Option<i32>,
    /// The answer (JSON), once made.
    pub body: Option<String>,
    /// When it was asked.
    pub created_at: DateTime<Utc>,
    /// Until when it is kept.
    pub expires_at: DateTime<Utc>,
}

/// Records a call being made.
pub async fn insert_async_result<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    institution_id: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO csc_async_results (id, institution_id, status, http_status, body, created_at, expires_at) \
         VALUES ($1, $2, 'pending', NULL, NULL, $3, $4)",
        vec![id.into(), institution_id.into(), now.into(), expires_at.into()],
    )
    .await?;
    Ok(())
}

/// Writes a pending call's answer; `false` when it was not pending (written already, or gone).
pub async fn complete_async_result<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    status: AsyncStatus,
    http_status: u16,
    body: &str,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE csc_async_results SET status = $2, http_status = $3, body = $4 \
         WHERE id = $1 AND status = 'pending'",
        vec![
            id.into(),
            status.as_str().into(),
            i32::from(http_status).into(),
            body.into(),
        ],
    )
    .await?
        == 1)
}

/// A call's row, if it is kept at `now`.
pub async fn async_result<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<AsyncResultRow>, StoreError> {
    let Some(r) = one(
        conn,
        "SELECT id, institution_id, status, http_status, body, created_at, expires_at \
         FROM csc_async_results WHERE id = $1 AND expires_at > $2",
        vec![id.into(), now.into()],
    )
    .await?
    else {
        return Ok(None);
    };
    let status: String = get(&r, T, "status")?;
    let status = match status.as_str() {
        "pending" => AsyncStatus::Pending,
        "done" => AsyncStatus::Done,
        "failed" => AsyncStatus::Failed,
        other => {
            return Err(crate::store::columns::corrupt(
                T,
                "status",
                format!("unknown status {other:?}"),
            ));
        }
    };
    Ok(Some(AsyncResultRow {
        id: get(&r, T, "id")?,
        institution_id: get(&r, T, "institution_id")?,
        status,
        http_status: get(&r, T, "http_status")?,
        body: get(&r, T, "body")?,
        created_at: get(&r, T, "created_at")?,
        expires_at: get(&r, T, "expires_at")?,
    }))
}

/// Deletes the results that expired before `now`; returns how many.
pub async fn purge_expired_async_results<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    exec(
        conn,
        "DELETE FROM csc_async_results WHERE expires_at <= $1",
        vec![now.into()],
    )
    .await
}
