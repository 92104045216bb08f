//! Group commit for the signing path (DESIGN §6). The audit chain has one head, so one
//! transaction per signature would serialise every signature on that row lock and its fsync.
//! Instead, each signature hands its state change and audit events to one writer task, which
//! applies a batch of them in a single transaction — one head lock, one append, one fsync — and
//! answers every caller only after that commit. A change whose condition fails (a request no
//! longer pending, a SAD spent by a concurrent call) is skipped with its events and reported as
//! `false`; a database failure fails the whole batch, and nothing of it remains.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use crate::{
    audit::NewEvent,
    clock::SharedClock,
    store::{self, StoreError, signing as db},
};

/// A conditional state change of the signing path.
#[derive(Debug, Clone)]
pub enum Change {
    /// A pending request becomes `status` with `result`; `delivery` is queued with it.
    Decide {
        /// Request id.
        request_id: String,
        /// New status.
        status: &'static str,
        /// Result JSON.
        result: Option<String>,
        /// Webhook delivery to queue.
        delivery: Option<Box<db::DeliveryRow>>,
    },
    /// A SAD spends these authorized hashes (base64), one signature each.
    SpendSad {
        /// SHA-256 of the SAD, hex.
        sad_hash: String,
        /// The hashes signed.
        spend: Vec<String>,
    },
}

type Job = (
    Change,
    Vec<NewEvent>,
    oneshot::Sender<Result<bool, StoreError>>,
);

/// The handle to the writer task.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Job>,
}

async fn apply(
    txn: &sea_orm::DatabaseTransaction,
    change: &Change,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    match change {
        Change::Decide {
            request_id,
            status,
            result,
            delivery,
        } => {
            let ok = db::decide(txn, request_id, status, result.as_deref(), now).await?;
            if ok && let Some(d) = delivery {
                db::insert_delivery(txn, d, now).await?;
            }
            Ok(ok)
        }
        Change::SpendSad { sad_hash, spend } => {
            // Read the SAD as it is now, inside this transaction (concurrent calls on one SAD
            // are applied one after another here), and compare-and-set against that read (a
            // change by another node makes this one fail closed).
            let Some(row) = db::sad(txn, sad_hash).await? else {
                return Ok(false);
            };
            let mut left: Vec<String> =
                serde_json::from_str(&row.hashes).map_err(|_| StoreError::Corrupt {
                    table: "csc_sads",
                    problem: "hashes".into(),
                })?;
            for h in spend {
                match left.iter().position(|x| x == h) {
                    Some(i) => {
                        left.remove(i);
                    }
                    None => return Ok(false),
                }
            }
            let count = i32::try_from(spend.len()).unwrap_or(i32::MAX);
            if count > row.remaining || now >= row.expires_at {
                return Ok(false);
            }
            let left = serde_json::to_string(&left).map_err(|_| StoreError::Corrupt {
                table: "csc_sads",
                problem: "hashes".into(),
            })?;
            db::spend_sad(txn, &row, count, &left).await
        }
    }
}

impl Committer {
    /// Starts the writer; at most `max_batch` changes share a transaction.
    pub fn start(db: DatabaseConnection, clock: SharedClock, max_batch: usize) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(4096);
        let max_batch = max_batch.max(1);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < max_batch {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let now = clock.now();
                let outcome = async {
                    let txn = db.begin().await?;
                    let mut applied = Vec::with_capacity(batch.len());
                    let mut events = Vec::new();
                    for (change, evs, _) in &batch {
                        let ok = apply(&txn, change, now).await?;
                        if ok {
                            events.extend(evs.iter().cloned());
                        }
                        applied.push(ok);
                    }
                    store::audit::append(&txn, now, &events).await?;
                    txn.commit().await?;
                    Ok::<_, StoreError>(applied)
                }
                .await;
                match outcome {
                    Ok(applied) => {
                        for ((_, _, done), ok) in batch.into_iter().zip(applied) {
                            let _ = done.send(Ok(ok));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, size = batch.len(), "signing batch not committed");
                        for (_, _, done) in batch {
                            let _ = done.send(Err(StoreError::Unavailable(DbErr::Custom(
                                "signing batch not committed".into(),
                            ))));
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// Applies `change` with its `events` in the next batch; `Ok(false)` if its condition
    /// failed (nothing of it was written).
    pub async fn commit(&self, change: Change, events: Vec<NewEvent>) -> Result<bool, StoreError> {
        let (done, answer) = oneshot::channel();
        let closed = || StoreError::Unavailable(DbErr::Custom("the signing writer stopped".into()));
        self.tx
            .send((change, events, done))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}
