//! The second renewal notice (issue 16, part 5): `renewal_notices.final_notice_at`, set when
//! the 7-days-before-expiry notice is claimed (the row itself is the 30-day notice). A claim
//! whose message could not be sent is released (the row deleted, or this column cleared) so
//! the next run of the lifecycle job tries again; a claim is made once per certificate, on
//! whichever node holds the job, so no notice goes out twice.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RenewalNotices {
    Table,
    FinalNoticeAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RenewalNotices::Table)
                    .add_column(timestamp_with_time_zone_null(RenewalNotices::FinalNoticeAt))
                    .to_owned(),
            )
            .await
    }
}
