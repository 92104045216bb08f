//! OCSP and CRLs that scale (issue 15, part 5).
//!
//! - `ocsp_responses`: one pre-signed single-certificate OCSP answer per (issuer, serial, CertID
//!   hash algorithm), with the status it states (`cert_status`: `good`, or
//!   `revoked:<unix time>:<reason code>`) and its thisUpdate / nextUpdate. A status change
//!   re-signs it in the transaction that changes the status; the responder serves it only
//!   while `cert_status` still matches the certificate row it reads beside it, and re-signs
//!   otherwise. Indexed on `next_update` for the background refresh.
//! - `revocation_counters`: per issuer, how many status changes there have been (bumped in
//!   the status change's transaction), and `crls.changes_covered`: the count a CRL was made
//!   from. The background job regenerates the CRL when the two differ, so a revocation costs
//!   one counter bump, not a CRL.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OcspResponses {
    Table,
    IssuerId,
    SerialHex,
    HashAlg,
    CertStatus,
    ThisUpdate,
    NextUpdate,
    Der,
}

#[derive(DeriveIden)]
enum RevocationCounters {
    Table,
    IssuerId,
    Changes,
}

#[derive(DeriveIden)]
enum Crls {
    Table,
    ChangesCovered,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OcspResponses::Table)
                    .col(string_len(OcspResponses::IssuerId, 32))
                    .col(string_len(OcspResponses::SerialHex, 64))
                    .col(string_len(OcspResponses::HashAlg, 8))
                    .col(string_len(OcspResponses::CertStatus, 64))
                    .col(timestamp_with_time_zone(OcspResponses::ThisUpdate))
                    .col(timestamp_with_time_zone(OcspResponses::NextUpdate))
                    .col(binary(OcspResponses::Der))
                    .primary_key(
                        Index::create()
                            .col(OcspResponses::IssuerId)
                            .col(OcspResponses::SerialHex)
                            .col(OcspResponses::HashAlg),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ocsp_responses_next_update")
                    .table(OcspResponses::Table)
                    .col(OcspResponses::NextUpdate)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RevocationCounters::Table)
                    .col(string_len(RevocationCounters::IssuerId, 32).primary_key())
                    .col(big_integer(RevocationCounters::Changes))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Crls::Table)
                    .add_column(big_integer(Crls::ChangesCovered).default(0))
                    .to_owned(),
            )
            .await
    }
}
