//! `certificates`: every certificate fincert issued, with its status.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "certificates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub owner_id: String,
    pub kind: String,
    pub usage: String,
    pub storage: String,
    pub status: String,
    pub serial_hex: String,
    pub subject: String,
    pub not_before: ChronoDateTimeUtc,
    pub not_after: ChronoDateTimeUtc,
    pub issuer_id: String,
    pub custody_key_id: Option<String>,
    pub certificate_der: Vec<u8>,
    pub revoked_at: Option<ChronoDateTimeUtc>,
    pub revocation_reason: Option<i32>,
    pub replaces_id: Option<String>,
    pub renewed_by_id: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
