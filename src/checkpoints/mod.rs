//! Signed checkpoints of the audit chain head (#17): the job that signs them, the witnesses
//! that keep copies outside the database, the public pages, and the full `audit verify`.
//!
//! ```text
//!  every audit.checkpoint_interval_secs (≤ 60 s), on the node holding job lock 2,
//!  and once more at a clean shutdown:
//!    head (seq S, hash H) moved since the last checkpoint?
//!      └─ yes: checkpoint n = {n, S, H, now, link(n-1), key id} ── audit key signs ──► audit_checkpoints
//!    each witness: send every checkpoint it does not hold yet ──► directory | S3 Object Lock
//! ```
//!
//! **Failures never stop the service.** A checkpoint that cannot be signed or stored, or a
//! witness that cannot be reached, leaves signing and every other route running: it is counted
//! (`fincert_audit_checkpoint_failures_total{stage}`), logged at `ERROR` (sign) or `WARN`
//! (witness), and recorded in the audit log (`audit.checkpoint_failed`,
//! `audit.witness_failed`) when the database takes it; the next run retries (a witness catches
//! up from where it stopped). `/readyz` does not turn red for it: taking nodes out of the load
//! balancer would stop signing for a failure of evidence, not of service. Operators alert on
//! the failure counter and on the age of
//! `fincert_audit_checkpoint_last_success_timestamp_seconds`. A head found *behind* the last
//! checkpoint (the log was cut) is such a failure too, every run, until an operator looks.
//!
//! What lives where: [`key`] the audit key (KMS or sealed) and which keys `verify` trusts;
//! [`witness`] the witness trait, the directory adapter and the public JSON; [`s3`] the S3
//! Object Lock adapter; [`archive`] whole months exported to files and walked from them; this
//! file the job, the pages and [`verify`].

pub mod archive;
pub mod key;
pub mod s3;
pub mod witness;

use std::{collections::HashMap, sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use serde_json::json;

use self::{
    key::AuditKey,
    witness::{CheckpointWitness, DirWitness},
};
use crate::{
    audit::{Action, Actor, AuditPublicKey, Break, Checkpoint, CheckpointVerifier, NewEvent},
    clock::SharedClock,
    config::{Settings, WitnessKind},
    custody::Custody,
    metrics::CheckpointMetrics,
    store::{self, StoreError},
};

/// The checkpoint job's lock: "finc" + job 2 (the PKI jobs hold job 1).
const JOB_LOCK: i64 = 0x6669_6e63_0002;

/// Checkpoints sent to one witness per run at most (a witness that was down catches up at
/// this pace).
const WITNESS_BATCH: u64 = 100;

/// Why a checkpoint run failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit key could not be opened or could not sign.
    #[error("audit key: {0}")]
    Key(String),
    /// The chain head is behind the last checkpoint: events were removed from the end.
    #[error(
        "the chain head (event {head_seq}) is behind checkpoint {checkpoint} (event {event_seq})"
    )]
    HeadBehind {
        /// The head's seq.
        head_seq: i64,
        /// The last checkpoint.
        checkpoint: i64,
        /// The event it covers.
        event_seq: i64,
    },
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunReport {
    /// The checkpoint signed, if the head had moved.
    pub signed: Option<Checkpoint>,
    /// Copies sent to witnesses.
    pub witnessed: usize,
    /// Witness failures (`name: error`).
    pub witness_failures: Vec<String>,
}

/// The checkpoint signer of a node.
pub struct Checkpoints {
    key: AuditKey,
    witnesses: Vec<Arc<dyn CheckpointWitness>>,
    clock: SharedClock,
    metrics: CheckpointMetrics,
    interval: Duration,
}

impl Checkpoints {
    /// Opens (or makes) the audit key and the configured witness.
    pub async fn load(
        db: &DatabaseConnection,
        custody: &Arc<Custody>,
        settings: &Settings,
        clock: SharedClock,
        metrics: CheckpointMetrics,
    ) -> Result<Self, CheckpointError> {
        let key = AuditKey::load_or_create(db, custody, settings, &clock).await?;
        let witnesses: Vec<Arc<dyn CheckpointWitness>> = match settings.audit.witness {
            WitnessKind::None => vec![],
            WitnessKind::Dir => vec![Arc::new(DirWitness::new(settings.audit_witness_path()))],
            WitnessKind::S3 => vec![Arc::new(
                s3::S3Witness::connect(settings, clock.clone())
                    .await
                    .map_err(CheckpointError::Key)?,
            )],
        };
        Ok(Self {
            key,
            witnesses,
            clock,
            metrics,
            interval: Duration::from_secs(settings.audit.checkpoint_interval_secs),
        })
    }

