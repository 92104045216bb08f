//! Mobile OTP is bound to the device it was registered on.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SecurityMedia {
    Table,
    DeviceId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SecurityMedia::Table)
                    .add_column(string_len_null(SecurityMedia::DeviceId, 128))
                    .to_owned(),
            )
            .await
    }
}
