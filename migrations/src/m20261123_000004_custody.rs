//! Key custody: sealed private keys and the wrapped copies ("slots") of their data keys.
//!
//! `custody_keys.sealed_private` is the PKCS#8 sealed with AES-256-GCM under the key's data key.
//! Each `custody_key_slots` row is one way to reach that data key: the PIN slot, or one slot per
//! passkey. A slot's `wrapped` blob is KMS-wrapped under a context naming owner, key and slot;
//! `kms_key_id` says which KMS key, so `kms rewrap` finds what to move.
//! No column holds a PIN or anything a PIN can be checked against.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CustodyKeys {
    Table,
    Id,
    OwnerId,
    Algorithm,
    PublicKey,
    SealedPrivate,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CustodyKeySlots {
    Table,
    CustodyKeyId,
    Slot,
    KmsKeyId,
    Wrapped,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CustodyKeys::Table)
                    .col(string_len(CustodyKeys::Id, 36).primary_key())
                    .col(string_len(CustodyKeys::OwnerId, 64))
                    .col(string_len(CustodyKeys::Algorithm, 16))
                    .col(binary(CustodyKeys::PublicKey))
                    .col(binary(CustodyKeys::SealedPrivate))
                    .col(timestamp_with_time_zone(CustodyKeys::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_custody_keys_owner")
                    .table(CustodyKeys::Table)
                    .col(CustodyKeys::OwnerId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CustodyKeySlots::Table)
                    .col(string_len(CustodyKeySlots::CustodyKeyId, 36))
                    .col(string_len(CustodyKeySlots::Slot, 64))
                    .col(string_len(CustodyKeySlots::KmsKeyId, 256))
                    .col(binary(CustodyKeySlots::Wrapped))
                    .col(timestamp_with_time_zone(CustodyKeySlots::CreatedAt))
                    .col(timestamp_with_time_zone(CustodyKeySlots::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(CustodyKeySlots::CustodyKeyId)
                            .col(CustodyKeySlots::Slot),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_custody_key_slots_key")
                            .from(CustodyKeySlots::Table, CustodyKeySlots::CustodyKeyId)
                            .to(CustodyKeys::Table, CustodyKeys::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_custody_key_slots_kms_key")
                    .table(CustodyKeySlots::Table)
                    .col(CustodyKeySlots::KmsKeyId)
                    .to_owned(),
            )
            .await
    }
}
