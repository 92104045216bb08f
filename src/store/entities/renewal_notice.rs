//! `renewal_notices`: certificates whose holders were told their renewal window opened (the
//! 30-day notice) and, in `final_notice_at`, that 7 days are left.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "renewal_notices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub certificate_id: String,
    pub owner_id: String,
    pub not_after: ChronoDateTimeUtc,
    pub created_at: ChronoDateTimeUtc,
    /// When the 7-day notice was claimed (`None`: not yet).
    pub final_notice_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
