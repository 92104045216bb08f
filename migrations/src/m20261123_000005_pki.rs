//! The certificate authority, issued certificates, the fee ledger and published CRLs.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Authorities {
    Table,
    Id,
    Algorithm,
    KeyKind,
    CustodyKeyId,
    KmsKeyId,
    CertificateDer,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Certificates {
    Table,
    Id,
    OwnerId,
    Kind,
    Usage,
    Storage,
    Status,
    SerialHex,
    Subject,
    NotBefore,
    NotAfter,
    IssuerId,
    CustodyKeyId,
    CertificateDer,
    RevokedAt,
    RevocationReason,
    ReplacesId,
    RenewedById,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum FeeCharges {
    Table,
    Id,
    OwnerId,
    CertificateId,
    Event,
    AmountKrw,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Crls {
    Table,
    IssuerId,
    CrlNumber,
    ThisUpdate,
    NextUpdate,
    Der,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Authorities::Table)
                    .col(string_len(Authorities::Id, 32).primary_key())
                    .col(string_len(Authorities::Algorithm, 16))
                    .col(string_len(Authorities::KeyKind, 16))
                    .col(string_len_null(Authorities::CustodyKeyId, 36))
                    .col(string_len_null(Authorities::KmsKeyId, 256))
                    .col(binary(Authorities::CertificateDer))
                    .col(timestamp_with_time_zone(Authorities::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Certificates::Table)
                    .col(string_len(Certificates::Id, 36).primary_key())
                    .col(string_len(Certificates::OwnerId, 64))
                    .col(string_len(Certificates::Kind, 16))
                    .col(string_len(Certificates::Usage, 16))
                    .col(string_len(Certificates::Storage, 16))
                    .col(string_len(Certificates::Status, 16))
                    .col(string_len(Certificates::SerialHex, 64).unique_key())
                    .col(text(Certificates::Subject))
                    .col(timestamp_with_time_zone(Certificates::NotBefore))
                    .col(timestamp_with_time_zone(Certificates::NotAfter))
                    .col(string_len(Certificates::IssuerId, 32))
                    .col(string_len_null(Certificates::CustodyKeyId, 36))
                    .col(binary(Certificates::CertificateDer))
                    .col(timestamp_with_time_zone_null(Certificates::RevokedAt))
                    .col(integer_null(Certificates::RevocationReason))
                    .col(string_len_null(Certificates::ReplacesId, 36))
                    .col(string_len_null(Certificates::RenewedById, 36))
                    .col(timestamp_with_time_zone(Certificates::CreatedAt))
                    .col(timestamp_with_time_zone(Certificates::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_certificates_owner", Certificates::OwnerId),
            ("idx_certificates_status", Certificates::Status),
            ("idx_certificates_not_after", Certificates::NotAfter),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Certificates::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(FeeCharges::Table)
                    .col(string_len(FeeCharges::Id, 36).primary_key())
                    .col(string_len(FeeCharges::OwnerId, 64))
                    .col(string_len(FeeCharges::CertificateId, 36))
                    .col(string_len(FeeCharges::Event, 16))
                    .col(integer(FeeCharges::AmountKrw))
                    .col(timestamp_with_time_zone(FeeCharges::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_fee_charges_owner")
                    .table(FeeCharges::Table)
                    .col(FeeCharges::OwnerId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Crls::Table)
                    .col(string_len(Crls::IssuerId, 32))
                    .col(big_integer(Crls::CrlNumber))
                    .col(timestamp_with_time_zone(Crls::ThisUpdate))
                    .col(timestamp_with_time_zone(Crls::NextUpdate))
                    .col(binary(Crls::Der))
                    .primary_key(Index::create().col(Crls::IssuerId).col(Crls::CrlNumber))
                    .to_owned(),
            )
            .await
    }
}
