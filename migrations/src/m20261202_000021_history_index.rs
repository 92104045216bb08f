//! Usage history (issue 16, part 4): a certificate's history is read from
//! `signature_requests` for one holder and certificate, newest first, a page at a time
//! (keyset pagination on `(created_at, id)`). This index serves exactly that read, so a page
//! costs its own rows however long the history grows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SignatureRequests {
    Table,
    UserId,
    CertificateId,
    CreatedAt,
    Id,
}

const INDEX: &str = "idx_signature_requests_history";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(SignatureRequests::Table)
                    .col(SignatureRequests::UserId)
                    .col(SignatureRequests::CertificateId)
                    .col(SignatureRequests::CreatedAt)
                    .col(SignatureRequests::Id)
                    .to_owned(),
            )
            .await
    }
}
