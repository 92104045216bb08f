//! Rate-limit counters: fixed windows, counted with conditional updates so any number of nodes
//! share one count and concurrent requests can never pass the limit.

use sea_orm::ConnectionTrait;

use super::{StoreError, sql};

/// Counts one hit on `bucket` in the window starting at `window_start` (Unix seconds) if fewer
/// than `limit` were counted there; returns whether the hit is allowed.
///
/// One statement, so one commit when it runs on its own and never a torn count: the row is
/// created at its first hit, a later window starts again from one, and a hit over the limit
/// changes nothing (the conflict's `WHERE` fails and no row comes back). Both engines decide
/// it under the row's write lock, so concurrent hits on any number of nodes never pass the
/// limit.
pub async fn hit<C: ConnectionTrait>(
    conn: &C,
    bucket: &str,
    window_start: i64,
    limit: i32,
) -> Result<bool, StoreError> {
    if limit <= 0 {
        return Ok(false);
    }
    let counted = sql::one(
        conn,
        "INSERT INTO rate_limits (bucket_key, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (bucket_key) DO UPDATE SET \
           hits = CASE WHEN rate_limits.window_start < excluded.window_start THEN 1 \
                       ELSE rate_limits.hits + 1 END, \
           window_start = excluded.window_start \
         WHERE rate_limits.window_start < excluded.window_start OR rate_limits.hits < $3 \
         RETURNING hits",
        vec![bucket.into(), window_start.into(), limit.into()],
    )
    .await?;
    Ok(counted.is_some())
}
