//! Versioned terms documents that a user agrees to in the first enrolment step.
//!
//! A document is identified by `(code, version)`; the current version of a code is the highest
//! one already in effect. Publishing new terms means inserting a new version, never editing one a
//! user may already have agreed to.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TermsDocuments {
    Table,
    Code,
    Version,
    Title,
    Body,
    Required,
    EffectiveAt,
}

/// The documents a Korean certificate centre asks every applicant to accept.
const INITIAL_TERMS: &[(&str, &str, &str, bool)] = &[
    (
        "service",
        "fincert certificate service terms",
        "These terms govern the issuance, renewal, reissuance and use of certificates held in the fincert cloud keystore. Your private key is generated and kept by the service under a key management system and is used only when you authorise a signature with your PIN or passkey.",
        true,
    ),
    (
        "privacy",
        "Collection and use of personal information",
        "To issue a certificate we collect your name, birth date, mobile number and customer number at the issuing institution, use them to verify your identity, and keep them for the life of the certificate plus the retention period required by the Electronic Financial Transactions Act.",
        true,
    ),
    (
        "identity-check",
        "Consent to identity verification",
        "You consent to the verification of your identity with your mobile carrier and the issuing institution for the purpose of certificate issuance.",
        true,
    ),
    (
        "marketing",
        "Notices about new services (optional)",
        "You may receive notices about new certificate services. You can withdraw this consent at any time.",
        false,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TermsDocuments::Table)
                    .col(string_len(TermsDocuments::Code, 64))
                    .col(integer(TermsDocuments::Version))
                    .col(string_len(TermsDocuments::Title, 256))
                    .col(text(TermsDocuments::Body))
                    .col(boolean(TermsDocuments::Required))
                    .col(timestamp_with_time_zone(TermsDocuments::EffectiveAt))
                    .primary_key(
                        Index::create()
                            .col(TermsDocuments::Code)
                            .col(TermsDocuments::Version),
                    )
                    .to_owned(),
            )
            .await?;
        let mut insert = Query::insert()
            .into_table(TermsDocuments::Table)
            .columns([
                TermsDocuments::Code,
                TermsDocuments::Version,
                TermsDocuments::Title,
                TermsDocuments::Body,
                TermsDocuments::Required,
                TermsDocuments::EffectiveAt,
            ])
            .to_owned();
        let effective_at = chrono::DateTime::<chrono::Utc>::from_timestamp(1_767_225_600, 0)
            .ok_or_else(|| DbErr::Migration("invalid terms effective date".into()))?;
        for (code, title, body, required) in INITIAL_TERMS {
            insert.values_panic([
                (*code).into(),
                1.into(),
                (*title).into(),
                (*body).into(),
                (*required).into(),
                effective_at.into(),
            ]);
        }
        manager.exec_stmt(insert).await
    }
}
