//! Audit log queries: append events inside the caller's transaction, and read the chain back.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};

use super::{
    StoreError,
    entities::{audit_archive, audit_event, audit_head},
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
    // Never earlier than the event before: time does not go back along the chain, whatever
    // the nodes' clocks say, so each month is a prefix of the chain (archives leave no gap).
    let at = head.last_at.map_or(at, |last| std::cmp::max(last, at));
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
             UPDATE audit_head SET hash = $3, last_at = $1 WHERE id = $4",
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
            "UPDATE audit_head SET hash = $1, last_at = $2 WHERE id = $3",
            vec![last.into(), at.into(), head],
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
    let mut after = verifier.checked();
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

/// A month exported by `fincert audit archive` and removed from the live log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedMonth {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Its first event.
    pub first_seq: i64,
    /// Its last event.
    pub last_seq: i64,
    /// The hash of its last event: where the live chain resumes.
    pub last_hash: Vec<u8>,
    /// Events in it.
    pub events: i64,
    /// SHA-256 of the exported events file.
    pub sha256: Vec<u8>,
    /// When it was archived.
    pub archived_at: DateTime<Utc>,
}

/// Every archived month, oldest first.
pub async fn archived_months<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<ArchivedMonth>, StoreError> {
    let rows = audit_archive::Entity::find()
        .order_by_asc(audit_archive::Column::FirstSeq)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| ArchivedMonth {
            month: m.month,
            first_seq: m.first_seq,
            last_seq: m.last_seq,
            last_hash: m.last_hash,
            events: m.events,
            sha256: m.sha256,
            archived_at: m.archived_at,
        })
        .collect())
}

/// Up to `PAGE` records with seq greater than `after` that happened before `before`, in order.
pub async fn page_before<C: ConnectionTrait>(
    conn: &C,
    after: i64,
    before: DateTime<Utc>,
) -> Result<Vec<Record>, StoreError> {
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Seq.gt(after))
        .filter(audit_event::Column::OccurredAt.lt(before))
        .order_by_asc(audit_event::Column::Seq)
        .limit(PAGE)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(to_record).collect())
}

/// Live events that happened before `before`, and live events up to seq `seq`: an archive of
/// the events before `before` ending at `seq` is a clean cut when both equal its size.
pub async fn counts_before<C: ConnectionTrait>(
    conn: &C,
    before: DateTime<Utc>,
    seq: i64,
) -> Result<(u64, u64), StoreError> {
    let by_time = audit_event::Entity::find()
        .filter(audit_event::Column::OccurredAt.lt(before))
        .count(conn)
        .await?;
    let by_seq = audit_event::Entity::find()
        .filter(audit_event::Column::Seq.lte(seq))
        .count(conn)
        .await?;
    Ok((by_time, by_seq))
}

/// Makes the monthly partitions of `audit_events` from the month of `from` to that of `to`
/// (PostgreSQL; nothing on SQLite, which has one table). Returns how many it made.
pub async fn ensure_partitions<C: ConnectionTrait>(
    conn: &C,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i32, StoreError> {
    if conn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(0);
    }
    let row = sql::one(
        conn,
        "SELECT audit_events_ensure_months($1, $2) AS made",
        vec![from.into(), to.into()],
    )
    .await?
    .ok_or_else(|| corrupt("audit_events_ensure_months answered no row"))?;
    sql::get(&row, "audit_events", "made")
}

/// Whether the partition `name` of `audit_events` exists (PostgreSQL; always true on SQLite).
pub async fn partition_exists<C: ConnectionTrait>(
    conn: &C,
    name: &str,
) -> Result<bool, StoreError> {
    if conn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(true);
    }
    let row = sql::one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'audit_events'::regclass AND c.relname = $1) AS found",
        vec![name.into()],
    )
    .await?
    .ok_or_else(|| corrupt("pg_inherits answered no row"))?;
    sql::get(&row, "audit_events", "found")
}

/// Records `month` as archived, appends `event` (stamped `at`), and removes the month's events
/// from the live log, in one transaction: PostgreSQL drops its partition `partition`; SQLite
/// deletes its rows (the append-only trigger set aside and put back inside the transaction).
/// The caller has written and checked the archive files and that the month is a clean cut.
pub async fn remove_archived(
    db: &sea_orm::DatabaseConnection,
    month: &ArchivedMonth,
    partition: &str,
    at: DateTime<Utc>,
    event: NewEvent,
) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    audit_archive::Entity::insert(audit_archive::ActiveModel {
        month: Set(month.month.clone()),
        first_seq: Set(month.first_seq),
        last_seq: Set(month.last_seq),
        last_hash: Set(month.last_hash.clone()),
        events: Set(month.events),
        sha256: Set(month.sha256.clone()),
        archived_at: Set(month.archived_at),
    })
    .exec(&txn)
    .await?;
    // The head first, as every appender: it queues behind them rather than deadlocking.
    append_in(&txn, at, std::slice::from_ref(&event)).await?;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        // `partition` is made from a validated month (`audit_events_yYYYYmMM`), never input.
        if !partition
            .strip_prefix("audit_events_y")
            .is_some_and(|rest| {
                rest.len() == 7 && rest.chars().all(|c| c.is_ascii_digit() || c == 'm')
            })
        {
            return Err(corrupt("not an audit partition name"));
        }
        txn.execute_unprepared(&format!("DROP TABLE {partition}"))
            .await?;
    } else {
        txn.execute_unprepared("DROP TRIGGER audit_events_no_delete")
            .await?;
        sql::exec(
            &txn,
            "DELETE FROM audit_events WHERE seq >= $1 AND seq <= $2",
            vec![month.first_seq.into(), month.last_seq.into()],
        )
        .await?;
        txn.execute_unprepared(SQLITE_NO_DELETE).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// SQLite's append-only delete trigger, as migration 000001 made it.
const SQLITE_NO_DELETE: &str = "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON \
     audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;";

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
