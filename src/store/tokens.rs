//! Token queries: signing keys and refresh-token families.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use jsonwebtoken::jwk::Jwk;
use uuid::Uuid;

use super::{
    StoreError,
    columns::{corrupt, json, parse},
    entities::{refresh_token as rt, token_key as tk},
};
use crate::domain::owner::OwnerId;

/// A token signing key as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenKeyRow {
    /// Key id (`kid`).
    pub kid: String,
    /// The custody service key that signs.
    pub custody_key_id: Uuid,
    /// The public key as published in the JWKS.
    pub public_jwk: Jwk,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Retired (it still verifies until the tokens it signed expire).
    pub retired_at: Option<DateTime<Utc>>,
}

/// A refresh token as stored (its hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRow {
    /// Id.
    pub id: String,
    /// Its family (a session's chain of rotations).
    pub family_id: String,
    /// The user.
    pub owner_id: OwnerId,
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// How the session was authenticated (`pin`, `passkey`).
    pub amr: String,
    /// When it was exchanged.
    pub used_at: Option<DateTime<Utc>>,
    /// When its family was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

fn to_key(m: tk::Model) -> Result<TokenKeyRow, StoreError> {
    Ok(TokenKeyRow {
        custody_key_id: parse("token_keys", "custody_key_id", &m.custody_key_id)?,
        public_jwk: json("token_keys", "public_jwk", &m.public_jwk)?,
        kid: m.kid,
        created_at: m.created_at,
        retired_at: m.retired_at,
    })
}

fn to_refresh(m: rt::Model) -> Result<RefreshRow, StoreError> {
    Ok(RefreshRow {
        owner_id: parse("refresh_tokens", "owner_id", &m.owner_id)?,
        id: m.id,
        family_id: m.family_id,
        token_hash: m.token_hash,
        amr: m.amr,
        used_at: m.used_at,
        revoked_at: m.revoked_at,
        expires_at: m.expires_at,
        created_at: m.created_at,
    })
}

/// Signing keys not retired before `since`, newest first.
pub async fn live_keys<C: ConnectionTrait>(
    conn: &C,
    since: DateTime<Utc>,
) -> Result<Vec<TokenKeyRow>, StoreError> {
    tk::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(tk::Column::RetiredAt.is_null())
                .add(tk::Column::RetiredAt.gt(since)),
        )
        .order_by_desc(tk::Column::CreatedAt)
        .order_by_desc(tk::Column::Kid)
        .all(conn)
        .await?
        .into_iter()
        .map(to_key)
        .collect()
}

/// Stores a new signing key.
pub async fn insert_key<C: ConnectionTrait>(conn: &C, row: TokenKeyRow) -> Result<(), StoreError> {
    let public_jwk = serde_json::to_string(&row.public_jwk)
        .map_err(|e| corrupt("token_keys", "public_jwk", e.to_string()))?;
    tk::Entity::insert(tk::ActiveModel {
        kid: Set(row.kid),
        custody_key_id: Set(row.custody_key_id.to_string()),
        public_jwk: Set(public_jwk),
        created_at: Set(row.created_at),
        retired_at: Set(row.retired_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Marks every key but `current` retired at `now` (they keep verifying until tokens they
/// signed have expired).
pub async fn retire_others<C: ConnectionTrait>(
    conn: &C,
    current: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tk::Entity::update_many()
        .col_expr(tk::Column::RetiredAt, Expr::value(now))
        .filter(tk::Column::Kid.ne(current))
        .filter(tk::Column::RetiredAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Stores a refresh token's hash.
pub async fn insert_refresh<C: ConnectionTrait>(
    conn: &C,
    row: RefreshRow,
) -> Result<(), StoreError> {
    rt::Entity::insert(rt::ActiveModel {
        id: Set(row.id),
        family_id: Set(row.family_id),
        owner_id: Set(row.owner_id.as_str().to_owned()),
        token_hash: Set(row.token_hash),
        amr: Set(row.amr),
        used_at: Set(row.used_at),
        revoked_at: Set(row.revoked_at),
        expires_at: Set(row.expires_at),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The refresh token with this hash.
pub async fn refresh_by_hash<C: ConnectionTrait>(
    conn: &C,
    hash: &[u8],
) -> Result<Option<RefreshRow>, StoreError> {
    rt::Entity::find()
        .filter(rt::Column::TokenHash.eq(hash.to_vec()))
        .one(conn)
        .await?
        .map(to_refresh)
        .transpose()
}

/// Marks a refresh token used, only if it was not used yet; returns whether this call did it.
pub async fn use_refresh<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = rt::Entity::update_many()
        .col_expr(rt::Column::UsedAt, Expr::value(now))
        .filter(rt::Column::Id.eq(id))
        .filter(rt::Column::UsedAt.is_null())
        .filter(rt::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes every token of a family; returns how many were still live.
pub async fn revoke_family<C: ConnectionTrait>(
    conn: &C,
    family: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let res = rt::Entity::update_many()
        .col_expr(rt::Column::RevokedAt, Expr::value(now))
        .filter(rt::Column::FamilyId.eq(family))
        .filter(rt::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// Whether a family (a session) was revoked (logout or refresh-token reuse).
pub async fn family_revoked<C: ConnectionTrait>(
    conn: &C,
    family: &str,
) -> Result<bool, StoreError> {
    Ok(rt::Entity::find()
        .filter(rt::Column::FamilyId.eq(family))
        .filter(rt::Column::RevokedAt.is_not_null())
        .one(conn)
        .await?
        .is_some())
}
