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

use std::collections::HashSet;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{SignedResult, request::Status};
use crate::{
    audit::NewEvent,
    clock::SharedClock,
    metrics::CommitMetrics,
    store::{self, StoreError, signing as db},
};

/// A conditional state change of the signing path.
#[derive(Debug, Clone)]
pub enum Change {
    /// A pending request becomes `status` with `result`; `delivery` is queued with it.
    Decide {
        /// Request id.
        request_id: Uuid,
        /// New status.
        status: Status,
        /// The result.
        result: Option<Box<SignedResult>>,
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
        /// What every signature of this spend is.
        form: SpendForm,
        /// The audit event of the hashes this spend signs; its details gain `digests`.
        event: Box<NewEvent>,
    },
    /// A new signature request, stored with the answer to the `Idempotency-Key` it was
    /// created under (when one is given) in the same transaction; skipped when that claim was
    /// taken over by a retry meanwhile.
    CreateRequest {
        /// The request.
        row: Box<db::RequestRow>,
        /// The idempotent answer to store with it.
        reply: Option<Box<store::idempotency::Reply>>,
    },
    /// An `Idempotency-Key` claimed for a request (`store::idempotency::claim`): batched
    /// like every other write of the signing path, so concurrent creations share one commit
    /// instead of queueing one transaction each on the writer.
    Claim(Box<ClaimOf>),
    /// A rate-limit hit (`store::rate_limits::hit`), batched for the same reason.
    Hit(Box<crate::auth::rate_limit::Hit>),
    /// Only the events that come with it (always applied).
    Audit,
}

/// What an `Idempotency-Key` claim names (see [`store::idempotency::claim`]).
#[derive(Debug, Clone)]
pub struct ClaimOf {
    /// The caller's identity.
    pub scope: String,
    /// The key.
    pub key: crate::domain::idempotency::IdempotencyKey,
    /// The request's fingerprint.
    pub fingerprint: [u8; 32],
    /// The claim's time (`Claimed::at`).
    pub at: DateTime<Utc>,
    /// How long the record lives.
    pub ttl: chrono::Duration,
    /// After how long an unfinished claim is taken over.
    pub lease: chrono::Duration,
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
    /// A SAD spend refused because a hash of it was signed before in the other form (signHash
    /// then signDoc, or the reverse): nothing of it was written.
    OtherForm,
    /// An `Idempotency-Key` claim: what it came to.
    Claimed(store::idempotency::Claim),
    /// A rate-limit hit: whether it was counted (within the limit).
    Counted(bool),
}

/// What a SAD spend's signatures are (`csc_sad_signatures.form`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendForm {
    /// signHash: the signature over the authorized hash itself.
    Raw,
    /// signDoc: a detached CMS (CAdES-B-B) whose message-digest is the authorized hash.
    Cades,
}

impl SpendForm {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Cades => "cades",
        }
    }
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
    /// Changes taken by a writer and not yet answered.
    in_flight: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Commits one batch and answers each of its callers.
async fn write(
    db: &DatabaseConnection,
    clock: &SharedClock,
    batch: Vec<Job>,
    metrics: &CommitMetrics,
) {
    let now = clock.now();
    let started = std::time::Instant::now();
    let outcome = async {
        let txn = db.begin().await?;
        let (applied, events) = apply_batch(&txn, &batch, now).await?;
        store::audit::append_within(&txn, now, &events).await?;
        txn.commit().await?;
        Ok::<_, StoreError>(applied)
    }
    .await;
    metrics.observe_batch(batch.len(), started.elapsed().as_secs_f64());
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

/// One hash a batch's SAD spends name: (activation, SAD hash, hash, signature, form).
type Spent<'a> = (&'a str, &'a str, &'a str, &'a [u8], SpendForm);

/// Every hash the batch's SAD spends name, in order.
fn spent_hashes(batch: &[Job]) -> impl Iterator<Item = Spent<'_>> {
    batch
        .iter()
        .filter_map(|(change, _, _)| match change {
            Change::SpendSad {
                activation_id,
                sad_hash,
                spend,
                form,
                ..
            } => Some((activation_id.as_str(), sad_hash.as_str(), spend, *form)),
            Change::Decide { .. }
            | Change::CreateRequest { .. }
            | Change::Claim(_)
            | Change::Hit(_)
            | Change::Audit => None,
        })
        .flat_map(|(activation, sad_hash, spend, form)| {
            spend
                .iter()
                .map(move |(hash, sig)| (activation, sad_hash, hash.as_str(), sig.as_slice(), form))
        })
}

