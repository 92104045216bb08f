//! Storage: the only place with queries. sea-orm over SQLite (embedded default) or PostgreSQL.
//!
//! Functions are named for what they do (`audit::append`, `idempotency::claim`) and take any
//! `ConnectionTrait`, so a caller composes them inside one transaction: a change and its audit
//! event commit together or not at all.
//!
//! SQLite runs with a single pooled connection: it allows one writer at a time anyway, and one
//! connection makes every transaction serialisable without `SQLITE_BUSY` upgrades. PostgreSQL
//! runs a normal pool and relies on row locks (the audit head, counters) for atomicity.

pub mod audit;
pub mod checkpoints;
pub mod columns;
pub mod custody;
pub mod enrolment;
pub mod entities;
pub mod epochs;
pub mod idempotency;
pub mod pki;
pub mod rate_limits;
pub mod sign_ins;
pub mod signing;
pub mod sql;
pub mod terms;
pub mod tokens;

use std::time::Duration;

use fincert_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::config::{Engine, Settings};

/// Storage failures. Callers map `Unavailable` to 503 and `Corrupt` to 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the operation; nothing was committed.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] DbErr),
    /// A corrupt row: a stored value that does not parse as its column's type, or a row that
    /// does not have the shape the code expects (corruption or a missed migration). Never
    /// mapped to a default; it is an internal error (see `store::columns`).
    #[error("corrupt row in {table}.{column}: {problem}")]
    Corrupt {
        /// Table name.
        table: &'static str,
        /// Column name.
        column: &'static str,
        /// What is wrong (for the log; never returned to a caller).
        problem: String,
    },
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        Self::Unavailable(e)
    }
}

/// Opens the database named by the settings, creating the SQLite file and data dir if needed.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, StoreError> {
    let url = settings.database_url();
    let engine = settings.engine();
    if engine == Engine::Sqlite && settings.database.url.is_empty() {
        use std::os::unix::fs::DirBuilderExt;
        // Private to the service: it holds the SQLite database (sealed keys, audit log).
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&settings.data_dir)
            .map_err(|e| {
                StoreError::Unavailable(DbErr::Custom(format!(
                    "cannot create data directory {}: {e}",
                    settings.data_dir.display()
                )))
            })?;
    }
    let timeout = Duration::from_secs(settings.database.connect_timeout_secs);
    let lock_timeout = Duration::from_millis(settings.database.lock_timeout_ms);
    let mut options = ConnectOptions::new(url);
    options
        .connect_timeout(timeout)
        .acquire_timeout(timeout)
        .sqlx_logging(false);
    match engine {
        Engine::Sqlite => {
            options
                .max_connections(1)
                .min_connections(1)
                .map_sqlx_sqlite_opts(move |o| {
                    o.statement_cache_capacity(STATEMENT_CACHE)
                        .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
                        .foreign_keys(true)
                        .busy_timeout(lock_timeout)
                });
        }
        Engine::Postgres => {
            // Every wait is bounded: a held lock or a runaway statement fails the request
            // (503 with Retry-After) instead of stalling it and every node behind it.
            let lock = format!("{}ms", settings.database.lock_timeout_ms);
            let statement = format!("{}ms", settings.database.statement_timeout_ms);
            options
                .max_connections(settings.database.max_connections)
                .min_connections(1)
                .map_sqlx_postgres_opts(move |o| {
                    o.statement_cache_capacity(STATEMENT_CACHE).options([
                        ("lock_timeout", lock.as_str()),
                        ("statement_timeout", statement.as_str()),
                    ])
                });
        }
    }
    Ok(Database::connect(options).await?)
}

