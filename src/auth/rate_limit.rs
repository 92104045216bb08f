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

/// One hit of a bucket, as the counter stores it: the bucket's key, the start of the window
/// `now` falls in, and the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The bucket (at most 200 characters of it).
    pub bucket: String,
    /// The window's start (Unix seconds).
    pub window_start: i64,
    /// Hits allowed in it.
    pub max: i32,
    /// When the window ends (Unix seconds).
    window_end: i64,
    /// The hit's time (Unix seconds).
    at: i64,
}

impl Hit {
    /// The hit on `bucket` under `limit` at `now`.
    pub fn new(bucket: &str, limit: Limit, now: DateTime<Utc>) -> Self {
        let window = i64::from(limit.window_secs.max(1));
        let start = now.timestamp().div_euclid(window) * window;
        Self {
            bucket: bucket.chars().take(200).collect(),
            window_start: start,
            max: i32::try_from(limit.max).unwrap_or(i32::MAX),
            window_end: start + window,
            at: now.timestamp(),
        }
    }

    /// What the counter's answer means for the request.
    pub fn outcome(&self, counted: bool) -> Result<(), Limited> {
        if counted {
            Ok(())
        } else {
            Err(Limited {
                retry_after_secs: (self.window_end - self.at).max(1),
            })
        }
    }
}

/// Counts a hit on `bucket` (e.g. `signin:ip:203.0.113.7`) under `limit` at `now`.
pub async fn check(
    db: &DatabaseConnection,
    bucket: &str,
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<Result<(), Limited>, StoreError> {
    let hit = Hit::new(bucket, limit, now);
    let counted = store::rate_limits::hit(db, &hit.bucket, hit.window_start, hit.max).await?;
    Ok(hit.outcome(counted))
}