/// Applies a batch inside `txn`: request decisions one by one, every SAD spend of the batch in
/// two statements (store the new signatures; read the stored ones of the hashes that had one).
/// Returns each change's outcome and the audit events to append.
async fn apply_batch(
    txn: &sea_orm::DatabaseTransaction,
    batch: &[Job],
    now: DateTime<Utc>,
) -> Result<(Vec<Outcome>, Vec<NewEvent>), StoreError> {
    let mut outcomes = vec![Outcome::Skipped; batch.len()];
    let mut events = Vec::new();
    for (i, (change, evs, _)) in batch.iter().enumerate() {
        if matches!(change, Change::Audit) {
            outcomes[i] = Outcome::Done;
            events.extend(evs.iter().cloned());
        } else if let Change::Claim(c) = change {
            let claim = store::idempotency::claim(
                txn,
                &c.scope,
                &c.key,
                &c.fingerprint,
                c.at,
                c.ttl,
                c.lease,
            )
            .await?;
            outcomes[i] = Outcome::Claimed(claim);
            events.extend(evs.iter().cloned());
        } else if let Change::Hit(h) = change {
            let counted = store::rate_limits::hit(txn, &h.bucket, h.window_start, h.max).await?;
            outcomes[i] = Outcome::Counted(counted);
            events.extend(evs.iter().cloned());
        } else if let Change::CreateRequest { row, reply } = change {
            if let Some(r) = reply
                && !store::idempotency::complete(txn, &r.claimed, r.status, &r.body).await?
            {
                continue;
            }
            db::insert_request(txn, row).await?;
            outcomes[i] = Outcome::Done;
            events.extend(evs.iter().cloned());
        } else if let Change::Decide {
            request_id,
            status,
            result,
            delivery,
        } = change
            && db::decide(txn, *request_id, *status, result.as_deref(), now).await?
        {
            if let Some(d) = delivery {
                db::insert_delivery(txn, d, now).await?;
            }
            outcomes[i] = Outcome::Done;
            events.extend(evs.iter().cloned());
        }
    }
    // The first item of each (activation, hash) in the batch is its candidate; the rest read
    // whatever ends up stored.
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    for (activation, sad_hash, hash, signature, form) in spent_hashes(batch) {
        if seen.insert((activation, hash)) {
            items.push(db::SpendItem {
                activation,
                sad_hash,
                hash,
                signature,
                form: form.as_str(),
            });
        }
    }
    let fresh = db::spend_hashes(txn, now, &items).await?;
    let stored_of: Vec<_> = spent_hashes(batch)
        .filter(|(activation, _, hash, _, _)| {
            !fresh.contains(&((*activation).to_owned(), (*hash).to_owned()))
        })
        .map(|(activation, sad_hash, hash, _, _)| (activation, sad_hash, hash))
        .collect();
    let stored = db::stored_signatures(txn, now, &stored_of).await?;
    let mut claimed = HashSet::new();
    for (i, (change, evs, _)) in batch.iter().enumerate() {
        let Change::SpendSad {
            activation_id,
            spend,
            event,
            form,
            ..
        } = change
        else {
            continue;
        };
        let mut out = Vec::with_capacity(spend.len());
        let mut signed = Vec::new();
        // A hash signed before in the other form refuses the call, but what this change
        // stored stays stored (each hash signs once) and is audited: a retry in its form
        // gets it.
        let mut other_form = false;
        for (hash, signature) in spend {
            let key = (activation_id.clone(), hash.clone());
            if fresh.contains(&key) && claimed.insert(key.clone()) {
                signed.push(hash.clone());
                out.push(signature.clone());
            } else if let Some((sig, stored_form)) = stored.get(&key) {
                if stored_form == form.as_str() {
                    out.push(sig.clone());
                } else {
                    other_form = true;
                }
            } else if fresh.contains(&key) {
                // Stored by an earlier change of this batch: that one is the signature.
                match items
                    .iter()
                    .find(|it| it.activation == activation_id && it.hash == hash)
                {
                    Some(first) if first.form == form.as_str() => {
                        out.push(first.signature.to_vec())
                    }
                    _ => other_form = true,
                }
            }
        }
        if !other_form && out.len() != spend.len() {
            if !signed.is_empty() {
                // The SAD condition is the same for every hash of one change: a change cannot
                // be half spent. Fail the batch rather than explain what cannot be.
                return Err(store::columns::corrupt(
                    "csc_sads",
                    "sad_hash",
                    "a SAD spend was partly refused",
                ));
            }
            continue;
        }
        if !signed.is_empty() {
            let mut event = (**event).clone();
            if let serde_json::Value::Object(m) = &mut event.details {
                m.insert(
                    "digests".into(),
                    signed
                        .iter()
                        .map(|h| STANDARD.decode(h).map(hex::encode).unwrap_or_default())
                        .collect(),
                );
            }
            events.push(event);
            events.extend(evs.iter().cloned());
        }
        outcomes[i] = if other_form {
            Outcome::OtherForm
        } else {
            Outcome::Spent(out)
        };
    }
    Ok((outcomes, events))
}

impl Committer {
    /// Starts the writer; at most `max_batch` changes share a transaction. Each batch's size
    /// and transaction time go to `metrics`.
    pub fn start(
        db: DatabaseConnection,
        clock: SharedClock,
        max_batch: usize,
        metrics: CommitMetrics,
    ) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let max_batch = max_batch.max(1);
        // PostgreSQL: two writers, so one batch's statements run while the other's commit
        // waits for its fsync; they meet only at the audit head, which each takes after its
        // other statements (so no lock cycle). SQLite has one connection: one writer.
        let writers = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            2
        } else {
            1
        };
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..writers {
            let (rx, db, clock) = (rx.clone(), db.clone(), clock.clone());
            let (metrics, in_flight) = (metrics.clone(), in_flight.clone());
            tokio::spawn(async move {
                loop {
                    let batch = {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else { break };
                        let mut batch = vec![first];
                        while batch.len() < max_batch {
                            match rx.try_recv() {
                                Ok(job) => batch.push(job),
                                Err(_) => break,
                            }
                        }
                        batch
                    };
                    let size = batch.len();
                    in_flight.fetch_add(size, std::sync::atomic::Ordering::Relaxed);
                    write(&db, &clock, batch, &metrics).await;
                    in_flight.fetch_sub(size, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        Self { tx, in_flight }
    }

    /// Changes queued for or inside a transaction now (sampled by `/metrics`).
    pub fn pending(&self) -> usize {
        let queued = self.tx.max_capacity().saturating_sub(self.tx.capacity());
        queued + self.in_flight.load(std::sync::atomic::Ordering::Relaxed)
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
