//! Users, enrolments (the four-step issuance procedure), terms consents, and the development
//! identity verifier's table of known customers.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    CustomerNumber,
    Name,
    BirthDate,
    Phone,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Enrolments {
    Table,
    Id,
    Purpose,
    Step,
    UserId,
    Phone,
    CodeMac,
    CodeExpiresAt,
    CodeAttempts,
    CodeSends,
    CreatedAt,
    ExpiresAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TermsConsents {
    Table,
    Id,
    EnrolmentId,
    Code,
    Version,
    AgreedAt,
}

#[derive(DeriveIden)]
enum DevCustomers {
    Table,
    CustomerNumber,
    Name,
    BirthDate,
    Phone,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string_len(Users::Id, 36).primary_key())
                    .col(string_len(Users::CustomerNumber, 20).unique_key())
                    .col(string_len(Users::Name, 128))
                    .col(string_len(Users::BirthDate, 10))
                    .col(string_len(Users::Phone, 16))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Enrolments::Table)
                    .col(string_len(Enrolments::Id, 36).primary_key())
                    .col(string_len(Enrolments::Purpose, 16))
                    .col(string_len(Enrolments::Step, 16))
                    .col(string_len_null(Enrolments::UserId, 36))
                    .col(string_len_null(Enrolments::Phone, 16))
                    .col(binary_null(Enrolments::CodeMac))
                    .col(timestamp_with_time_zone_null(Enrolments::CodeExpiresAt))
                    .col(integer(Enrolments::CodeAttempts))
                    .col(integer(Enrolments::CodeSends))
                    .col(timestamp_with_time_zone(Enrolments::CreatedAt))
                    .col(timestamp_with_time_zone(Enrolments::ExpiresAt))
                    .col(timestamp_with_time_zone(Enrolments::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TermsConsents::Table)
                    .col(string_len(TermsConsents::Id, 36).primary_key())
                    .col(string_len(TermsConsents::EnrolmentId, 36))
                    .col(string_len(TermsConsents::Code, 64))
                    .col(integer(TermsConsents::Version))
                    .col(timestamp_with_time_zone(TermsConsents::AgreedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DevCustomers::Table)
                    .col(string_len(DevCustomers::CustomerNumber, 20).primary_key())
                    .col(string_len(DevCustomers::Name, 128))
                    .col(string_len(DevCustomers::BirthDate, 10))
                    .col(string_len(DevCustomers::Phone, 16))
                    .to_owned(),
            )
            .await
    }
}
