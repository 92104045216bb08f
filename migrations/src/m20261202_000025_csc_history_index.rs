//! CSC signatures in the usage history (issue 16, part 4): a certificate's CSC authorizations
//! are read from `csc_sads` for one holder and certificate, newest first, a page at a time
//! (keyset pagination on `(created_at, activation_id)`), beside its signature requests. This
//! index serves that read as `idx_signature_requests_history` serves the other.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CscSads {
    Table,
    UserId,
    CertificateId,
    CreatedAt,
    ActivationId,
}

const INDEX: &str = "idx_csc_sads_history";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(CscSads::Table)
                    .col(CscSads::UserId)
                    .col(CscSads::CertificateId)
                    .col(CscSads::CreatedAt)
                    .col(CscSads::ActivationId)
                    .to_owned(),
            )
            .await
    }
}
