//! Terms in the reader's language (#16): `terms_translations` holds a document version's title
//! and text in another language, and `terms_documents.lang` names the language of the text the
//! document was published in (English for the first versions).
//!
//! A translation renders the same version, so an agreement is still recorded by code and
//! version. Like the documents, a translation is inserted, never edited once in effect.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TermsDocuments {
    Table,
    Code,
    Version,
    Lang,
}

#[derive(DeriveIden)]
enum TermsTranslations {
    Table,
    Code,
    Version,
    Lang,
    Title,
    Body,
}

/// The Korean text of the first version of each document.
const KOREAN: &[(&str, &str, &str)] = &[
    (
        "service",
        "fincert 인증서 서비스 이용약관",
        "이 약관은 fincert 클라우드 키 보관소에 보관되는 인증서의 발급, 갱신, 재발급 및 이용에 관한 사항을 정합니다. 개인키는 서비스가 키 관리 시스템(KMS)으로 생성하여 보관하며, 이용자가 PIN 또는 패스키로 서명을 승인할 때에만 사용됩니다.",
    ),
    (
        "privacy",
        "개인정보 수집·이용 동의",
        "인증서 발급을 위하여 이름, 생년월일, 휴대폰 번호와 발급 기관의 고객번호를 수집하여 본인 확인에 이용하며, 인증서의 유효기간과 전자금융거래법이 정한 보존기간 동안 보관합니다.",
    ),
    (
        "identity-check",
        "본인 확인 동의",
        "인증서 발급을 위하여 이동통신사와 발급 기관을 통해 본인 여부를 확인하는 것에 동의합니다.",
    ),
    (
        "marketing",
        "새 서비스 안내 수신 동의",
        "새로운 인증서 서비스에 관한 안내를 받을 수 있습니다. 언제든지 동의를 철회할 수 있습니다.",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(TermsDocuments::Table)
                    .add_column(string_len(TermsDocuments::Lang, 8).default("en"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TermsTranslations::Table)
                    .col(string_len(TermsTranslations::Code, 64))
                    .col(integer(TermsTranslations::Version))
                    .col(string_len(TermsTranslations::Lang, 8))
                    .col(string_len(TermsTranslations::Title, 256))
                    .col(text(TermsTranslations::Body))
                    .primary_key(
                        Index::create()
                            .col(TermsTranslations::Code)
                            .col(TermsTranslations::Version)
                            .col(TermsTranslations::Lang),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TermsTranslations::Table, TermsTranslations::Code)
                            .from_col(TermsTranslations::Version)
                            .to(TermsDocuments::Table, TermsDocuments::Code)
                            .to_col(TermsDocuments::Version),
                    )
                    .to_owned(),
            )
            .await?;
        let mut insert = Query::insert()
            .into_table(TermsTranslations::Table)
            .columns([
                TermsTranslations::Code,
                TermsTranslations::Version,
                TermsTranslations::Lang,
                TermsTranslations::Title,
                TermsTranslations::Body,
            ])
            .to_owned();
        for (code, title, body) in KOREAN {
            insert.values_panic([
                (*code).into(),
                1.into(),
                "ko".into(),
                (*title).into(),
                (*body).into(),
            ]);
        }
        manager.exec_stmt(insert).await
    }
}
