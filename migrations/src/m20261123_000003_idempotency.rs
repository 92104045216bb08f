//! Idempotency records for creating POSTs from institutions (`Idempotency-Key`).
//!
//! A record is claimed before the work starts (`in_progress`) and completed with the response
//! that was sent, so a retry with the same key and body gets the same answer and a retry with a
//! different body is refused.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyRecords {
    Table,
    Scope,
    IdempotencyKey,
    RequestHash,
    State,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyRecords::Table)
                    .col(string_len(IdempotencyRecords::Scope, 128))
                    .col(string_len(IdempotencyRecords::IdempotencyKey, 255))
                    .col(binary_len(IdempotencyRecords::RequestHash, 32))
                    .col(string_len(IdempotencyRecords::State, 16))
                    .col(integer_null(IdempotencyRecords::ResponseStatus))
                    .col(text_null(IdempotencyRecords::ResponseBody))
                    .col(timestamp_with_time_zone(IdempotencyRecords::CreatedAt))
                    .col(timestamp_with_time_zone(IdempotencyRecords::ExpiresAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyRecords::Scope)
                            .col(IdempotencyRecords::IdempotencyKey),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotency_expires_at")
                    .table(IdempotencyRecords::Table)
                    .col(IdempotencyRecords::ExpiresAt)
                    .to_owned(),
            )
            .await
    }
}
