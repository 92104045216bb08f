//! `crls`: every CRL published, by issuer and number.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub issuer_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub crl_number: i64,
    pub this_update: ChronoDateTimeUtc,
    pub next_update: ChronoDateTimeUtc,
    pub der: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
