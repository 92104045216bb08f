//! Foreign certificates (`foreign_certificates`): certificates of other CAs registered by their
//! holders, read as typed rows.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::{
    domain::usage::Usage,
    store::{
        StoreError,
        columns::{parse, parse_opt},
        entities::foreign_certificate as f,
    },
};

const T: &str = "foreign_certificates";

/// A registered foreign certificate as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignRow {
    /// Id.
    pub id: Uuid,
    /// The holder.
    pub owner_id: String,
    /// The usage recognised from its policies.
    pub usage: Usage,
    /// `public` (certificate only) or `pkcs12` (key imported into custody).
    pub source: String,
    /// Issuer DN.
    pub issuer_dn: String,
    /// Serial (hex).
    pub serial_hex: String,
    /// Subject DN.
    pub subject: String,
    /// Validity start.
    pub not_before: DateTime<Utc>,
    /// Validity end.
    pub not_after: DateTime<Utc>,
    /// The certificate, DER.
    pub certificate_der: Vec<u8>,
    /// Its chain, DER.
    pub chain_der: Vec<u8>,
    /// The imported key (PKCS#12 imports).
    pub custody_key_id: Option<Uuid>,
    /// Registered.
    pub created_at: DateTime<Utc>,
}

fn to_row(m: f::Model) -> Result<ForeignRow, StoreError> {
    Ok(ForeignRow {
        id: parse(T, "id", &m.id)?,
        usage: parse(T, "usage", &m.usage)?,
        custody_key_id: parse_opt(T, "custody_key_id", m.custody_key_id.as_deref())?,
        owner_id: m.owner_id,
        source: m.source,
        issuer_dn: m.issuer_dn,
        serial_hex: m.serial_hex,
        subject: m.subject,
        not_before: m.not_before,
        not_after: m.not_after,
        certificate_der: m.certificate_der,
        chain_der: m.chain_der,
        created_at: m.created_at,
    })
}

/// Whether `owner` already registered the certificate `(issuer, serial)`.
pub async fn foreign_exists<C: ConnectionTrait>(
    conn: &C,
    owner: &str,
    issuer_dn: &str,
    serial_hex: &str,
) -> Result<bool, StoreError> {
    Ok(f::Entity::find()
        .filter(f::Column::OwnerId.eq(owner))
        .filter(f::Column::IssuerDn.eq(issuer_dn))
        .filter(f::Column::SerialHex.eq(serial_hex))
        .one(conn)
        .await?
        .is_some())
}

/// Stores a registered foreign certificate.
pub async fn insert_foreign<C: ConnectionTrait>(
    conn: &C,
    row: ForeignRow,
) -> Result<(), StoreError> {
    f::Entity::insert(f::ActiveModel {
        id: Set(row.id.to_string()),
        owner_id: Set(row.owner_id),
        usage: Set(row.usage.as_str().to_owned()),
        source: Set(row.source),
        issuer_dn: Set(row.issuer_dn),
        serial_hex: Set(row.serial_hex),
        subject: Set(row.subject),
        not_before: Set(row.not_before),
        not_after: Set(row.not_after),
        certificate_der: Set(row.certificate_der),
        chain_der: Set(row.chain_der),
        custody_key_id: Set(row.custody_key_id.map(|k| k.to_string())),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Foreign certificates of `owner`, newest first.
pub async fn foreign_of<C: ConnectionTrait>(
    conn: &C,
    owner: &str,
) -> Result<Vec<ForeignRow>, StoreError> {
    f::Entity::find()
        .filter(f::Column::OwnerId.eq(owner))
        .order_by_desc(f::Column::CreatedAt)
        .all(conn)
        .await?
        .into_iter()
        .map(to_row)
        .collect()
}
