//! Validation material in webhook bodies, opt-in per institution (#15).
//!
//! `institutions.webhook_validation_info`: when true, a `signature_request.signed` webhook
//! carries `request.result.validation_info` (the signer's chain, an OCSP response and the CA
//! levels' CRLs, built at each delivery attempt), as `GET /v1/signature-requests/{id}` does.
//! Off by default, and for every institution registered before this migration: the issuing
//! CA's CRL in that object grows with every live revocation (≈ 40 bytes each), so the body
//! (≈ 9 KB with it on a fresh CA, ≈ 4 KB without) can reach hundreds of kilobytes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Institutions {
    Table,
    WebhookValidationInfo,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Institutions::Table)
                    .add_column(boolean(Institutions::WebhookValidationInfo).default(false))
                    .to_owned(),
            )
            .await
    }
}
