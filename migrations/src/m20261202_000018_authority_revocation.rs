//! Full-chain revocation (#15): an authority (the issuing CA) can be revoked by the root.
//!
//! `authorities.revoked_at` and `authorities.revocation_reason` (an RFC 5280 CRLReason code,
//! as `certificates.revocation_reason`) say when and why; the root's CRL (ARL, stored in `crls`
//! under issuer `root` like every other CRL) lists a revoked authority. Rows from before this
//! migration are not revoked (both NULL), and their hierarchy keeps working unchanged.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Authorities {
    Table,
    RevokedAt,
    RevocationReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Authorities::Table)
                    .add_column(timestamp_with_time_zone_null(Authorities::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Authorities::Table)
                    .add_column(integer_null(Authorities::RevocationReason))
                    .to_owned(),
            )
            .await
    }
}