/// Connections for reads beside `writer`. SQLite in WAL mode lets readers run while its one
/// writer commits, so reads on the signing path do not queue behind a group commit's fsync:
/// this opens a small pool of query-only connections to the same file (after the writer has
/// created it and put it in WAL mode). On PostgreSQL the writer's pool already serves reads in
/// parallel, and it is returned as it is.
pub async fn connect_readers(
    settings: &Settings,
    writer: &DatabaseConnection,
) -> Result<DatabaseConnection, StoreError> {
    if settings.engine() != Engine::Sqlite {
        return Ok(writer.clone());
    }
    let timeout = Duration::from_secs(settings.database.connect_timeout_secs);
    let lock_timeout = Duration::from_millis(settings.database.lock_timeout_ms);
    let mut options = ConnectOptions::new(settings.database_url());
    options
        .connect_timeout(timeout)
        .acquire_timeout(timeout)
        .sqlx_logging(false)
        .max_connections(SQLITE_READERS)
        .min_connections(1)
        .map_sqlx_sqlite_opts(move |o| {
            o.pragma("query_only", "ON")
                .foreign_keys(true)
                .busy_timeout(lock_timeout)
        });
    Ok(Database::connect(options).await?)
}

/// Moves SQLite's WAL checkpoints off the writer: the writer stops checkpointing at commit
/// (`wal_autocheckpoint = 0`), and [`checkpoint`] runs them from a reader instead. With the
/// default, every thousandth page made one commit copy the WAL into the database file and
/// fsync it while the group commit — and every signature waiting on it — stood still (the
/// 20–30 ms tail of the signing path at half load). A checkpoint from another connection runs
/// beside the writer (`PASSIVE`: it never blocks it, and copies what no reader still needs).
/// `false` (nothing changed) on PostgreSQL, whose checkpoints are the server's.
///
/// The setting lives on the writer's one connection; a connection the pool opens again
/// (after a failure) checkpoints at commit as before, which is safe, only slower.
pub async fn checkpoint_beside_writer(writer: &DatabaseConnection) -> Result<bool, StoreError> {
    use sea_orm::ConnectionTrait;
    if writer.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return Ok(false);
    }
    writer
        .execute_unprepared("PRAGMA wal_autocheckpoint = 0")
        .await?;
    Ok(true)
}

/// One passive WAL checkpoint on `readers` (SQLite; see [`checkpoint_beside_writer`]):
/// returns the WAL's frames and how many of them are now in the database file.
pub async fn checkpoint(readers: &DatabaseConnection) -> Result<(i64, i64), StoreError> {
    use sea_orm::ConnectionTrait;
    let row = readers
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA wal_checkpoint(PASSIVE)",
        ))
        .await?
        .ok_or_else(|| columns::corrupt("sqlite", "wal_checkpoint", "no answer"))?;
    let frames: i64 = row.try_get_by_index(1).map_err(StoreError::from)?;
    let done: i64 = row.try_get_by_index(2).map_err(StoreError::from)?;
    Ok((frames, done))
}

/// Query-only SQLite connections beside the writer (one per core is plenty).
const SQLITE_READERS: u32 = 4;

/// Prepared statements kept per connection. The group commit's multi-row statements have one
/// text per batch size (1 to `group_commit_max_batch`, for two or three statements), so sqlx's
/// default of 100 would evict and re-prepare them on every batch (a parse, a plan and an extra
/// round trip each on PostgreSQL).
const STATEMENT_CACHE: usize = 512;

/// Applies pending migrations; returns the names of those applied.
pub async fn migrate(db: &DatabaseConnection) -> Result<Vec<String>, StoreError> {
    let pending: Vec<String> = Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    if !pending.is_empty() {
        Migrator::up(db, None).await?;
    }
    Ok(pending)
}

/// Readiness check for `/readyz`: the database answers, and the write path is not stuck
/// behind a held lock — the audit chain's head, which every change takes, can be locked
/// within `within` (PostgreSQL; SQLite has one writer in this process, which the ping meets).
pub async fn ping(db: &DatabaseConnection, within: Duration) -> Result<(), StoreError> {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    db.ping().await?;
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let txn = db.begin().await?;
        txn.execute_unprepared(&format!(
            "SET LOCAL lock_timeout = '{}ms'",
            within.as_millis().max(1)
        ))
        .await?;
        txn.execute_unprepared("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
            .await?;
        txn.rollback().await?;
    }
    Ok(())
}
