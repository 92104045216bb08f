//! `audit_archives`: one row per month exported by `fincert audit archive` and removed from
//! the live log.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_archives")]
pub struct Model {
    /// `YYYY-MM` (UTC).
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    pub first_seq: i64,
    pub last_seq: i64,
    pub last_hash: Vec<u8>,
    pub events: i64,
    pub sha256: Vec<u8>,
    pub archived_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
