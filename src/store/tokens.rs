//! Token queries: signing keys and refresh-token families.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use super::{
    StoreError,
    entities::{refresh_token as rt, token_key as tk},
};

pub use rt::Model as RefreshRow;
pub use tk::Model as TokenKeyRow;

/// Signing keys not retired before `since`, newest first.
pub async fn live_keys<C: ConnectionTrait>(
    conn: &C,
    since: DateTime<Utc>,
) -> Result<Vec<TokenKeyRow>, StoreError> {
    Ok(tk::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(tk::Column::RetiredAt.is_null())
                .add(tk::Column::RetiredAt.gt(since)),
        )
        .order_by_desc(tk::Column::CreatedAt)
        .order_by_desc(tk::Column::Kid)
        .all(conn)
        .await?)
}

/// Stores a new signing key.
pub async fn insert_key<C: ConnectionTrait>(conn: &C, row: TokenKeyRow) -> Result<(), StoreError> {
    tk::Entity::insert(tk::ActiveModel {
        kid: Set(row.kid),
        custody_key_id: Set(row.custody_key_id),
        public_jwk: Set(row.public_jwk),
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
        owner_id: Set(row.owner_id),
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
    Ok(rt::Entity::find()
        .filter(rt::Column::TokenHash.eq(hash.to_vec()))
        .one(conn)
        .await?)
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
