//! OCSP answers from memory: each node keeps the pre-signed answers it served, so a repeated
//! request costs no database read, and follows the issuer's status-change count
//! (`revocation_counters`, bumped in the transaction of every revoke, suspend, resume and
//! superseding reissue) to know when they may be wrong.
//!
//! ```text
//!   request ──► cache hit, tagged with the count as last polled, poll < 1 s old,
//!               answer still servable (over a quarter of its validity left), kept < 30 s
//!            ──► served, no database read
//!   miss ──► tag = count as last polled; stored answer + certificate row from the database
//!            (signed now if stale) ──► kept under the tag, unless the count moved meanwhile
//!   status change anywhere ──► count c → c+1 ──► a poll ≤ 200 ms later sees it ──► every
//!            entry tagged c is a miss (this node's own changes: at once, through a local
//!            counter moved when the change is counted and again when it has committed, so
//!            nothing read in between survives)
//!   poll fails for 1 s ──► nothing cached is trusted: every request reads the database
//! ```
//!
//! So a revocation on any node is answered "revoked" by every node within about a quarter of
//! a second and never later than one second (the same epoch-and-poll rule as the signing
//! checks, `signing::checks`, whose [`Epochs`] this reuses with another counter). The 30 s
//! backstop covers changes made outside the service (an operator's SQL), which count nothing.
//!
//! Two bounded least-recently-used maps, keyed by serial and CertID hash: answers for our
//! certificates (`pki.ocsp_cache_entries`) and "unknown" answers for serials this CA never
//! issued (`pki.ocsp_unknown_cache_entries`), kept apart so a client sending random serials
//! only churns the second. An "unknown" answer is pre-signed like the others (no nonce: RFC
//! 5019 §4) and never stored in the database. Serials are random (at least 64 bits from the
//! CA), so a serial asked about before it was issued is a guess that practically never hits;
//! one that did would read "unknown" for at most the 30 s backstop.
//!
//! `Pki::ocsp_response_for_serial` (the validation material with a signature) does not use
//! this cache: it reads the database every time, so a signature made in the same second as a
//! revocation never carries a "good" answer.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use hashlink::LruCache;
use sea_orm::DatabaseConnection;

use super::ocsp::{CertIdHash, OcspAnswer};
use crate::signing::checks::{Counter, Epochs, MAX_AGE, STALE_AFTER, Tag};

/// A cache key: the serial (lower-case hex) and the CertID hash it was asked with.
pub type Key = (String, CertIdHash);

/// Whether an answer is about one of our certificates or a serial we never issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// good / revoked, for a certificate of ours.
    Known,
    /// unknown: a serial this CA never issued.
    Unknown,
}

struct Entry {
    tag: Tag,
    at: Instant,
    answer: OcspAnswer,
}

type Map = Mutex<LruCache<Key, Entry>>;

/// The node's cache of pre-signed OCSP answers.
pub struct OcspCache {
    epochs: Arc<Epochs>,
    known: Map,
    unknown: Map,
    known_cap: usize,
    unknown_cap: usize,
}

impl OcspCache {
    /// Empty caches of at most `known` and `unknown` entries, following `issuer`'s change count.
    pub fn new(issuer: &'static str, known: u32, unknown: u32) -> Self {
        Self::with_trust(issuer, known, unknown, STALE_AFTER)
    }

    /// As [`OcspCache::new`], trusting a poll of the change count for `trust` (tests only:
    /// `PkiSettings::ocsp_poll_trust_for_tests`).
    pub fn with_trust(issuer: &'static str, known: u32, unknown: u32, trust: Duration) -> Self {
        let cap = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Self {
            epochs: Epochs::following_within(Counter::RevocationChanges(issuer), trust),
            known: Mutex::new(LruCache::new(cap(known))),
            unknown: Mutex::new(LruCache::new(cap(unknown))),
            known_cap: cap(known),
            unknown_cap: cap(unknown),
        }
    }

    fn map(&self, kind: Kind) -> (&Map, usize) {
        match kind {
            Kind::Known => (&self.known, self.known_cap),
            Kind::Unknown => (&self.unknown, self.unknown_cap),
        }
    }

    /// The cached answer for `key`, if one is trusted and still servable at `now`.
    pub fn get(&self, key: &Key, now: DateTime<Utc>) -> Option<OcspAnswer> {
        let tag = self.epochs.trusted()?;
        [Kind::Known, Kind::Unknown].into_iter().find_map(|kind| {
            let (map, _) = self.map(kind);
            let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
            let good = map
                .get(key)
                .map(|e| e.tag == tag && e.at.elapsed() < MAX_AGE && servable(&e.answer, now))?;
            if good {
                map.get(key).map(|e| e.answer.clone())
            } else {
                map.remove(key);
                None
            }
        })
    }

