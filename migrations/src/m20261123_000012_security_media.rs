//! Security media registered to customers by their institution (security card, hardware OTP,
//! mobile OTP): secrets only KMS-wrapped; the last OTP step used, for replay protection; the
//! open card challenge. Enrolments get a counter of medium attempts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SecurityMedia {
    Table,
    Id,
    CustomerNumber,
    Kind,
    KmsKeyId,
    WrappedSecret,
    LastStep,
    Challenge,
    PreviousChallenge,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Enrolments {
    Table,
    MediumAttempts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SecurityMedia::Table)
                    .col(string_len(SecurityMedia::Id, 36).primary_key())
                    .col(string_len(SecurityMedia::CustomerNumber, 20))
                    .col(string_len(SecurityMedia::Kind, 16))
                    .col(string_len(SecurityMedia::KmsKeyId, 256))
                    .col(binary(SecurityMedia::WrappedSecret))
                    .col(big_integer(SecurityMedia::LastStep))
                    .col(text_null(SecurityMedia::Challenge))
                    .col(text_null(SecurityMedia::PreviousChallenge))
                    .col(timestamp_with_time_zone(SecurityMedia::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_security_media_customer")
                    .table(SecurityMedia::Table)
                    .col(SecurityMedia::CustomerNumber)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Enrolments::Table)
                    .add_column(integer(Enrolments::MediumAttempts).default(0))
                    .to_owned(),
            )
            .await
    }
}
