//! Audit log queries: append events inside the caller's transaction, and read the chain back.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
    sea_query::{Expr, ExprTrait},
};

use super::{
    StoreError,
    entities::{audit_event, audit_head},
    sql,
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
    insert_records(conn, at, &records, last).await
}

/// Inserts a batch of chained records and moves the head's hash to `last`.
///
/// One statement text whatever the batch size: the records travel as one JSON parameter, so
/// the prepared statement (and PostgreSQL's plan) is reused for every batch instead of a new
/// `VALUES` list per size, which filled the driver's statement cache and re-planned each batch.
/// PostgreSQL inserts and moves the head in one round trip (a data-modifying CTE); SQLite,
/// in-process and without DML in CTEs, in two statements.
async fn insert_records<C: ConnectionTrait>(
    conn: &C,
    at: DateTime<Utc>,
    records: &[Record],
    last: Vec<u8>,
) -> Result<(), StoreError> {
    let rows: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            serde_json::json!({
                "seq": r.seq,
                "actor_kind": r.actor_kind,
                "actor_id": r.actor_id,
                "action": r.action,
                "subject": r.subject,
                "details": r.details,
                "prev_hash": hex::encode(&r.prev_hash),
                "hash": hex::encode(&r.hash),
            })
        })
        .collect();
    let rows = serde_json::Value::Array(rows).to_string();
    let head = sea_orm::Value::from(HEAD_ID);
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        sql::exec(
            conn,
            "WITH appended AS (INSERT INTO audit_events \
               (seq, occurred_at, actor_kind, actor_id, action, subject, details, prev_hash, hash) \
             SELECT v.seq, $1, v.actor_kind, v.actor_id, v.action, v.subject, v.details, \
                    decode(v.prev_hash, 'hex'), decode(v.hash, 'hex') \
             FROM json_to_recordset($2::json) AS v(seq bigint, actor_kind text, actor_id text, \
                  action text, subject text, details text, prev_hash text, hash text)) \
             UPDATE audit_head SET hash = $3 WHERE id = $4",
            vec![at.into(), rows.into(), last.into(), head],
        )
        .await?;
    } else {
        sql::exec(
            conn,
            "INSERT INTO audit_events \
               (seq, occurred_at, actor_kind, actor_id, action, subject, details, prev_hash, hash) \
             SELECT value ->> 'seq', $1, value ->> 'actor_kind', value ->> 'actor_id', \
                    value ->> 'action', value ->> 'subject', value ->> 'details', \
                    unhex(value ->> 'prev_hash'), unhex(value ->> 'hash') \
             FROM json_each($2)",
            vec![at.into(), rows.into()],
        )
        .await?;
        sql::exec(
            conn,
            "UPDATE audit_head SET hash = $1 WHERE id = $2",
            vec![last.into(), head],
        )
        .await?;
    }
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
    verify_with(conn, audit::Verifier::default()).await
}

/// [`verify`] with a verifier of the caller's (one holding checkpoints).
pub async fn verify_with<C: ConnectionTrait>(
    conn: &C,
    mut verifier: audit::Verifier,
) -> Result<Result<i64, audit::Break>, StoreError> {
    // Read the head first: events appended while we walk are past it and not checked.
    let (head_seq, head_hash) = head(conn).await?;
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
