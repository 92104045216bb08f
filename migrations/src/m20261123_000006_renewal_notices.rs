//! Renewal-window notices: one row per certificate when it enters its renewal window, so the
//! holder is told once (the message itself goes out through the message sender later).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RenewalNotices {
    Table,
    CertificateId,
    OwnerId,
    NotAfter,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RenewalNotices::Table)
                    .col(string_len(RenewalNotices::CertificateId, 36).primary_key())
                    .col(string_len(RenewalNotices::OwnerId, 64))
                    .col(timestamp_with_time_zone(RenewalNotices::NotAfter))
                    .col(timestamp_with_time_zone(RenewalNotices::CreatedAt))
                    .to_owned(),
            )
            .await
    }
}
