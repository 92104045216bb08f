//! Per-key async locks on one node: PIN attempts for one key are decided one at a time, and a
//! node opens one activation record once however many requests meet it together. Entries
//! disappear when nobody holds or waits for them, so memory follows the keys in use.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

type Map = Arc<Mutex<HashMap<String, Arc<AsyncMutex<()>>>>>;

/// A set of named locks.
#[derive(Default)]
pub struct KeyedLocks {
    map: Map,
}

/// Held while the named lock is; dropping it releases the lock.
pub struct KeyedGuard {
    map: Map,
    name: String,
    entry: Arc<AsyncMutex<()>>,
    _guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    /// Waits for the lock named `name`.
    pub async fn lock(&self, name: &str) -> KeyedGuard {
        let entry = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(name.to_owned()).or_default().clone()
        };
        let guard = entry.clone().lock_owned().await;
        KeyedGuard {
            map: self.map.clone(),
            name: name.to_owned(),
            entry,
            _guard: Some(guard),
        }
    }

    /// Names with a holder or a waiter.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no lock is held or awaited.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for KeyedGuard {
    fn drop(&mut self) {
        self._guard.take();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference and ours: nobody else holds or waits for it.
        if Arc::strong_count(&self.entry) == 2 {
            map.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_holder_per_name_and_entries_go_away() {
        let locks = Arc::new(KeyedLocks::default());
        let inside = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (locks, inside) = (locks.clone(), inside.clone());
            tasks.push(tokio::spawn(async move {
                let _g = locks.lock("k").await;
                assert_eq!(
                    inside.fetch_add(1, Ordering::SeqCst),
                    0,
                    "two holders at once"
                );
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(locks.is_empty());
        let a = locks.lock("a").await;
        let b = tokio::time::timeout(std::time::Duration::from_millis(200), locks.lock("b")).await;
        assert!(b.is_ok(), "other names are not blocked");
        drop((a, b));
        assert!(locks.is_empty());
    }
}
