//! Moving between KMS backends (issue 19): which backend's MAC key binds a secret.
//!
//! - `custody_key_slots.mac_backend`: set when `kms rewrap` moved a PIN or passkey slot's outer
//!   layer to another backend while its inner key still derives from the previous backend's
//!   MAC (a MAC key cannot move, and the PIN that would re-derive it is not fincert's to know);
//!   the slot is bound again under the current backend at its holder's next use. NULL: the
//!   backend that wrapped the slot (read off `kms_key_id`).
//! - `institutions.webhook_mac_backend`: the backend whose MAC key derives the institution's
//!   webhook secret (which the institution holds, so it changes only when rotated). NULL only
//!   on rows made before this migration; start-up names the backend in force for them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CustodyKeySlots {
    Table,
    MacBackend,
}

#[derive(DeriveIden)]
enum Institutions {
    Table,
    WebhookMacBackend,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CustodyKeySlots::Table)
                    .add_column(string_len_null(CustodyKeySlots::MacBackend, 16))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Institutions::Table)
                    .add_column(string_len_null(Institutions::WebhookMacBackend, 16))
                    .to_owned(),
            )
            .await
    }
}
