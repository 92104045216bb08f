//! User-authorized CSC with `scope=service` (issue 18): the holder lets an institution's client
//! act for them in the CSC service — list their credentials, read them, and ask them for
//! authorizations (each still needs the PIN, `credentials/authorize`).
//!
//! - `csc_oauth_grants.scope`: `credential` (every row before this migration) or `service`; a
//!   service grant names no credential (`certificate_id` empty) and binds to the holder who
//!   allows it.
//! - `csc_service_tokens`: the service tokens an exchange issued, stored only as SHA-256, bound
//!   to the client and the holder, until `expires_at` or their revocation (row deleted).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CscOauthGrants {
    Table,
    Scope,
}

#[derive(DeriveIden)]
enum CscServiceTokens {
    Table,
    TokenHash,
    InstitutionId,
    UserId,
    GrantId,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CscOauthGrants::Table)
                    .add_column(string_len(CscOauthGrants::Scope, 16).default("credential"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CscServiceTokens::Table)
                    .col(string_len(CscServiceTokens::TokenHash, 64).primary_key())
                    .col(string_len(CscServiceTokens::InstitutionId, 36))
                    .col(string_len(CscServiceTokens::UserId, 64))
                    .col(string_len(CscServiceTokens::GrantId, 36))
                    .col(timestamp_with_time_zone(CscServiceTokens::CreatedAt))
                    .col(timestamp_with_time_zone(CscServiceTokens::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_csc_service_tokens_expires")
                    .table(CscServiceTokens::Table)
                    .col(CscServiceTokens::ExpiresAt)
                    .to_owned(),
            )
            .await
    }
}
