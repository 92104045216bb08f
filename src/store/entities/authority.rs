//! `authorities`: the CA hierarchy (root, issuing) and the OCSP responder; a revoked
//! authority (the issuing CA, revoked by the root) has `revoked_at` and its CRLReason code.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authorities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub algorithm: String,
    pub key_kind: String,
    pub custody_key_id: Option<String>,
    pub kms_key_id: Option<String>,
    pub certificate_der: Vec<u8>,
    pub created_at: ChronoDateTimeUtc,
    pub revoked_at: Option<ChronoDateTimeUtc>,
    pub revocation_reason: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