    /// The id of the key this node signs with.
    pub fn key_id(&self) -> &str {
        self.key.key_id()
    }

    /// One run, on whichever node holds the job lock (`None` elsewhere): signs a checkpoint if
    /// the head moved, then feeds the witnesses. Failures are counted, logged and audited here
    /// (see the module doc); the error is returned too.
    pub async fn run(&self, db: &DatabaseConnection) -> Result<Option<RunReport>, CheckpointError> {
        let Some(guard) = store::pki::try_job_guard(db, JOB_LOCK).await? else {
            return Ok(None);
        };
        let done = self.run_locked(db).await;
        guard.release().await?;
        done.map(Some)
    }

    async fn run_locked(&self, db: &DatabaseConnection) -> Result<RunReport, CheckpointError> {
        let signed = match self.sign_next(db).await {
            Ok(signed) => signed,
            Err(e) => {
                self.metrics.failed("sign");
                tracing::error!(error = %e, "audit checkpoint not signed; retrying next run");
                self.record(
                    db,
                    NewEvent::new(Actor::System, Action::AuditCheckpointFailed)
                        .details(json!({"error": e.to_string()})),
                )
                .await;
                return Err(e);
            }
        };
        if signed.is_some() {
            self.metrics.signed();
        }
        let mut report = RunReport {
            signed,
            ..RunReport::default()
        };
        for w in &self.witnesses {
            match feed(db, w.as_ref()).await {
                Ok(n) => report.witnessed += n,
                Err((checkpoint, e)) => {
                    self.metrics.failed("witness");
                    tracing::warn!(witness = w.name(), checkpoint, error = %e,
                        "audit checkpoint not handed to the witness; retrying next run");
                    self.record(
                        db,
                        NewEvent::new(Actor::System, Action::AuditWitnessFailed)
                            .subject(w.name().to_owned())
                            .details(json!({"checkpoint": checkpoint, "error": e})),
                    )
                    .await;
                    report.witness_failures.push(format!("{}: {e}", w.name()));
                }
            }
        }
        if report.witness_failures.is_empty() {
            self.metrics.succeeded(self.clock.now().timestamp());
        }
        Ok(report)
    }

    async fn sign_next(
        &self,
        db: &DatabaseConnection,
    ) -> Result<Option<Checkpoint>, CheckpointError> {
        let last = store::checkpoints::last(db).await?;
        let (head_seq, head_hash) = store::audit::head(db).await?;
        if let Some(last) = &last {
            if last.event_seq > head_seq {
                return Err(CheckpointError::HeadBehind {
                    head_seq,
                    checkpoint: last.seq,
                    event_seq: last.event_seq,
                });
            }
            if last.event_seq == head_seq {
                return Ok(None);
            }
        }
        if head_seq == 0 {
            return Ok(None);
        }
        let mut cp = Checkpoint::next(
            last.as_ref(),
            head_seq,
            &head_hash,
            self.clock.now(),
            self.key.key_id(),
        );
        cp.signature = self.key.sign(cp.message()).await?;
        store::checkpoints::insert(db, &cp).await?;
        Ok(Some(cp))
    }

    async fn record(&self, db: &DatabaseConnection, event: NewEvent) {
        if let Err(e) = store::audit::append(db, self.clock.now(), &[event]).await {
            tracing::error!(error = %e, "audit event for a checkpoint failure not recorded");
        }
    }

    /// Runs every interval (the first one interval after start) until aborted.
    pub fn spawn(self: &Arc<Self>, db: DatabaseConnection) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + me.interval;
            let mut tick = tokio::time::interval_at(start, me.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // Failures are already counted, logged and audited by `run`.
                let _ = me.run(&db).await;
            }
        })
    }
}

/// Sends `w` every checkpoint it does not hold yet (up to a batch); the failing checkpoint and
/// the error otherwise.
async fn feed(db: &DatabaseConnection, w: &dyn CheckpointWitness) -> Result<usize, (i64, String)> {
    let upto = store::checkpoints::witnessed_upto(db, w.name())
        .await
        .map_err(|e| (0, e.to_string()))?;
    let page = store::checkpoints::page_after(db, upto, WITNESS_BATCH)
        .await
        .map_err(|e| (upto + 1, e.to_string()))?;
    for cp in &page {
        w.put(cp).await.map_err(|e| (cp.seq, e.to_string()))?;
        store::checkpoints::set_witnessed(db, w.name(), cp.seq)
            .await
            .map_err(|e| (cp.seq, e.to_string()))?;
    }
    Ok(page.len())
}

