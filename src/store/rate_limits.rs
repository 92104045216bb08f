//! Rate-limit counters: fixed windows, counted with conditional updates so any number of nodes
//! share one count and concurrent requests can never pass the limit.

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use super::{StoreError, entities::rate_limit as rl};

/// Counts one hit on `bucket` in the window starting at `window_start` (Unix seconds) if fewer
/// than `limit` were counted there; returns whether the hit is allowed.
pub async fn hit<C: ConnectionTrait>(
    conn: &C,
    bucket: &str,
    window_start: i64,
    limit: i32,
) -> Result<bool, StoreError> {
    rl::Entity::insert(rl::ActiveModel {
        bucket_key: Set(bucket.to_owned()),
        window_start: Set(window_start),
        hits: Set(0),
    })
    .on_conflict(
        OnConflict::column(rl::Column::BucketKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    // A new window starts from zero; only the first request of the window resets it.
    rl::Entity::update_many()
        .col_expr(rl::Column::WindowStart, Expr::value(window_start))
        .col_expr(rl::Column::Hits, Expr::value(0))
        .filter(rl::Column::BucketKey.eq(bucket))
        .filter(rl::Column::WindowStart.lt(window_start))
        .exec(conn)
        .await?;
    let counted = rl::Entity::update_many()
        .col_expr(rl::Column::Hits, Expr::col(rl::Column::Hits).add(1))
        .filter(rl::Column::BucketKey.eq(bucket))
        .filter(rl::Column::WindowStart.eq(window_start))
        .filter(rl::Column::Hits.lt(limit))
        .exec(conn)
        .await?;
    Ok(counted.rows_affected == 1)
}
