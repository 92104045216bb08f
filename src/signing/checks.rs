//! What every signature checks, cached per node and invalidated across the cluster.
//!
//! A signature on the hot path (CSC signHash with an activated key) must not pay for six
//! queries: institution live, consent live, certificate active, key not locked. Those answers
//! are cached here — only *positive* ones, so nothing that becomes usable needs announcing —
//! and dropped on every node when the **cache epoch** moves. Every change that can make a
//! cached answer wrong (certificate status, consent withdrawal, PIN lock) bumps the epoch in
//! its own transaction (`store::epochs`); each node polls it every 200 ms.
//!
//! ```text
//!   change commits (epoch e → e+1) ──► poll ≤ 200 ms later sees e+1 ──► this node's cache cleared
//!   poll fails for 1 s ──► the cache is not trusted: every check goes to the database
//!   fill: read epoch e, query, insert tagged e ──► refused if the epoch moved meanwhile
//!   a change made by this process ──► its own caches follow at once (a local counter)
//! ```
//!
//! So a revocation, suspension, consent withdrawal or PIN lock stops the next signature on
//! every node within about a quarter of a second, and never later than a second. Time-bound
//! facts (a certificate's `not_after`) are checked on every use, not cached.
//!
//! [`Epochs`] can follow another counter the same way ([`Counter`]): the OCSP answer cache
//! (`pki::ocsp_cache`) follows the issuer's status-change count (`revocation_counters`), so
//! a PIN lock or consent change does not empty it.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sea_orm::DatabaseConnection;

use crate::store;

/// How often a node reads the epoch.
pub const POLL: Duration = Duration::from_millis(200);
/// How long the cache is trusted without a successful poll.
pub const STALE_AFTER: Duration = Duration::from_secs(1);
/// Entries per map before it is emptied (memory bound).
const MAX_ENTRIES: usize = 100_000;
/// The longest an answer is kept even while the epoch stands still: a backstop for changes
/// made outside the service (an operator's SQL), which bump no epoch.
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// The cluster's epoch and this process's own change count: an answer is good only while
/// both stand still.
pub type Tag = (i64, u64);

struct State {
    epoch: i64,
    polled: Option<Instant>,
}

/// The counter an [`Epochs`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// `cache_epochs`: every change a signing check depends on.
    CacheEpoch,
    /// `revocation_counters` of one issuer: every status change of its certificates.
    RevocationChanges(&'static str),
}

impl Counter {
    async fn read(self, db: &DatabaseConnection) -> Result<i64, store::StoreError> {
        match self {
            Self::CacheEpoch => store::epochs::current(db).await,
            Self::RevocationChanges(issuer) => store::pki::revocation_changes(db, issuer).await,
        }
    }

    fn local(self) -> u64 {
        match self {
            Self::CacheEpoch => store::epochs::local_changes(),
            Self::RevocationChanges(_) => store::pki::local_revocation_changes(),
        }
    }
}

/// The answers of one epoch, each with when it was found.
type Entries<K, V> = (Tag, HashMap<K, (V, Instant)>);

/// A cache of positive answers, cleared when the cluster's epoch moves.
pub struct Cached<K, V> {
    epochs: Arc<Epochs>,
    map: Mutex<Entries<K, V>>,
}

impl<K: Eq + Hash, V: Clone> Cached<K, V> {
    /// An empty cache following `epochs`.
    pub fn new(epochs: Arc<Epochs>) -> Self {
        Self {
            epochs,
            map: Mutex::new(((0, 0), HashMap::new())),
        }
    }

    /// The cached answer, if the cache is fresh and holds one from the current epoch.
    pub fn get(&self, key: &K) -> Option<V> {
        let epoch = self.epochs.trusted()?;
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.0 != epoch {
            return None;
        }
        map.1
            .get(key)
            .filter(|(_, at)| at.elapsed() < MAX_AGE)
            .map(|(v, _)| v.clone())
    }

    /// Forgets one answer (it turned out wrong).
    pub fn forget(&self, key: &K) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .remove(key);
    }

    /// The epoch to tag a fill with, read *before* the database is asked.
    pub fn begin(&self) -> Option<Tag> {
        self.epochs.trusted()
    }

    /// Keeps `value`, found at epoch `tag`, unless the epoch moved since.
    pub fn put(&self, tag: Option<Tag>, key: K, value: V) {
        let (Some(tag), Some(now)) = (tag, self.epochs.trusted()) else {
            return;
        };
        if tag != now {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.0 != now {
            *map = (now, HashMap::new());
        }
        if map.1.len() >= MAX_ENTRIES {
            map.1.clear();
        }
        map.1.insert(key, (value, Instant::now()));
    }
}