/// A page of checkpoints after `after` (`limit` at most) and the cursor of the next one.
pub async fn page(
    db: &DatabaseConnection,
    after: i64,
    limit: u64,
) -> Result<fincert_client::proto::audit::CheckpointPage, StoreError> {
    let mut rows = store::checkpoints::page_after(db, after, limit + 1).await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        rows.last().map(|c| c.seq.to_string())
    } else {
        None
    };
    Ok(fincert_client::proto::audit::CheckpointPage {
        items: rows.iter().map(witness::to_wire).collect(),
        next_cursor,
    })
}

/// Every audit public key, newest first.
pub async fn public_keys(
    db: &DatabaseConnection,
) -> Result<Vec<fincert_client::proto::audit::AuditKey>, StoreError> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    Ok(store::checkpoints::keys(db)
        .await?
        .into_iter()
        .map(|k| {
            let b64 = STANDARD.encode(&k.spki);
            let lines: Vec<&str> = b64
                .as_bytes()
                .chunks(64)
                .filter_map(|c| std::str::from_utf8(c).ok())
                .collect();
            fincert_client::proto::audit::AuditKey {
                key_id: k.key_id,
                algorithm: "ES256".into(),
                pem: format!(
                    "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                    lines.join("\n")
                ),
                spki: b64,
                created_at: k
                    .created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }
        })
        .collect())
}

/// What a full verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events in the chain.
    pub events: i64,
    /// Checkpoints verified.
    pub checkpoints: usize,
    /// The last event a checkpoint covers (0 for none).
    pub signed_upto: i64,
    /// Witness copies compared.
    pub witnessed: usize,
    /// The last archived event (0 for none): events up to it were walked from the archive
    /// when one was given, and not walked otherwise.
    pub archived_upto: i64,
    /// Whether the archived events were walked (an archive directory was given).
    pub archive_walked: bool,
}

/// Why a verification could not be carried out (a break in the evidence is not this).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The archive directory could not be read.
    #[error("archive: {0}")]
    Archive(String),
}

/// Verifies everything: the checkpoints' own chain and signatures under `keys`, every copy a
/// witness holds (each must be signed and identical to the database's), the archived months
/// from `archive` (see [`archive::walk`]; without it, the walk starts where the last archive
/// ended), and the event chain against the head and every checkpoint. `Ok(Err(_))` is the
/// first break found.
pub async fn verify(
    db: &DatabaseConnection,
    keys: Vec<AuditPublicKey>,
    witness: Option<Vec<Checkpoint>>,
    archive: Option<&std::path::Path>,
) -> Result<Result<VerifyReport, Break>, VerifyError> {
    // Checkpoints before the head: everything they cover is then at or below the head.
    let cps = store::checkpoints::all_checkpoints(db).await?;
    let mut chain = CheckpointVerifier::new(keys);
    for cp in &cps {
        if let Err(b) = chain.push(cp) {
            return Ok(Err(b));
        }
    }
    let mut witnessed = 0;
    if let Some(copies) = witness {
        let ours: HashMap<i64, &Checkpoint> = cps.iter().map(|c| (c.seq, c)).collect();
        for copy in &copies {
            if let Err(b) = chain.check_signature(copy) {
                return Ok(Err(b));
            }
            match ours.get(&copy.seq) {
                None => {
                    return Ok(Err(Break::WitnessMissing {
                        checkpoint: copy.seq,
                    }));
                }
                Some(c) if *c != copy => {
                    return Ok(Err(Break::WitnessDiffers {
                        checkpoint: copy.seq,
                    }));
                }
                Some(_) => witnessed += 1,
            }
        }
    }
    let archived = store::audit::archived_months(db).await?;
    let archived_upto = archived.last().map_or(0, |a| a.last_seq);
    let mut verifier = crate::audit::Verifier::with_checkpoints(&cps);
    match (archive, archived.last()) {
        (Some(dir), _) => {
            if let Err(b) =
                archive::walk(dir, &archived, &cps, &mut verifier).map_err(VerifyError::Archive)?
            {
                return Ok(Err(b));
            }
        }
        (None, Some(last)) => verifier = verifier.resume_after(last.last_seq, &last.last_hash),
        (None, None) => {}
    }
    Ok(store::audit::verify_with(db, verifier)
        .await?
        .map(|events| VerifyReport {
            events,
            checkpoints: cps.len(),
            signed_upto: cps.last().map_or(0, |c| c.event_seq),
            witnessed,
            archived_upto,
            archive_walked: archive.is_some(),
        }))
}