    /// The tag to keep a fill under, read *before* the database is asked.
    pub fn begin(&self) -> Option<Tag> {
        self.epochs.trusted()
    }

    /// Keeps `answer`, found under `tag`, unless the count moved since (or the cache is off).
    pub fn put(&self, kind: Kind, tag: Option<Tag>, key: Key, answer: OcspAnswer) {
        let (map, cap) = self.map(kind);
        let (Some(tag), Some(now)) = (tag, self.epochs.trusted()) else {
            return;
        };
        if tag != now || cap == 0 {
            return;
        }
        let entry = Entry {
            tag,
            at: Instant::now(),
            answer,
        };
        map.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, entry);
    }

    /// How many answers are held: (for our certificates, "unknown").
    pub fn len(&self) -> (usize, usize) {
        let len = |m: &Map| m.lock().unwrap_or_else(|p| p.into_inner()).len();
        (len(&self.known), len(&self.unknown))
    }

    /// Reads the change count once (at start, before the poller's first tick).
    pub async fn poll(&self, db: &DatabaseConnection) -> Result<(), crate::store::StoreError> {
        self.epochs.poll(db).await
    }

    /// Polls the change count every 200 ms until the task is aborted.
    pub fn spawn_poller(&self, db: DatabaseConnection) -> tokio::task::JoinHandle<()> {
        self.epochs.spawn_poller(db)
    }
}

/// Whether an answer may be served at `now`: issued no later than now, with over a quarter of
/// its validity left (the background refresh re-signs at half). Error answers have no times
/// and are never cached.
pub fn servable(answer: &OcspAnswer, now: DateTime<Utc>) -> bool {
    match (answer.this_update, answer.next_update) {
        (Some(this), Some(next)) => servable_between(this, next, now),
        _ => false,
    }
}

/// Whether an answer valid from `this` to `next` may be served at `now` (see [`servable`]).
pub fn servable_between(this: DateTime<Utc>, next: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    this <= now && now < next - (next - this) / 4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(now: DateTime<Utc>, byte: u8) -> OcspAnswer {
        OcspAnswer {
            der: vec![byte; 8],
            this_update: Some(now),
            next_update: Some(now + chrono::Duration::hours(1)),
        }
    }

    fn key(n: usize) -> Key {
        (format!("{n:016x}"), CertIdHash::Sha1)
    }

    #[test]
    fn each_map_holds_at_most_its_bound_and_unknown_floods_leave_known_answers() {
        let cache = OcspCache::new("issuing", 3, 2);
        let now = Utc::now();
        // Not yet polled: nothing is kept.
        cache.put(Kind::Known, cache.begin(), key(0), answer(now, 0));
        assert_eq!(cache.len(), (0, 0));
        cache.epochs.trust_for_tests(1);
        for n in 0..3 {
            cache.put(Kind::Known, cache.begin(), key(n), answer(now, 1));
        }
        for n in 100..1_100 {
            cache.put(Kind::Unknown, cache.begin(), key(n), answer(now, 2));
        }
        assert_eq!(cache.len(), (3, 2));
        for n in 0..3 {
            assert_eq!(cache.get(&key(n), now).map(|a| a.der[0]), Some(1));
        }
        assert_eq!(cache.get(&key(1_099), now).map(|a| a.der[0]), Some(2));
        assert_eq!(
            cache.get(&key(100), now),
            None,
            "least recently used went first"
        );
        // A fourth known answer pushes out the least recently used one.
        cache.get(&key(0), now);
        cache.put(Kind::Known, cache.begin(), key(3), answer(now, 1));
        assert_eq!(cache.len().0, 3);
        assert!(cache.get(&key(1), now).is_none());
        assert!(cache.get(&key(0), now).is_some());
    }

    #[test]
    fn a_moved_count_or_an_aging_answer_is_a_miss() {
        let cache = OcspCache::new("issuing", 10, 10);
        let now = Utc::now();
        cache.epochs.trust_for_tests(5);
        let tag = cache.begin();
        cache.put(Kind::Known, tag, key(1), answer(now, 1));
        assert!(cache.get(&key(1), now).is_some());
        // Under a quarter of its validity left: not served from memory.
        assert!(
            cache
                .get(&key(1), now + chrono::Duration::minutes(46))
                .is_none()
        );
        cache.put(Kind::Known, cache.begin(), key(1), answer(now, 1));
        cache.epochs.trust_for_tests(6);
        assert!(cache.get(&key(1), now).is_none(), "the count moved");
        // A fill that began before the count moved is not kept.
        cache.put(Kind::Known, tag, key(2), answer(now, 1));
        assert!(cache.get(&key(2), now).is_none());
        // Off: nothing is kept.
        let off = OcspCache::new("issuing", 0, 0);
        off.epochs.trust_for_tests(1);
        off.put(Kind::Known, off.begin(), key(1), answer(now, 1));
        assert_eq!(off.len(), (0, 0));
    }
}
