//! Automatic renewal (issue 16, part 5): `auto_renewal_settings`, the holder's choice per
//! certificate. No row means the default (on for a restricted-use financial certificate in the
//! cloud, as KFTC's financial certificate renews itself; off otherwise). `fee_confirmed_krw` is
//! the general-purpose fee the holder agreed to when turning it on: an automatic renewal that
//! would charge anything else does not happen.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AutoRenewalSettings {
    Table,
    CertificateId,
    OwnerId,
    Enabled,
    FeeConfirmedKrw,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AutoRenewalSettings::Table)
                    .col(string_len(AutoRenewalSettings::CertificateId, 36).primary_key())
                    .col(string_len(AutoRenewalSettings::OwnerId, 64))
                    .col(boolean(AutoRenewalSettings::Enabled))
                    .col(integer_null(AutoRenewalSettings::FeeConfirmedKrw))
                    .col(timestamp_with_time_zone(AutoRenewalSettings::UpdatedAt))
                    .to_owned(),
            )
            .await
    }
}