/// The cluster's cache epoch (or another [`Counter`]) as this node last read it.
pub struct Epochs {
    counter: Counter,
    /// How long a successful poll is trusted ([`STALE_AFTER`] unless a test asks otherwise).
    trust: Duration,
    state: Mutex<State>,
}

impl Epochs {
    /// Following the cache epoch; not yet polled: nothing is trusted until the first poll.
    pub fn new() -> Arc<Self> {
        Self::following(Counter::CacheEpoch)
    }

    /// Following `counter`; not yet polled.
    pub fn following(counter: Counter) -> Arc<Self> {
        Self::following_within(counter, STALE_AFTER)
    }

    /// Following `counter`, trusting a poll for `trust` instead of [`STALE_AFTER`]. Only the
    /// tests that check what is served *from memory* ask for a longer window: on a loaded
    /// machine a 200 ms poll can take longer than a second, and a lapse is (rightly) a miss.
    pub fn following_within(counter: Counter, trust: Duration) -> Arc<Self> {
        Arc::new(Self {
            counter,
            trust,
            state: Mutex::new(State {
                epoch: 0,
                polled: None,
            }),
        })
    }

    /// The epoch, if the last successful poll is recent enough to trust it.
    pub fn trusted(&self) -> Option<Tag> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.polled
            .filter(|t| t.elapsed() < self.trust)
            .map(|_| (s.epoch, self.counter.local()))
    }

    /// Trusts `epoch` as if a poll had just read it (unit tests of the caches built on this).
    #[cfg(test)]
    pub(crate) fn trust_for_tests(&self, epoch: i64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.epoch = epoch;
        s.polled = Some(Instant::now());
    }

    /// Reads the epoch from the database once.
    pub async fn poll(&self, db: &DatabaseConnection) -> Result<(), store::StoreError> {
        let started = Instant::now();
        let epoch = self.counter.read(db).await?;
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.epoch = epoch;
        // Trust runs from when the read started: a change committed before it is seen.
        s.polled = Some(started);
        Ok(())
    }

    /// Polls every [`POLL`] until the task is dropped.
    pub fn spawn_poller(self: &Arc<Self>, db: DatabaseConnection) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let poll = tokio::time::timeout(STALE_AFTER, me.poll(&db)).await;
                if !matches!(poll, Ok(Ok(()))) {
                    tracing::debug!(counter = ?me.counter, "cache epoch poll failed; cached answers are not trusted");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polled(epochs: &Epochs, epoch: i64, ago: Duration) {
        let mut s = epochs.state.lock().unwrap();
        s.epoch = epoch;
        s.polled = Some(Instant::now().checked_sub(ago).unwrap());
    }

    #[test]
    fn a_poll_is_trusted_for_its_window_only() {
        let default = Epochs::new();
        let wide = Epochs::following_within(Counter::CacheEpoch, Duration::from_secs(3600));
        for e in [&default, &wide] {
            assert_eq!(e.trusted(), None, "nothing before the first poll");
            polled(e, 3, Duration::ZERO);
            assert!(e.trusted().is_some());
            polled(e, 3, STALE_AFTER * 2);
        }
        assert_eq!(
            default.trusted(),
            None,
            "a poll older than STALE_AFTER is not trusted"
        );
        assert_eq!(
            wide.trusted().map(|t| t.0),
            Some(3),
            "within its own window it is"
        );
    }

    #[test]
    fn entries_live_only_within_their_epoch_and_while_polls_succeed() {
        let epochs = Epochs::new();
        let cache: Cached<&str, u32> = Cached::new(epochs.clone());
        cache.put(cache.begin(), "a", 1);
        assert_eq!(
            cache.get(&"a"),
            None,
            "nothing is trusted before the first poll"
        );

        polled(&epochs, 7, Duration::ZERO);
        let tag = cache.begin();
        cache.put(tag, "a", 1);
        assert_eq!(cache.get(&"a"), Some(1));

        // A fill that started before the epoch moved is refused.
        let old_tag = cache.begin();
        polled(&epochs, 8, Duration::ZERO);
        cache.put(old_tag, "b", 2);
        assert_eq!(cache.get(&"b"), None);
        assert_eq!(cache.get(&"a"), None, "a new epoch empties the cache");

        cache.put(cache.begin(), "c", 3);
        assert_eq!(cache.get(&"c"), Some(3));
        polled(&epochs, 8, STALE_AFTER + Duration::from_millis(1));
        assert_eq!(cache.get(&"c"), None, "a stale poll trusts nothing");
    }
}
