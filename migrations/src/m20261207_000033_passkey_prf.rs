//! Sole control by passkey PRF (issue 18): `custody_key_slots.prf_salt`, the salt (32 bytes,
//! hex) a passkey slot's authenticator evaluates its PRF (WebAuthn `prf`, CTAP `hmac-secret`)
//! over. A slot with a salt derives its inner key from the KMS MAC over the credential id *and*
//! that PRF output, which only the holder's authenticator can produce: the database, the KMS
//! and the credential id together no longer open it. NULL: a slot of an authenticator without
//! PRF (today's binding, marked as such to the holder).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CustodyKeySlots {
    Table,
    PrfSalt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CustodyKeySlots::Table)
                    .add_column(string_len_null(CustodyKeySlots::PrfSalt, 64))
                    .to_owned(),
            )
            .await
    }
}
