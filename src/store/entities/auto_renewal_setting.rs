//! `auto_renewal_settings`: a holder's choice of automatic renewal for one certificate (no
//! row: the default for its kind and usage).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auto_renewal_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub certificate_id: String,
    pub owner_id: String,
    pub enabled: bool,
    /// The general-purpose fee the holder agreed to when turning it on (KRW).
    pub fee_confirmed_krw: Option<i32>,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
