//! Asynchronous CSC signing (issue 18): `signHash` / `signDoc` with `operationMode: "A"`
//! answer a `responseID` at once; the outcome is kept here until `expires_at` (the request's
//! `validity_period`, bounded by the service) for `signatures/signPolling` on any node, and
//! survives restarts.
//!
//! - `id`: the responseID (a random UUID), bound to the institution that asked;
//! - `status`: `pending` (being made), `done` or `failed`;
//! - `http_status` and `body`: the answer the synchronous call would have given (the
//!   signatures, or the CSC error), JSON; no secret (signatures and certificates only).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CscAsyncResults {
    Table,
    Id,
    InstitutionId,
    Status,
    HttpStatus,
    Body,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CscAsyncResults::Table)
                    .col(string_len(CscAsyncResults::Id, 36).primary_key())
                    .col(string_len(CscAsyncResults::InstitutionId, 36))
                    .col(string_len(CscAsyncResults::Status, 16))
                    .col(integer_null(CscAsyncResults::HttpStatus))
                    .col(text_null(CscAsyncResults::Body))
                    .col(timestamp_with_time_zone(CscAsyncResults::CreatedAt))
                    .col(timestamp_with_time_zone(CscAsyncResults::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_csc_async_results_expires")
                    .table(CscAsyncResults::Table)
                    .col(CscAsyncResults::ExpiresAt)
                    .to_owned(),
            )
            .await
    }
}
