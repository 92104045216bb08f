//! The node's bounded pool for CPU work whose cost a request chooses or that is large per
//! request: RSA key generation, the password-based KDFs of uploaded key files, and the parse
//! and signature checks of untrusted DER (CSRs, foreign certificates and their chains, the
//! keys of imported files). Such work never runs on an async worker: it runs on tokio's
//! blocking threads, at most `custody.heavy_concurrency` pieces at once per node; up to
//! `custody.heavy_queue` more wait (off the workers) for a slot, and beyond that a request is
//! refused at once with `503 service_unavailable` and `Retry-After` instead of queueing
//! without bound. So `/healthz`, sign-ins and signatures keep their workers however many
//! hostile uploads arrive.
//!
//! A slot is held until the work itself ends, even when the request that started it is
//! dropped (a client that disconnects does not free CPU that is still being spent).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::sync::Semaphore;

/// Why heavy work did not run or finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeavyError {
    /// Every slot is taken and the queue is full: retry later (503 with `Retry-After`).
    #[error("the node is busy with other key and certificate work; retry later")]
    Busy,
    /// The work panicked (a bug): answered as an internal error.
    #[error("heavy work failed")]
    Failed,
}

/// The pool (one per node, shared by custody and the PKI).
#[derive(Debug)]
pub struct HeavyPool {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Counts a waiter for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HeavyPool {
    /// At most `concurrency` (≥ 1) pieces of work at once, `queue` more waiting.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting: queue,
        }
    }

    /// Runs `work` on a blocking thread once a slot is free; [`HeavyError::Busy`] at once when
    /// the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HeavyError> {
        let permit = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(HeavyError::Busy);
                }
                let _waiting = Waiting(&self.waiting);
                Arc::clone(&self.slots)
                    .acquire_owned()
                    .await
                    .map_err(|_| HeavyError::Busy)?
            }
        };
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|_| HeavyError::Failed)
    }

    /// Slots free now (for tests and metrics).
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn over_the_queue_is_busy_and_slots_come_back() {
        let pool = Arc::new(HeavyPool::new(1, 1));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let first = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { pool.run(move || hold.recv().is_ok()).await })
        };
        while pool.available() > 0 {
            tokio::task::yield_now().await;
        }
        let second = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { pool.run(|| 2).await })
        };
        while pool.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|| 3).await, Err(HeavyError::Busy));
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(true));
        assert_eq!(second.await.unwrap(), Ok(2));
        assert_eq!(pool.run(|| 4).await, Ok(4));
        assert_eq!(pool.available(), 1);
    }

    #[tokio::test]
    async fn a_panic_is_a_failure_not_a_lost_slot() {
        let pool = HeavyPool::new(1, 0);
        #[allow(clippy::panic)]
        let r = pool.run(|| -> u8 { panic!("bug") }).await;
        assert_eq!(r, Err(HeavyError::Failed));
        assert_eq!(pool.run(|| 5).await, Ok(5));
    }
}
