//! Rate limits per client IP, per certificate, per user and per institution, stored in the
//! database so every node shares them. A refused request is told when to retry.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::store::{self, StoreError};

/// A limit: at most `max` hits per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Hits allowed per window.
    pub max: u32,
    /// Window length in seconds.
    pub window_secs: u32,
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too many requests; retry in {retry_after_secs} s")]
pub struct Limited {
    /// Seconds until the window ends.
    pub retry_after_secs: i64,
}

/// Counts a hit on `bucket` (e.g. `signin:ip:203.0.113.7`) under `limit` at `now`.
pub async fn check(
    db: &DatabaseConnection,
    bucket: &str,
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<Result<(), Limited>, StoreError> {
    let window = i64::from(limit.window_secs.max(1));
    let start = now.timestamp().div_euclid(window) * window;
    let max = i32::try_from(limit.max).unwrap_or(i32::MAX);
    let bucket: String = bucket.chars().take(200).collect();
    if store::rate_limits::hit(db, &bucket, start, max).await? {
        Ok(Ok(()))
    } else {
        Ok(Err(Limited {
            retry_after_secs: (start + window - now.timestamp()).max(1),
        }))
    }
}
