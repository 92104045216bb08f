//! `custody_key_slots`: KMS-wrapped copies of a key's data key, one per PIN or passkey.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "custody_key_slots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub custody_key_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub slot: String,
    pub kms_key_id: String,
    pub wrapped: Vec<u8>,
    pub mac_backend: Option<String>,
    pub prf_salt: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
