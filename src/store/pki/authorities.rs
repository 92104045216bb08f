//! The CA hierarchy (`authorities`: root, issuing, OCSP responder) and the CRLs it published
//! (`crls`, by issuer and number).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::{
    domain::{key_algorithm::KeyAlgorithm, revocation_reason::CrlReason},
    store::{
        StoreError,
        columns::{crl_code, crl_reason, parse, parse_opt},
        entities::{authority, crl},
    },
};

/// An authority as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityRow {
    /// `root`, `issuing` or `ocsp`.
    pub id: String,
    /// Its key's algorithm.
    pub algorithm: KeyAlgorithm,
    /// Where its key is kept: `sealed` (a custody service key) or `kms` (inside AWS KMS).
    pub key_kind: String,
    /// The custody key (sealed).
    pub custody_key_id: Option<Uuid>,
    /// The KMS key id (kms).
    pub kms_key_id: Option<String>,
    /// Its certificate, DER.
    pub certificate_der: Vec<u8>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// When its issuer revoked it (only the issuing CA is ever revoked, by the root).
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why.
    pub revocation_reason: Option<CrlReason>,
}

fn to_row(m: authority::Model) -> Result<AuthorityRow, StoreError> {
    Ok(AuthorityRow {
        algorithm: parse("authorities", "algorithm", &m.algorithm)?,
        custody_key_id: parse_opt("authorities", "custody_key_id", m.custody_key_id.as_deref())?,
        id: m.id,
        key_kind: m.key_kind,
        kms_key_id: m.kms_key_id,
        certificate_der: m.certificate_der,
        created_at: m.created_at,
        revoked_at: m.revoked_at,
        revocation_reason: crl_reason("authorities", "revocation_reason", m.revocation_reason)?,
    })
}

/// Every authority row (root, issuing, ocsp).
pub async fn authorities<C: ConnectionTrait>(conn: &C) -> Result<Vec<AuthorityRow>, StoreError> {
    authority::Entity::find()
        .order_by_asc(authority::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(to_row)
        .collect()
}

/// Inserts an authority.
pub async fn insert_authority<C: ConnectionTrait>(
    conn: &C,
    row: AuthorityRow,
) -> Result<(), StoreError> {
    authority::Entity::insert(authority::ActiveModel {
        id: Set(row.id),
        algorithm: Set(row.algorithm.as_str().to_owned()),
        key_kind: Set(row.key_kind),
        custody_key_id: Set(row.custody_key_id.map(|k| k.to_string())),
        kms_key_id: Set(row.kms_key_id),
        certificate_der: Set(row.certificate_der),
        created_at: Set(row.created_at),
        revoked_at: Set(row.revoked_at),
        revocation_reason: Set(crl_code(row.revocation_reason)),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// One authority row by id (`root`, `issuing`, `ocsp`).
pub async fn authority<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<AuthorityRow>, StoreError> {
    authority::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .map(to_row)
        .transpose()
}

/// Marks authority `id` revoked at `at` for `reason`, unless it already is; returns whether
/// this call revoked it.
pub async fn revoke_authority<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    at: DateTime<Utc>,
    reason: CrlReason,
) -> Result<bool, StoreError> {
    use sea_orm::{QueryFilter as _, sea_query::Expr};
    let done = authority::Entity::update_many()
        .col_expr(authority::Column::RevokedAt, Expr::value(at))
        .col_expr(
            authority::Column::RevocationReason,
            Expr::value(i32::from(reason.code())),
        )
        .filter(authority::Column::Id.eq(id))
        .filter(authority::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// The newest CRL of an issuer: `(number, this_update, next_update, der)`.
pub async fn latest_crl<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
) -> Result<Option<(i64, DateTime<Utc>, DateTime<Utc>, Vec<u8>)>, StoreError> {
    Ok(crl::Entity::find()
        .filter(crl::Column::IssuerId.eq(issuer))
        .order_by_desc(crl::Column::CrlNumber)
        .one(conn)
        .await?
        .map(|m| (m.crl_number, m.this_update, m.next_update, m.der)))
}

/// Stores a CRL.
pub async fn insert_crl<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
    number: i64,
    this_update: DateTime<Utc>,
    next_update: DateTime<Utc>,
    der: Vec<u8>,
) -> Result<(), StoreError> {
    crl::Entity::insert(crl::ActiveModel {
        issuer_id: Set(issuer.to_owned()),
        crl_number: Set(number),
        this_update: Set(this_update),
        next_update: Set(next_update),
        der: Set(der),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}
