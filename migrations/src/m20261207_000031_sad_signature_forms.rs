//! `signatures/signDoc` (issue 18): what a spent hash was signed into.
//!
//! `csc_sad_signatures.form`: `raw` (signHash's signature over the hash itself, and every row
//! made before this migration) or `cades` (signDoc's detached CMS whose message-digest is the
//! hash). A hash still signs once whatever the form — the primary key stays (activation,
//! hash) — and a retry in the other form is refused instead of answered with bytes of the
//! wrong kind.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CscSadSignatures {
    Table,
    Form,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CscSadSignatures::Table)
                    .add_column(string_len(CscSadSignatures::Form, 8).default("raw"))
                    .to_owned(),
            )
            .await
    }
}
