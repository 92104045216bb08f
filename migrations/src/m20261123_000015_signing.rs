//! Remote signing: institutions (OAuth2 clients), users' consents to them, signature requests
//! with their results, and webhook deliveries with a log of every attempt.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Institutions {
    Table,
    Id,
    Name,
    Sector,
    ClientId,
    SecretHash,
    PreviousSecretHash,
    PreviousSecretUntil,
    WebhookKeyVersion,
    Scopes,
    Status,
    CreatedAt,
    RotatedAt,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
    InstitutionId,
    UserId,
    UserRef,
    CertificateId,
    CreatedAt,
    WithdrawnAt,
}

#[derive(DeriveIden)]
enum SignatureRequests {
    Table,
    Id,
    InstitutionId,
    UserId,
    CertificateId,
    Purpose,
    DisplayText,
    Digests,
    Content,
    Algorithm,
    Format,
    CanonicalDigest,
    Status,
    CreatedAt,
    ExpiresAt,
    DecidedAt,
    Result,
    WebhookUrl,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    InstitutionId,
    RequestId,
    Url,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    LastStatus,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    Attempt,
    At,
    StatusCode,
    Error,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Institutions::Table)
                    .col(string_len(Institutions::Id, 36).primary_key())
                    .col(string_len(Institutions::Name, 128))
                    .col(string_len(Institutions::Sector, 16))
                    .col(string_len(Institutions::ClientId, 64).unique_key())
                    .col(binary(Institutions::SecretHash))
                    .col(binary_null(Institutions::PreviousSecretHash))
                    .col(timestamp_with_time_zone_null(
                        Institutions::PreviousSecretUntil,
                    ))
                    .col(integer(Institutions::WebhookKeyVersion))
                    .col(string_len(Institutions::Scopes, 256))
                    .col(string_len(Institutions::Status, 16))
                    .col(timestamp_with_time_zone(Institutions::CreatedAt))
                    .col(timestamp_with_time_zone_null(Institutions::RotatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(string_len(Consents::Id, 36).primary_key())
                    .col(string_len(Consents::InstitutionId, 36))
                    .col(string_len(Consents::UserId, 64))
                    .col(string_len(Consents::UserRef, 64))
                    .col(string_len(Consents::CertificateId, 36))
                    .col(timestamp_with_time_zone(Consents::CreatedAt))
                    .col(timestamp_with_time_zone_null(Consents::WithdrawnAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consents_institution_certificate")
                    .table(Consents::Table)
                    .col(Consents::InstitutionId)
                    .col(Consents::CertificateId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consents_institution_user_ref")
                    .table(Consents::Table)
                    .col(Consents::InstitutionId)
                    .col(Consents::UserRef)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consents_user")
                    .table(Consents::Table)
                    .col(Consents::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SignatureRequests::Table)
                    .col(string_len(SignatureRequests::Id, 36).primary_key())
                    .col(string_len(SignatureRequests::InstitutionId, 36))
                    .col(string_len(SignatureRequests::UserId, 64))
                    .col(string_len(SignatureRequests::CertificateId, 36))
                    .col(string_len(SignatureRequests::Purpose, 16))
                    .col(text(SignatureRequests::DisplayText))
                    .col(text(SignatureRequests::Digests))
                    .col(binary_null(SignatureRequests::Content))
                    .col(string_len(SignatureRequests::Algorithm, 32))
                    .col(string_len(SignatureRequests::Format, 16))
                    .col(binary(SignatureRequests::CanonicalDigest))
                    .col(string_len(SignatureRequests::Status, 16))
                    .col(timestamp_with_time_zone(SignatureRequests::CreatedAt))
                    .col(timestamp_with_time_zone(SignatureRequests::ExpiresAt))
                    .col(timestamp_with_time_zone_null(SignatureRequests::DecidedAt))
                    .col(text_null(SignatureRequests::Result))
                    .col(string_len_null(SignatureRequests::WebhookUrl, 2048))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_signature_requests_user_status")
                    .table(SignatureRequests::Table)
                    .col(SignatureRequests::UserId)
                    .col(SignatureRequests::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(string_len(WebhookDeliveries::Id, 36).primary_key())
                    .col(string_len(WebhookDeliveries::InstitutionId, 36))
                    .col(string_len(WebhookDeliveries::RequestId, 36))
                    .col(string_len(WebhookDeliveries::Url, 2048))
                    .col(text(WebhookDeliveries::Body))
                    .col(string_len(WebhookDeliveries::Status, 16))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(integer_null(WebhookDeliveries::LastStatus))
                    .col(string_len_null(WebhookDeliveries::LastError, 256))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::DeliveredAt,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_due")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(string_len(WebhookAttempts::Id, 36).primary_key())
                    .col(string_len(WebhookAttempts::DeliveryId, 36))
                    .col(integer(WebhookAttempts::Attempt))
                    .col(timestamp_with_time_zone(WebhookAttempts::At))
                    .col(integer_null(WebhookAttempts::StatusCode))
                    .col(string_len_null(WebhookAttempts::Error, 256))
                    .to_owned(),
            )
            .await
    }
}
