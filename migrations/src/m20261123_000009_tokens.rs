//! Token signing keys (ES256, sealed in custody, published in the JWKS) and refresh tokens
//! (stored only as SHA-256 hashes, rotated on use, revoked by family on reuse).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TokenKeys {
    Table,
    Kid,
    CustodyKeyId,
    PublicJwk,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    FamilyId,
    OwnerId,
    TokenHash,
    Amr,
    UsedAt,
    RevokedAt,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TokenKeys::Table)
                    .col(string_len(TokenKeys::Kid, 64).primary_key())
                    .col(string_len(TokenKeys::CustodyKeyId, 36))
                    .col(text(TokenKeys::PublicJwk))
                    .col(timestamp_with_time_zone(TokenKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(TokenKeys::RetiredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(string_len(RefreshTokens::Id, 36).primary_key())
                    .col(string_len(RefreshTokens::FamilyId, 36))
                    .col(string_len(RefreshTokens::OwnerId, 64))
                    .col(binary_len(RefreshTokens::TokenHash, 32).unique_key())
                    .col(string_len(RefreshTokens::Amr, 32))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_family")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::FamilyId)
                    .to_owned(),
            )
            .await
    }
}
