//! `foreign_certificates`: certificates of other CAs registered by their holders.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "foreign_certificates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub owner_id: String,
    pub usage: String,
    pub source: String,
    pub issuer_dn: String,
    pub serial_hex: String,
    pub subject: String,
    pub not_before: ChronoDateTimeUtc,
    pub not_after: ChronoDateTimeUtc,
    pub certificate_der: Vec<u8>,
    pub chain_der: Vec<u8>,
    pub custody_key_id: Option<String>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
