//! CSC signature activation data (SAD): what one `credentials/authorize` allows — which
//! credential, which institution, which hashes, how many signatures, until when — keyed by the
//! SHA-256 of the SAD (the SAD itself is never stored).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CscSads {
    Table,
    SadHash,
    InstitutionId,
    CertificateId,
    UserId,
    ActivationId,
    Hashes,
    Remaining,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CscSads::Table)
                    .col(string_len(CscSads::SadHash, 64).primary_key())
                    .col(string_len(CscSads::InstitutionId, 36))
                    .col(string_len(CscSads::CertificateId, 36))
                    .col(string_len(CscSads::UserId, 64))
                    .col(string_len(CscSads::ActivationId, 36))
                    .col(text(CscSads::Hashes))
                    .col(integer(CscSads::Remaining))
                    .col(timestamp_with_time_zone(CscSads::ExpiresAt))
                    .col(timestamp_with_time_zone(CscSads::CreatedAt))
                    .to_owned(),
            )
            .await
    }
}
