//! Idempotency records: claim a key before doing the work, complete it with the response.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use super::{
    StoreError,
    columns::{corrupt, parse},
    entities::idempotency_record as rec,
};
use crate::domain::idempotency::IdempotencyKey;

const T: &str = "idempotency_records";

/// A record's state: claimed, or answered (with the response kept for replays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    InProgress,
    Complete,
}

impl State {
    const fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Complete => "complete",
        }
    }
}

impl super::columns::Text for State {
    const WHAT: &'static str = "idempotency state";
    fn from_text(raw: &str) -> Option<Self> {
        [Self::InProgress, Self::Complete]
            .into_iter()
            .find(|v| v.as_str() == raw)
    }
    fn to_text(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(self.as_str())
    }
}

const IN_PROGRESS: &str = State::InProgress.as_str();
const COMPLETE: &str = State::Complete.as_str();

/// The outcome of claiming a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use (or a takeover): do the work, and [`complete`] the claim in the work's own
    /// transaction (or [`release`] it when the work fails).
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

/// A claim this caller holds: its scope, key and time. The time tells it from a later claim
/// that took the key over, so a completion or release of a claim that was taken over does
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The caller's identity.
    pub scope: String,
    /// The key.
    pub key: IdempotencyKey,
    /// When it was claimed.
    pub at: DateTime<Utc>,
}

/// Claims `key` in `scope` (the caller's identity) for a request with `fingerprint` at `now`
/// (the [`Claimed`] is `(scope, key, now)`). Records expire after `ttl`; an expired record is
/// replaced. An unfinished claim older than `lease` is taken over: its work can no longer be
/// running (the lease outlasts every request), and because the work completes its claim in
/// its own transaction, an unfinished claim means nothing of its work was committed — a node
/// that died after claiming leaves a key a retry can use, never a stuck one.
pub async fn claim<C: ConnectionTrait>(
    conn: &C,
    scope: &str,
    key: &IdempotencyKey,
    fingerprint: &[u8; 32],
    now: DateTime<Utc>,
    ttl: Duration,
    lease: Duration,
) -> Result<Claim, StoreError> {
    // One statement (one commit): insert the claim, or take over an expired record or a
    // stale unfinished claim of the same key; a live record is left alone and read below.
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
            .action_and_where(
                Expr::col((rec::Entity, rec::Column::ExpiresAt))
                    .lte(now)
                    .or(Expr::col((rec::Entity, rec::Column::State))
                        .eq(IN_PROGRESS)
                        .and(Expr::col((rec::Entity, rec::Column::CreatedAt)).lte(now - lease))),
            )
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
        .ok_or_else(|| corrupt(T, "idempotency_key", "claimed key vanished"))?;
    if existing.request_hash != fingerprint.as_slice() {
        return Ok(Claim::Mismatch);
    }
    match parse(T, "state", &existing.state)? {
        State::InProgress => Ok(Claim::InProgress),
        State::Complete => {
            let (Some(status), Some(body)) = (existing.response_status, existing.response_body)
            else {
                return Err(corrupt(
                    T,
                    "response_body",
                    "a complete record without its response",
                ));
            };
            let status = u16::try_from(status).map_err(|_| {
                corrupt(
                    T,
                    "response_status",
                    format!("{status} is not an HTTP status"),
                )
            })?;
            Ok(Claim::Replay { status, body })
        }
    }
}

/// The answer a piece of work stores with its claim, in its own transaction.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The claim it completes.
    pub claimed: Claimed,
    /// The HTTP status sent.
    pub status: u16,
    /// The JSON body sent.
    pub body: String,
}

/// Records the response sent for `claimed`, inside the work's own transaction; `false` when
/// the claim is not this caller's any more (taken over after its lease) — then the work must
/// not commit.
pub async fn complete<C: ConnectionTrait>(
    conn: &C,
    claimed: &Claimed,
    status: u16,
    body: &str,
) -> Result<bool, StoreError> {
    let res = rec::Entity::update_many()
        .col_expr(rec::Column::State, COMPLETE.into())
        .col_expr(rec::Column::ResponseStatus, i32::from(status).into())
        .col_expr(rec::Column::ResponseBody, body.into())
        .filter(rec::Column::Scope.eq(claimed.scope.as_str()))
        .filter(rec::Column::IdempotencyKey.eq(claimed.key.as_str()))
        .filter(rec::Column::State.eq(IN_PROGRESS))
        .filter(rec::Column::CreatedAt.eq(claimed.at))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Gives an unfinished claim back after its work failed, so a retry can run it again.
pub async fn release<C: ConnectionTrait>(conn: &C, claimed: &Claimed) -> Result<(), StoreError> {
    rec::Entity::delete_many()
        .filter(rec::Column::Scope.eq(claimed.scope.as_str()))
        .filter(rec::Column::IdempotencyKey.eq(claimed.key.as_str()))
        .filter(rec::Column::State.eq(IN_PROGRESS))
        .filter(rec::Column::CreatedAt.eq(claimed.at))
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
