//! Sign-in by choosing (issue 16, part 1).
//!
//! - `sign_ins`: one identification (name, birth date, phone) and its phone code. `owner_ids`
//!   is the JSON array of the users those details name — empty for an unknown person, whose
//!   row looks and ages exactly like a known one's, so the answers cannot tell them apart. Only
//!   a KMS MAC of the code is kept (`code_mac`), with its expiry, tries and sends. After the
//!   right code a *selection ticket* is issued: only its SHA-256 is kept (`ticket_hash`,
//!   unique), with its expiry and when it was spent (single-use).
//! - An index on `users.phone`: the identification finds its users by phone, then compares
//!   name and birth date.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SignIns {
    Table,
    Id,
    OwnerIds,
    Phone,
    CodeMac,
    CodeExpiresAt,
    CodeAttempts,
    CodeSends,
    TicketHash,
    TicketExpiresAt,
    TicketUsedAt,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Phone,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SignIns::Table)
                    .col(string_len(SignIns::Id, 36).primary_key())
                    .col(text(SignIns::OwnerIds))
                    .col(string_len(SignIns::Phone, 16))
                    .col(binary_null(SignIns::CodeMac))
                    .col(timestamp_with_time_zone_null(SignIns::CodeExpiresAt))
                    .col(integer(SignIns::CodeAttempts).default(0))
                    .col(integer(SignIns::CodeSends).default(0))
                    .col(binary_null(SignIns::TicketHash))
                    .col(timestamp_with_time_zone_null(SignIns::TicketExpiresAt))
                    .col(timestamp_with_time_zone_null(SignIns::TicketUsedAt))
                    .col(timestamp_with_time_zone(SignIns::ExpiresAt))
                    .col(timestamp_with_time_zone(SignIns::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sign_ins_ticket_hash")
                    .table(SignIns::Table)
                    .col(SignIns::TicketHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sign_ins_expires_at")
                    .table(SignIns::Table)
                    .col(SignIns::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_phone")
                    .table(Users::Table)
                    .col(Users::Phone)
                    .to_owned(),
            )
            .await
    }
}
