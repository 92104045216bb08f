//! Group commit for the signing path (DESIGN §6). The audit chain has one head, so one
//! transaction per signature would serialise every signature on that row lock and its fsync.
//! Instead, each signature hands its state change and audit events to one writer task, which
//! applies a batch of them in a single transaction — one head lock, one append, one fsync — and
//! answers every caller only after that commit. A change whose condition fails (a request no
//! longer pending, a SAD spent by a concurrent call) is skipped with its events and reported as
//! `false`; a database failure fails the whole batch, and nothing of it remains.
//!
//! A CSC spend carries the signatures it made: each authorized hash gets exactly one stored
//! signature across the cluster (the primary key decides), a spend that loses the race
//! consumes nothing and answers with the winner's signature, and the audit event names only
//! the hashes this spend signed.

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
    /// A SAD spends these authorized hashes (base64), each with the signature made for it.
    SpendSad {
        /// The activation behind the SAD (stable across `extendTransaction`).
        activation_id: String,
        /// SHA-256 of the SAD presented, hex: a replaced SAD spends nothing.
        sad_hash: String,
        /// (hash, signature) pairs.
        spend: Vec<(String, Vec<u8>)>,
        /// The audit event of the hashes this spend signs; its details gain `digests`.
        event: Box<NewEvent>,
    },
}

/// What a change came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its condition failed: nothing of it was written.
    Skipped,
    /// Applied.
    Done,
    /// A SAD spend: the signature now stored for each hash, in order (this call's, or the one
    /// a concurrent or earlier call stored).
    Spent(Vec<Vec<u8>>),
}

type Job = (
    Change,
    Vec<NewEvent>,
    oneshot::Sender<Result<Outcome, StoreError>>,
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
    events: &mut Vec<NewEvent>,
) -> Result<Outcome, StoreError> {
    match change {
        Change::Decide {
            request_id,
            status,
            result,
            delivery,
        } => {
            let ok = db::decide(txn, request_id, status, result.as_deref(), now).await?;
            if !ok {
                return Ok(Outcome::Skipped);
            }
            if let Some(d) = delivery {
                db::insert_delivery(txn, d, now).await?;
            }
            Ok(Outcome::Done)
        }
        Change::SpendSad {
            activation_id,
            sad_hash,
            spend,
            event,
        } => {
            let mut out = Vec::with_capacity(spend.len());
            let mut fresh = Vec::new();
            for (i, (hash, signature)) in spend.iter().enumerate() {
                match db::spend_hash(txn, activation_id, sad_hash, hash, signature, now).await? {
                    db::Spend::Fresh => {
                        fresh.push(hash.clone());
                        out.push(signature.clone());
                    }
                    db::Spend::Stored(sig) => out.push(sig),
                    // The SAD condition is the same for every hash of one change, so only the
                    // first can meet it failing; anything else is not a state we can explain.
                    db::Spend::Refused if i == 0 => return Ok(Outcome::Skipped),
                    db::Spend::Refused => {
                        return Err(StoreError::Corrupt {
                            table: "csc_sads",
                            problem: "a SAD changed within one transaction".into(),
                        });
                    }
                }
            }
            if !fresh.is_empty() {
                db::count_spent(
                    txn,
                    activation_id,
                    i32::try_from(fresh.len()).unwrap_or(i32::MAX),
                )
                .await?;
                let mut event = (**event).clone();
                if let serde_json::Value::Object(m) = &mut event.details {
                    m.insert(
                        "digests".into(),
                        fresh
                            .iter()
                            .map(|h| {
                                use base64::Engine as _;
                                base64::engine::general_purpose::STANDARD
                                    .decode(h)
                                    .map(hex::encode)
                                    .unwrap_or_default()
                            })
                            .collect(),
                    );
                }
                events.push(event);
            }
            Ok(Outcome::Spent(out))
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
                        let outcome = apply(&txn, change, now, &mut events).await?;
                        if outcome != Outcome::Skipped {
                            events.extend(evs.iter().cloned());
                        }
                        applied.push(outcome);
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

    /// Applies `change` with its `events` in the next batch; [`Outcome::Skipped`] if its
    /// condition failed (nothing of it was written).
    pub async fn commit(
        &self,
        change: Change,
        events: Vec<NewEvent>,
    ) -> Result<Outcome, StoreError> {
        let (done, answer) = oneshot::channel();
        let closed = || StoreError::Unavailable(DbErr::Custom("the signing writer stopped".into()));
        self.tx
            .send((change, events, done))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}
