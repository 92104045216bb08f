//! User-authorized CSC (issue 18, part 1): OAuth 2.0 authorization code with PKCE S256.
//!
//! - `institution_redirect_uris`: the redirect URIs an institution registered (exact match).
//! - `csc_oauth_grants`: one `oauth2/authorize` request from the moment it is asked until its
//!   code is exchanged: what it asks for (credential, hashes, count, description), the client,
//!   redirect URI and PKCE challenge it is bound to, the holder's decision, and — once
//!   approved — the code's SHA-256 (the code itself is never stored), the activation it made
//!   and that activation's record sealed under a key derived from the code. On exchange the
//!   record is re-sealed under the credential token (a `csc_sads` row) and
//!   `issued_sad_hash` names that row, so a reused code revokes what it issued.
//! - `revoked_access_tokens`: institution access tokens revoked through `oauth2/revoke`
//!   (RFC 7009), by `jti`, until they would have expired anyway.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InstitutionRedirectUris {
    Table,
    InstitutionId,
    Uri,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CscOauthGrants {
    Table,
    Id,
    InstitutionId,
    RedirectUri,
    CodeChallenge,
    State,
    CertificateId,
    NumSignatures,
    Hashes,
    Description,
    Status,
    ExpiresAt,
    CodeHash,
    CodeExpiresAt,
    UserId,
    ActivationId,
    KeyId,
    Record,
    ActivationExpiresAt,
    IssuedSadHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RevokedAccessTokens {
    Table,
    Jti,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InstitutionRedirectUris::Table)
                    .col(string_len(InstitutionRedirectUris::InstitutionId, 36))
                    .col(string_len(InstitutionRedirectUris::Uri, 512))
                    .col(timestamp_with_time_zone(InstitutionRedirectUris::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(InstitutionRedirectUris::InstitutionId)
                            .col(InstitutionRedirectUris::Uri),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CscOauthGrants::Table)
                    .col(string_len(CscOauthGrants::Id, 36).primary_key())
                    .col(string_len(CscOauthGrants::InstitutionId, 36))
                    .col(string_len(CscOauthGrants::RedirectUri, 512))
                    .col(string_len(CscOauthGrants::CodeChallenge, 64))
                    .col(string_len_null(CscOauthGrants::State, 512))
                    .col(string_len(CscOauthGrants::CertificateId, 36))
                    .col(integer(CscOauthGrants::NumSignatures))
                    .col(text(CscOauthGrants::Hashes))
                    .col(string_len_null(CscOauthGrants::Description, 500))
                    .col(string_len(CscOauthGrants::Status, 16))
                    .col(timestamp_with_time_zone(CscOauthGrants::ExpiresAt))
                    .col(string_len_null(CscOauthGrants::CodeHash, 64).unique_key())
                    .col(timestamp_with_time_zone_null(CscOauthGrants::CodeExpiresAt))
                    .col(string_len_null(CscOauthGrants::UserId, 64))
                    .col(string_len_null(CscOauthGrants::ActivationId, 36))
                    .col(string_len_null(CscOauthGrants::KeyId, 36))
                    .col(binary_null(CscOauthGrants::Record))
                    .col(timestamp_with_time_zone_null(
                        CscOauthGrants::ActivationExpiresAt,
                    ))
                    .col(string_len_null(CscOauthGrants::IssuedSadHash, 64))
                    .col(timestamp_with_time_zone(CscOauthGrants::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RevokedAccessTokens::Table)
                    .col(string_len(RevokedAccessTokens::Jti, 64).primary_key())
                    .col(timestamp_with_time_zone(RevokedAccessTokens::ExpiresAt))
                    .to_owned(),
            )
            .await
    }
}
