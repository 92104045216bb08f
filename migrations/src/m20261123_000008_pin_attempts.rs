//! PIN failure counters, one per custody key. Counted in the database with atomic conditional
//! updates so every node sees the same count and concurrent attempts cannot exceed the limit.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PinAttempts {
    Table,
    CustodyKeyId,
    Failures,
    LockedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PinAttempts::Table)
                    .col(string_len(PinAttempts::CustodyKeyId, 36).primary_key())
                    .col(integer(PinAttempts::Failures))
                    .col(timestamp_with_time_zone_null(PinAttempts::LockedAt))
                    .col(timestamp_with_time_zone(PinAttempts::UpdatedAt))
                    .to_owned(),
            )
            .await
    }
}
