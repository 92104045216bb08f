//! The audit log at scale (#17): monthly partitions on PostgreSQL, archives, and a chain whose
//! times never go back.
//!
//! - `audit_head.last_at`: the time of the last event. Appenders stamp a batch with
//!   `max(now, last_at)`, so time never decreases along the chain (nodes' clocks differ by
//!   milliseconds). That is what makes a month a *prefix* of the chain: every event of a month
//!   comes before every event of the next, and archiving whole months never leaves a gap.
//! - `audit_archives`: one row per month exported by `fincert audit archive` and removed from
//!   the live table — its seq range, the hash of its last event (where the live chain resumes)
//!   and the SHA-256 of the exported file. Append-only.
//! - PostgreSQL: `audit_events` becomes a table partitioned by month of `occurred_at` (UTC),
//!   one partition per month (`audit_events_y2026m12`) plus a default partition that catches
//!   what arrives for a month nobody created (a clock far ahead): an insert never fails for a
//!   missing partition. `audit_events_ensure_months(from, to)` creates the months between two
//!   times (one caller at a time, under an advisory lock; a month whose events already went to
//!   the default partition stays there, an archived month is never made again); the migration
//!   makes the months of the existing rows and the next two, and the service makes the next
//!   two at start and every few minutes. The rows are copied over once, in this migration's
//!   transaction (sea-orm-migration runs PostgreSQL migrations in one). Row triggers on the parent
//!   (append-only) are cloned onto every partition; `TRUNCATE` triggers are not, so each
//!   partition gets its own. The primary key is `(seq, occurred_at)` (a partitioned table's
//!   keys must hold the partition key); one chain head still hands out each seq once.
//!
//! SQLite (the embedded development engine) keeps one table; `audit archive` deletes an
//! archived month's rows there instead of dropping a partition.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    LastAt,
}

#[derive(DeriveIden)]
enum AuditArchives {
    Table,
    Month,
    FirstSeq,
    LastSeq,
    LastHash,
    Events,
    Sha256,
    ArchivedAt,
}

const PG_PARTITIONS: &str = r#"
ALTER TABLE audit_events RENAME TO audit_events_unpartitioned;
ALTER INDEX audit_events_pkey RENAME TO audit_events_unpartitioned_pkey;
ALTER INDEX idx_audit_events_action_time RENAME TO idx_audit_events_unpartitioned_action_time;
CREATE TABLE audit_events (
  LIKE audit_events_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
  PRIMARY KEY (seq, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX idx_audit_events_action_time ON audit_events (action, occurred_at);
CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events_default
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE FUNCTION audit_events_ensure_months(from_time timestamptz, to_time timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  m timestamp := date_trunc('month', from_time AT TIME ZONE 'UTC');
  last_month timestamp := date_trunc('month', to_time AT TIME ZONE 'UTC');
  lo timestamptz;
  hi timestamptz;
  part text;
  made integer := 0;
BEGIN
  -- One creator at a time across nodes ("finc" + 3; the job locks are 1 and 2).
  PERFORM pg_advisory_xact_lock(112603009581059);
  WHILE m <= last_month LOOP
    lo := m AT TIME ZONE 'UTC';
    hi := (m + interval '1 month') AT TIME ZONE 'UTC';
    part := 'audit_events_' || to_char(m, '"y"YYYY"m"MM');
    IF to_regclass(part) IS NULL AND NOT EXISTS (
      SELECT 1 FROM audit_events_default WHERE occurred_at >= lo AND occurred_at < hi
    ) AND NOT EXISTS (
      SELECT 1 FROM audit_archives WHERE month = to_char(m, 'YYYY-MM')
    ) THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
                     part, lo, hi);
      EXECUTE format('CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON %I '
                     'FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()', part);
      made := made + 1;
    END IF;
    m := m + interval '1 month';
  END LOOP;
  RETURN made;
END $$;

SELECT audit_events_ensure_months(
  COALESCE(min(occurred_at), now()),
  GREATEST(COALESCE(max(occurred_at), now()), now()) + interval '2 months'
) FROM audit_events_unpartitioned;
INSERT INTO audit_events SELECT * FROM audit_events_unpartitioned;
DROP TABLE audit_events_unpartitioned;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE FUNCTION audit_archives_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_archives is append-only';
END $$;
CREATE TRIGGER audit_archives_no_update BEFORE UPDATE OR DELETE ON audit_archives
  FOR EACH ROW EXECUTE FUNCTION audit_archives_append_only();
CREATE TRIGGER audit_archives_no_truncate BEFORE TRUNCATE ON audit_archives
  FOR EACH STATEMENT EXECUTE FUNCTION audit_archives_append_only();
"#;

const SQLITE_TRIGGERS: &str = r#"
CREATE TRIGGER audit_archives_no_update BEFORE UPDATE ON audit_archives
BEGIN SELECT RAISE(ABORT, 'audit_archives is append-only'); END;
CREATE TRIGGER audit_archives_no_delete BEFORE DELETE ON audit_archives
BEGIN SELECT RAISE(ABORT, 'audit_archives is append-only'); END;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditHead::Table)
                    .add_column(timestamp_with_time_zone_null(AuditHead::LastAt))
                    .to_owned(),
            )
            .await?;
        let conn = manager.get_connection();
        conn.execute_unprepared(
            "UPDATE audit_head SET last_at = (SELECT max(occurred_at) FROM audit_events) \
             WHERE id = 1",
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditArchives::Table)
                    .col(string_len(AuditArchives::Month, 7).primary_key())
                    .col(big_integer(AuditArchives::FirstSeq))
                    .col(big_integer(AuditArchives::LastSeq))
                    .col(binary_len(AuditArchives::LastHash, 32))
                    .col(big_integer(AuditArchives::Events))
                    .col(binary_len(AuditArchives::Sha256, 32))
                    .col(timestamp_with_time_zone(AuditArchives::ArchivedAt))
                    .to_owned(),
            )
            .await?;
        let sql = match manager.get_database_backend() {
            DbBackend::Postgres => PG_PARTITIONS,
            DbBackend::Sqlite => SQLITE_TRIGGERS,
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        };
        conn.execute_unprepared(sql).await?;
        Ok(())
    }
}
