//! The only place that reads the time. Everything else is handed a [`Clock`], so rules about
//! time (validity periods, renewal windows, expiry of enrolment steps) are tested with a fixed
//! clock instead of by waiting.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SubsecRound, Utc};

/// A source of the current time, truncated to microseconds (the precision both database
/// engines store), so a time read back equals the time written.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// Shared clock handle kept in the application state.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned read of the wall clock
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock that stands still until moved; for tests and simulations.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<DateTime<Utc>>>);

impl FixedClock {
    /// A clock standing at `at`.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at.trunc_subsecs(6))))
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 123_456_789).unwrap();
        let c = FixedClock::at(t0);
        assert_eq!(
            c.now().timestamp_subsec_nanos(),
            123_456_000,
            "truncated to microseconds"
        );
        c.advance(Duration::days(30));
        assert_eq!(c.now() - t0.trunc_subsecs(6), Duration::days(30));
    }

    #[test]
    fn system_clock_has_microsecond_precision() {
        assert_eq!(SystemClock.now().timestamp_subsec_nanos() % 1000, 0);
    }
}
