//! Audit log queries: append events inside the caller's transaction, and read the chain back.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
    sea_query::{Expr, ExprTrait},
};

use super::{
    StoreError,
    entities::{audit_event, audit_head},
};
use crate::audit::{self, NewEvent, Record};

const HEAD_ID: i32 = 1;
const PAGE: u64 = 1000;

/// Appends `events` to the chain, all stamped `at`: inside the caller's transaction when `conn`
/// is one (as a savepoint), otherwise in a transaction of its own.
///
/// The first statement bumps the single head row, which takes its row lock (PostgreSQL) or the
/// write lock (SQLite) before anything is read, so concurrent appenders queue and each sees the
/// head its predecessor committed. That only holds inside a transaction: given a bare
/// connection, the bump, the insert and the new head hash would commit one by one and two
/// appenders could chain from the same head. Several events in one call share one lock and one
/// commit: this is the group-commit path for high-rate events.
pub async fn append<C>(conn: &C, at: DateTime<Utc>, events: &[NewEvent]) -> Result<(), StoreError>
where
    C: ConnectionTrait + TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
{
    if events.is_empty() {
        return Ok(());
    }
    let txn = conn.begin().await?;
    append_in(&txn, at, events).await?;
    txn.commit().await?;
    Ok(())
}

/// Appends `events` inside `txn` itself (no savepoint of its own): for a caller that already
/// holds a transaction and commits it, like the group committer. Saves two round trips per
/// batch against [`append`]'s savepoint.
pub async fn append_within(
    txn: &sea_orm::DatabaseTransaction,
    at: DateTime<Utc>,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    append_in(txn, at, events).await
}

async fn append_in<C: ConnectionTrait>(
    conn: &C,
    at: DateTime<Utc>,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    let count = i64::try_from(events.len()).map_err(|_| corrupt("too many events in one batch"))?;
    let bumped = audit_head::Entity::update_many()
        .col_expr(
            audit_head::Column::Seq,
            Expr::col(audit_head::Column::Seq).add(count),
        )
        .filter(audit_head::Column::Id.eq(HEAD_ID))
        .exec_with_returning(conn)
        .await?;
    let head = bumped
        .into_iter()
        .next()
        .ok_or_else(|| corrupt("audit_head row is missing"))?;
    let records = audit::chain(head.seq - count, &head.hash, at, events);
    let last = records
        .last()
        .map(|r| r.hash.clone())
        .ok_or_else(|| corrupt("empty chain"))?;
    audit_event::Entity::insert_many(records.into_iter().map(|r| audit_event::ActiveModel {
        seq: Set(r.seq),
        occurred_at: Set(r.occurred_at),
        actor_kind: Set(r.actor_kind),
        actor_id: Set(r.actor_id),
        action: Set(r.action),
        subject: Set(r.subject),
        details: Set(r.details),
        prev_hash: Set(r.prev_hash),
        hash: Set(r.hash),
    }))
    .exec(conn)
    .await?;
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Hash, Expr::value(last))
        .filter(audit_head::Column::Id.eq(HEAD_ID))
        .exec(conn)
        .await?;
    Ok(())
}

/// The current head: `(last seq, last hash)`.
pub async fn head<C: ConnectionTrait>(conn: &C) -> Result<(i64, Vec<u8>), StoreError> {
    let head = audit_head::Entity::find_by_id(HEAD_ID)
        .one(conn)
        .await?
        .ok_or_else(|| corrupt("audit_head row is missing"))?;
    Ok((head.seq, head.hash))
}

/// Up to `PAGE` records with seq greater than `after`, in order.
pub async fn page_after<C: ConnectionTrait>(
    conn: &C,
    after: i64,
) -> Result<Vec<Record>, StoreError> {
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Seq.gt(after))
        .order_by_asc(audit_event::Column::Seq)
        .limit(PAGE)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(to_record).collect())
}

/// Events with the given action, newest first (for tests and operators).
pub async fn by_action<C: ConnectionTrait>(
    conn: &C,
    action: audit::Action,
    limit: u64,
) -> Result<Vec<Record>, StoreError> {
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action.as_str()))
        .order_by_desc(audit_event::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(to_record).collect())
}

/// Walks the whole chain; `Ok(Ok(n))` for an intact chain of `n` events, `Ok(Err(break))` for
/// the first broken link.
pub async fn verify<C: ConnectionTrait>(conn: &C) -> Result<Result<i64, audit::Break>, StoreError> {
    // Read the head first: events appended while we walk are past it and not checked.
    let (head_seq, head_hash) = head(conn).await?;
    let mut verifier = audit::Verifier::default();
    let mut after = 0;
    loop {
        let page = page_after(conn, after).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in page.iter().filter(|r| r.seq <= head_seq) {
            if let Err(b) = verifier.push(record) {
                return Ok(Err(b));
            }
        }
        if after >= head_seq {
            break;
        }
    }
    Ok(verifier.finish(head_seq, &head_hash))
}

fn to_record(m: audit_event::Model) -> Record {
    Record {
        seq: m.seq,
        occurred_at: m.occurred_at,
        actor_kind: m.actor_kind,
        actor_id: m.actor_id,
        action: m.action,
        subject: m.subject,
        details: m.details,
        prev_hash: m.prev_hash,
        hash: m.hash,
    }
}

fn corrupt(problem: &str) -> StoreError {
    super::columns::corrupt("audit_head", "seq", problem)
}
