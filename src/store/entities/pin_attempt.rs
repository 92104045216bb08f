//! `pin_attempts`: consecutive PIN failures per custody key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pin_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub custody_key_id: String,
    pub failures: i32,
    pub locked_at: Option<ChronoDateTimeUtc>,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
