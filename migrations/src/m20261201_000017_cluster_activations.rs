//! Authorizations that live in the cluster (round 2, #12).
//!
//! - `csc_sads.key_id` and `csc_sads.record`: the custody key a SAD signs with and its
//!   *activation record* — the activated data key, KMS-wrapped under a context naming owner,
//!   key, activation and expiry, then sealed under a key derived from the SAD itself (which
//!   only its holder has; the row keeps only the SAD's hash). Any node that meets the SAD opens
//!   it with one KMS call. Rows from before this migration have no record and answer "SAD
//!   expired" (they lived in one node's memory and lasted five minutes).
//! - `csc_sad_signatures`: each authorized hash signs once across the cluster — its signature
//!   is stored under the primary key (activation, hash), so a concurrent or retried spend of
//!   the same hash gets the stored signature instead of a second one.
//! - `cache_epochs`: one counter, bumped in the same transaction as every change that makes a
//!   certificate, consent, institution or key unusable; every node polls it and drops its
//!   cached checks when it moves.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CscSads {
    Table,
    ActivationId,
    KeyId,
    Record,
}

#[derive(DeriveIden)]
enum CscSadSignatures {
    Table,
    ActivationId,
    Hash,
    Signature,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CacheEpochs {
    Table,
    Id,
    Epoch,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CscSads::Table)
                    .add_column(string_len_null(CscSads::KeyId, 36))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CscSads::Table)
                    .add_column(binary_null(CscSads::Record))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("csc_sads_activation")
                    .table(CscSads::Table)
                    .col(CscSads::ActivationId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CscSadSignatures::Table)
                    .col(string_len(CscSadSignatures::ActivationId, 36))
                    .col(string_len(CscSadSignatures::Hash, 64))
                    .col(binary(CscSadSignatures::Signature))
                    .col(timestamp_with_time_zone(CscSadSignatures::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(CscSadSignatures::ActivationId)
                            .col(CscSadSignatures::Hash),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CacheEpochs::Table)
                    .col(integer(CacheEpochs::Id).primary_key())
                    .col(big_integer(CacheEpochs::Epoch))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(CacheEpochs::Table)
                    .columns([CacheEpochs::Id, CacheEpochs::Epoch])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await
    }
}
