//! Signed checkpoints of the audit chain head (#17), the audit keys that sign them, and how far
//! each witness outside the database has been sent.
//!
//! - `audit_keys`: one row per checkpoint key: a sealed custody service key
//!   (`custody_key_id`) or an asymmetric key inside AWS KMS (`kms_key_id`, its ARN), with its
//!   public key; `key_id` is the hex of the first 16 bytes of SHA-256(SPKI).
//! - `audit_checkpoints`: append-only like `audit_events` (triggers refuse `UPDATE`, `DELETE`
//!   and `TRUNCATE`); `prev` chains each checkpoint to the one before it.
//! - `audit_witness_progress`: the last checkpoint each witness (by name) holds.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditKeys {
    Table,
    KeyId,
    KeyKind,
    CustodyKeyId,
    KmsKeyId,
    Spki,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditCheckpoints {
    Table,
    Seq,
    EventSeq,
    HeadHash,
    SignedAt,
    Prev,
    KeyId,
    Signature,
}

#[derive(DeriveIden)]
enum AuditWitnessProgress {
    Table,
    Witness,
    Upto,
}

const PG_TRIGGERS: &str = r#"
CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_checkpoints is append-only';
END $$;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only();
"#;

const SQLITE_TRIGGERS: &str = r#"
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditKeys::Table)
                    .col(string_len(AuditKeys::KeyId, 64).primary_key())
                    .col(string_len(AuditKeys::KeyKind, 16))
                    .col(string_len_null(AuditKeys::CustodyKeyId, 36))
                    .col(string_len_null(AuditKeys::KmsKeyId, 2048))
                    .col(binary(AuditKeys::Spki))
                    .col(timestamp_with_time_zone(AuditKeys::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditCheckpoints::Table)
                    .col(big_integer(AuditCheckpoints::Seq).primary_key())
                    .col(big_integer(AuditCheckpoints::EventSeq))
                    .col(binary_len(AuditCheckpoints::HeadHash, 32))
                    .col(timestamp_with_time_zone(AuditCheckpoints::SignedAt))
                    .col(binary_len(AuditCheckpoints::Prev, 32))
                    .col(string_len(AuditCheckpoints::KeyId, 64))
                    .col(binary(AuditCheckpoints::Signature))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditWitnessProgress::Table)
                    .col(string_len(AuditWitnessProgress::Witness, 64).primary_key())
                    .col(big_integer(AuditWitnessProgress::Upto))
                    .to_owned(),
            )
            .await?;
        let triggers = match manager.get_database_backend() {
            DbBackend::Postgres => PG_TRIGGERS,
            DbBackend::Sqlite => SQLITE_TRIGGERS,
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        };
        manager
            .get_connection()
            .execute_unprepared(triggers)
            .await?;
        Ok(())
    }
}
