//! Certificates issued by other CAs that users registered with fincert, by their public
//! certificate or by importing a PKCS#12 file (the key then re-sealed in custody).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ForeignCertificates {
    Table,
    Id,
    OwnerId,
    Usage,
    Source,
    IssuerDn,
    SerialHex,
    Subject,
    NotBefore,
    NotAfter,
    CertificateDer,
    ChainDer,
    CustodyKeyId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ForeignCertificates::Table)
                    .col(string_len(ForeignCertificates::Id, 36).primary_key())
                    .col(string_len(ForeignCertificates::OwnerId, 64))
                    .col(string_len(ForeignCertificates::Usage, 16))
                    .col(string_len(ForeignCertificates::Source, 16))
                    .col(string_len(ForeignCertificates::IssuerDn, 512))
                    .col(string_len(ForeignCertificates::SerialHex, 64))
                    .col(text(ForeignCertificates::Subject))
                    .col(timestamp_with_time_zone(ForeignCertificates::NotBefore))
                    .col(timestamp_with_time_zone(ForeignCertificates::NotAfter))
                    .col(binary(ForeignCertificates::CertificateDer))
                    .col(binary(ForeignCertificates::ChainDer))
                    .col(string_len_null(ForeignCertificates::CustodyKeyId, 36))
                    .col(timestamp_with_time_zone(ForeignCertificates::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_foreign_certificates_owner_issuer_serial")
                    .table(ForeignCertificates::Table)
                    .col(ForeignCertificates::OwnerId)
                    .col(ForeignCertificates::IssuerDn)
                    .col(ForeignCertificates::SerialHex)
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
