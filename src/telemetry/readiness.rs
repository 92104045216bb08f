//! What `/readyz` and `fincert_ready` read: the last KMS and database probe of this node, each
//! with the time it answered. A background task probes every [`PROBE_EVERY`] (a DescribeKey
//! on the data key for AWS, nothing for the local keyring, a ping for the database); nothing
//! here calls a dependency per scrape, so a load balancer polling `/readyz` costs the KMS
//! nothing. A result older than [`STALE_AFTER`] counts as a failure: a probe stuck past every
//! timeout must not leave a node marked ready.

use std::{
    future::Future,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How often the background task probes.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// Age past which a probe result no longer counts.
pub const STALE_AFTER: Duration = Duration::from_secs(20);

/// The last answer of one dependency.
#[derive(Debug, Clone)]
struct Probe {
    /// `None` when it answered; else why not (safe to log: no secrets, no input).
    failure: Option<String>,
    at: Instant,
}

/// The cached readiness of a node's dependencies.
#[derive(Debug)]
pub struct Readiness {
    kms: Mutex<Probe>,
    database: Mutex<Probe>,
}

impl Readiness {
    /// Starts as ready: the application was just built, so both dependencies answered.
    pub fn new() -> Self {
        let fresh = || {
            Mutex::new(Probe {
                failure: None,
                at: Instant::now(),
            })
        };
        Self {
            kms: fresh(),
            database: fresh(),
        }
    }

    /// Records a KMS probe.
    pub fn record_kms(&self, result: Result<(), String>) {
        record(&self.kms, result);
    }

    /// Records a database probe.
    pub fn record_database(&self, result: Result<(), String>) {
        record(&self.database, result);
    }

    /// The KMS as last probed: `Err` with the reason when it failed or the answer is stale.
    pub fn kms(&self) -> Result<(), String> {
        read(&self.kms)
    }

    /// The database as last probed.
    pub fn database(&self) -> Result<(), String> {
        read(&self.database)
    }

    /// Both dependencies answered lately.
    pub fn ready(&self) -> bool {
        self.kms().is_ok() && self.database().is_ok()
    }

    /// Probes both dependencies every [`PROBE_EVERY`] until the task is aborted. A change of
    /// state is logged once (not every round).
    pub fn spawn_prober<K, KF, D, DF>(
        self: std::sync::Arc<Self>,
        kms: K,
        database: D,
    ) -> tokio::task::JoinHandle<()>
    where
        K: Fn() -> KF + Send + 'static,
        KF: Future<Output = Result<(), String>> + Send,
        D: Fn() -> DF + Send + 'static,
        DF: Future<Output = Result<(), String>> + Send,
    {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PROBE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let (k, d) = tokio::join!(kms(), database());
                log_change("kms", self.kms().is_ok(), &k);
                log_change("database", self.database().is_ok(), &d);
                self.record_kms(k);
                self.record_database(d);
            }
        })
    }
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

fn record(probe: &Mutex<Probe>, result: Result<(), String>) {
    if let Ok(mut p) = probe.lock() {
        *p = Probe {
            failure: result.err(),
            at: Instant::now(),
        };
    }
}

fn read(probe: &Mutex<Probe>) -> Result<(), String> {
    let p = probe
        .lock()
        .map_err(|_| "probe state unreadable".to_string())?
        .clone();
    if let Some(why) = p.failure {
        return Err(why);
    }
    let age = p.at.elapsed();
    if age > STALE_AFTER {
        return Err(format!("no probe answer for {}s", age.as_secs()));
    }
    Ok(())
}

fn log_change(dependency: &str, was_ok: bool, now: &Result<(), String>) {
    match (was_ok, now) {
        (true, Err(why)) => tracing::warn!(dependency, error = %why, "readiness probe failed"),
        (false, Ok(())) => tracing::info!(dependency, "readiness probe recovered"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_answer_decides_and_stale_answers_fail() {
        let r = Readiness::new();
        assert!(r.ready());
        r.record_kms(Err("KMS unavailable: connection failed".into()));
        assert_eq!(r.kms().unwrap_err(), "KMS unavailable: connection failed");
        assert!(r.database().is_ok());
        assert!(!r.ready());
        r.record_kms(Ok(()));
        assert!(r.ready());
        if let Ok(mut p) = r.database.lock() {
            p.at = Instant::now() - STALE_AFTER - Duration::from_secs(1);
        }
        assert!(r.database().unwrap_err().starts_with("no probe answer"));
        assert!(!r.ready());
    }
}
