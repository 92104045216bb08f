//! The cache epoch: one counter that every node polls, bumped in the same transaction as any
//! change that may make a cached signing check wrong (a certificate's status, a consent's
//! withdrawal, a PIN lock, an institution's status). See `signing::checks`.

use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::ConnectionTrait;

use super::{
    StoreError,
    sql::{exec, get, one},
};

/// Changes this process made: its own caches follow them at once, not at the next poll.
static LOCAL: AtomicU64 = AtomicU64::new(0);

/// How many epoch-moving changes this process has made (see [`bump`]).
pub fn local_changes() -> u64 {
    LOCAL.load(Ordering::SeqCst)
}

/// Moves the epoch on: every node drops its cached checks at its next poll, and this process
/// at once.
pub async fn bump<C: ConnectionTrait>(conn: &C) -> Result<(), StoreError> {
    LOCAL.fetch_add(1, Ordering::SeqCst);
    exec(
        conn,
        "UPDATE cache_epochs SET epoch = epoch + 1 WHERE id = 1",
        vec![],
    )
    .await?;
    Ok(())
}

/// The current epoch.
pub async fn current<C: ConnectionTrait>(conn: &C) -> Result<i64, StoreError> {
    let row = one(conn, "SELECT epoch FROM cache_epochs WHERE id = 1", vec![])
        .await?
        .ok_or_else(|| {
            super::columns::corrupt("cache_epochs", "epoch", "the epoch row is missing")
        })?;
    get(&row, "cache_epochs", "epoch")
}
