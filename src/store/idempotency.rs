//! Idempotency records: claim a key before doing the work, complete it with the response.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use super::{StoreError, entities::idempotency_record as rec};
use crate::domain::idempotency::IdempotencyKey;

const IN_PROGRESS: &str = "in_progress";
const COMPLETE: &str = "complete";

/// The outcome of claiming a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: do the work, then call [`complete`] (or [`release`] on failure).
    Fresh,
    /// Used before with the same request: send this response again.
    Replay {
        /// Status sent the first time.
        status: u16,
        /// Body sent the first time.
        body: String,
    },
    /// Used before with the same request, whose work has not finished yet.
    InProgress,
    /// Used before with a different request.
    Mismatch,
}

/// Claims `key` in `scope` (the caller's identity) for a request with `fingerprint`.
/// Records expire after `ttl`; an expired record is replaced.
pub async fn claim<C: ConnectionTrait>(
    conn: &C,
    scope: &str,
    key: &IdempotencyKey,
    fingerprint: &[u8; 32],
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<Claim, StoreError> {
    // One statement (one commit): insert the claim, or take over an expired record of the
    // same key; a live record is left alone and read below.
    let inserted = rec::Entity::insert(rec::ActiveModel {
        scope: Set(scope.to_owned()),
        idempotency_key: Set(key.as_str().to_owned()),
        request_hash: Set(fingerprint.to_vec()),
        state: Set(IN_PROGRESS.into()),
        response_status: Set(None),
        response_body: Set(None),
        created_at: Set(now),
        expires_at: Set(now + ttl),
    })
    .on_conflict(
        OnConflict::columns([rec::Column::Scope, rec::Column::IdempotencyKey])
            .update_columns([
                rec::Column::RequestHash,
                rec::Column::State,
                rec::Column::ResponseStatus,
                rec::Column::ResponseBody,
                rec::Column::CreatedAt,
                rec::Column::ExpiresAt,
            ])
            .action_and_where(Expr::col((rec::Entity, rec::Column::ExpiresAt)).lte(now))
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let existing = rec::Entity::find_by_id((scope.to_owned(), key.as_str().to_owned()))
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::Corrupt {
            table: "idempotency_records",
            problem: "claimed key vanished".into(),
        })?;
    if existing.request_hash != fingerprint.as_slice() {
        return Ok(Claim::Mismatch);
    }
    match (
        existing.state.as_str(),
        existing.response_status,
        existing.response_body,
    ) {
        (COMPLETE, Some(status), Some(body)) => Ok(Claim::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body,
        }),
        _ => Ok(Claim::InProgress),
    }
}

/// Records the response sent for a claimed key.
pub async fn complete<C: ConnectionTrait>(
    conn: &C,
    scope: &str,
    key: &IdempotencyKey,
    status: u16,
    body: &str,
) -> Result<(), StoreError> {
    rec::Entity::update_many()
        .col_expr(rec::Column::State, COMPLETE.into())
        .col_expr(rec::Column::ResponseStatus, i32::from(status).into())
        .col_expr(rec::Column::ResponseBody, body.into())
        .filter(rec::Column::Scope.eq(scope))
        .filter(rec::Column::IdempotencyKey.eq(key.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Gives a claimed key back after the work failed, so a retry can run it again.
pub async fn release<C: ConnectionTrait>(
    conn: &C,
    scope: &str,
    key: &IdempotencyKey,
) -> Result<(), StoreError> {
    rec::Entity::delete_many()
        .filter(rec::Column::Scope.eq(scope))
        .filter(rec::Column::IdempotencyKey.eq(key.as_str()))
        .filter(rec::Column::State.eq(IN_PROGRESS))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes records expired at `now`; returns how many.
pub async fn purge_expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let res = rec::Entity::delete_many()
        .filter(rec::Column::ExpiresAt.lte(now))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}
