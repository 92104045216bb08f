//! Remote signing for institutions: institutions and their OAuth2 clients, users' consents,
//! signature requests approved with a PIN or a passkey (dynamic linking), raw and CMS outputs,
//! webhooks, and verification.
//!
//! Authorization is a small table, checked in one place ([`Signing::resolve`]) before any
//! request exists: the institution must hold a live **consent** for the certificate (without
//! one it gets 404, exactly as for a certificate that does not exist), the certificate's
//! **usage** must allow the institution's sector, and the certificate must be active, its key
//! in the cloud and its PIN not locked. Approval repeats the status checks (the world may have
//! changed in between) and signs only what the canonical digest commits to.
//!
//! Where things are: `institution` (the operator's registry, client secrets, sectors),
//! `access` (OAuth2 client credentials → [`Caller`]), `consents`, `request` (the request as a
//! domain: parsing, canonical digest, usage rule), `requests` (creating them, the authorization
//! table), `approvals` (PIN and passkey approvals, signing), `commit` (group commit), `checks`
//! (the per-node cache of what every signature checks, invalidated across the cluster),
//! `cms`, `webhook`, `verify`, `history` (a certificate's usage history for its holder), and `csc` (the CSC API's domain side).

mod access;
mod approvals;
pub mod checks;
pub mod cms;
pub mod commit;
mod consents;
pub mod csc;
pub mod csc_async;
pub mod csc_oauth;
mod device;
pub mod history;
pub mod institution;
pub mod request;
mod requests;
pub mod verify;
pub mod webhook;

use std::sync::Arc;

use aws_lc_rs::{constant_time, rand::SecureRandom, rand::SystemRandom};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use self::{
    institution::{Sector, StoredSecrets},
    request::{
        Algorithm, AlgorithmExt as _, Canonical, Digest, Format, NewRequest, Purpose, RequestError,
        Status, Target,
    },
};
use crate::domain::{
    cert_kind::{CertKind, Storage},
    delivery_status::DeliveryStatus,
    institution_status::InstitutionStatus,
};
use crate::{
    audit::{Action, Actor, NewEvent},
    auth::{
        passkeys::{Ceremony, PasskeyError, Passkeys},
        rate_limit,
    },
    clock::SharedClock,
    config::SigningSettings,
    custody::{Custody, CustodyError, OwnerId, Unlock, activation::ActivationInfo},
    domain::pin::Pin,
    metrics::{CommitMetrics, SignatureMetrics, SignatureResult},
    pki::{Pki, PkiError, lifecycle::CertStatus},
    store::{self, StoreError, signing as db},
};

/// Remote-signing failures.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The request body is malformed.
    #[error(transparent)]
    Invalid(#[from] RequestError),
    /// No such request, certificate or consent visible to the caller.
    #[error("not found")]
    NotFound,
    /// No such institution.
    #[error("no such institution")]
    InstitutionNotFound,
    /// The institution is disabled.
    #[error("the institution is disabled")]
    InstitutionDisabled,
    /// The token lacks the scope this needs.
    #[error("the access token lacks scope {0}")]
    Scope(&'static str),
    /// A restricted-use certificate and an institution outside banking, card and insurance.
    #[error("a restricted-use certificate cannot sign for a {0} institution")]
    Usage(&'static str),
    /// The certificate is revoked, suspended or expired.
    #[error("the certificate is {0}")]
    CertificateNotUsable(&'static str),
    /// The certificate's PIN is locked.
    #[error("the certificate's PIN is locked")]
    PinLocked,
    /// The certificate's key is on the holder's device.
    #[error("the certificate's key is on the holder's device, not in the cloud")]
    DeviceKey,
    /// A signature the holder's device submitted does not verify with the certificate's key
    /// over what the request asks to be signed.
    #[error("the submitted signature does not verify with the certificate's public key")]
    DeviceSignature,
    /// A raw request for a device-kept certificate carries only digests: a browser's WebCrypto
    /// signs messages, never a pre-computed digest, so it needs the content itself.
    #[error("a raw request for a device-kept certificate needs its content, not only digests")]
    DeviceNeedsContent,
    /// A device approval for a certificate whose key is in the cloud.
    #[error("the certificate's key is in the cloud: approve with its PIN or a passkey")]
    NotDeviceKept,
    /// The algorithm does not fit the key.
    #[error("algorithm {0} does not fit the certificate's key")]
    Algorithm(&'static str),
    /// The request is not pending any more.
    #[error("the request is {0}")]
    NotPending(&'static str),
    /// The approval does not commit to the request's content.
    #[error("the approval does not match this request's content")]
    Mismatch,
    /// The consent exists already.
    #[error("this certificate is already registered with the institution")]
    ConsentExists,
    /// Custody failed or refused (wrong PIN, KMS down).
    #[error(transparent)]
    Custody(#[from] CustodyError),
    /// Passkey ceremony failed.
    #[error(transparent)]
    Passkey(#[from] PasskeyError),
    /// Building the output failed.
    #[error(transparent)]
    Cms(#[from] cms::CmsError),
    /// Too many requests.
    #[error(transparent)]
    Limited(#[from] rate_limit::Limited),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Randomness failed.
    #[error("randomness unavailable")]
    Random,
    /// The `Idempotency-Key` this ran under was taken over by a retry (after its lease).
    #[error("the Idempotency-Key was taken over by a retry")]
    ClaimLost,
}

impl From<PkiError> for SigningError {
    fn from(e: PkiError) -> Self {
        match e {
            PkiError::NotFound => Self::NotFound,
            PkiError::Store(s) => Self::Store(s),
            PkiError::Custody(c) => Self::Custody(c),
            other => {
                tracing::error!(error = %other, "pki failure while signing");
                Self::Store(store::columns::corrupt(
                    "certificates",
                    "certificate_der",
                    "unreadable certificate",
                ))
            }
        }
    }
}

/// An institution authenticated by a token, with the scopes granted.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The institution row.
    pub institution: db::InstitutionRow,
    /// Granted scopes.
    pub scope: String,
    /// With a CSC service token: the holder it acts for; the caller then sees that holder's
    /// consented credentials only.
    pub user: Option<OwnerId>,
}

impl Caller {
    /// Refuses unless the token carries `scope`.
    pub fn require(&self, scope: &'static str) -> Result<(), SigningError> {
        if institution::has_scope(&self.scope, scope) {
            Ok(())
        } else {
            Err(SigningError::Scope(scope))
        }
    }
}

pub use self::approvals::Approved;
pub use fincert_client::proto::{
    approvals::ApprovalView,
    consents::{ConsentView, InstitutionSummary},
    institutions::{ConsentedCertificate, RequestView, SignedResult, ValidationInfo},
};

/// The remote-signing service.
pub struct Signing {
    /// Reads of the signing path (SQLite: query-only connections beside the one writer).
    reads: DatabaseConnection,
    custody: Arc<Custody>,
    pki: Arc<Pki>,
    passkeys: Arc<Passkeys>,
    clock: SharedClock,
    settings: SigningSettings,
    rng: SystemRandom,
    /// Where webhook POSTs go.
    webhooks: Box<dyn webhook::WebhookSender>,
    committer: commit::Committer,
    /// PostgreSQL: the pool, where a claim or a rate-limit hit is one statement of its own
    /// (see `claim_idempotency`). `None` on SQLite, whose one writer batches them.
    pool: Option<DatabaseConnection>,
    epochs: Arc<checks::Epochs>,
    /// (institution, certificate) → what a signature for it needs, when it is usable.
    usable: checks::Cached<(String, String), Usable>,
    /// Active institutions by id.
    institutions: checks::Cached<String, db::InstitutionRow>,
    /// CSC SADs by hash, as this node last read them (the database decides every spend).
    sads: std::sync::Mutex<std::collections::HashMap<String, Arc<csc::SadEntry>>>,
    /// Institution access tokens (by `jti`) known not to be revoked (`oauth2/revoke` bumps
    /// the cache epoch, so a revocation reaches every node within a second).
    live_tokens: checks::Cached<String, ()>,
    /// `fincert_signatures_total`.
    signatures: SignatureMetrics,
}

/// What the signing path counts: signatures, and the group commit's batches.
#[derive(Clone)]
pub struct SigningMetrics {
    /// Signatures by algorithm, format and result.
    pub signatures: SignatureMetrics,
    /// Group-commit batch sizes and transaction times.
    pub commit: CommitMetrics,
}

/// What a signature for one certificate at one institution needs, once the authorization
/// table has passed (consent live, usage allows the sector, certificate active, key in the
/// cloud, PIN not locked).
#[derive(Debug, Clone)]
pub(crate) struct Usable {
    pub(crate) owner: OwnerId,
    /// The custody key; `None` for a certificate whose key is on the holder's device.
    pub(crate) key: Option<Uuid>,
    pub(crate) algorithm: crate::custody::keys::KeyAlgorithm,
    pub(crate) serial_hex: String,
    pub(crate) not_after: DateTime<Utc>,
    /// The certificate itself (what a native approval returns and embeds in CMS).
    pub(crate) certificate_der: Arc<Vec<u8>>,
    /// The chain of an imported certificate of another CA (`None`: this CA's).
    pub(crate) foreign_chain: Option<Arc<Vec<Vec<u8>>>>,
}

const APPROVE_CEREMONY: &str = "approve";

impl Signing {
    /// A service over the given parts.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: DatabaseConnection,
        reads: DatabaseConnection,
        custody: Arc<Custody>,
        pki: Arc<Pki>,
        passkeys: Arc<Passkeys>,
        clock: SharedClock,
        settings: SigningSettings,
        metrics: SigningMetrics,
    ) -> Result<Self, String> {
        let pool = (db.get_database_backend() == sea_orm::DbBackend::Postgres).then(|| db.clone());
        let committer = commit::Committer::start(
            db,
            clock.clone(),
            usize::try_from(settings.group_commit_max_batch).unwrap_or(1),
            metrics.commit,
        );
        let webhooks = Box::new(webhook::HttpWebhookSender::new(
            std::time::Duration::from_millis(settings.webhook_timeout_ms),
        )?);
        let epochs = checks::Epochs::new();
        Ok(Self {
            reads,
            pool,
            custody,
            pki,
            passkeys,
            clock,
            settings,
            rng: SystemRandom::new(),
            webhooks,
            committer,
            usable: checks::Cached::new(epochs.clone()),
            institutions: checks::Cached::new(epochs.clone()),
            live_tokens: checks::Cached::new(epochs.clone()),
            epochs,
            sads: std::sync::Mutex::new(std::collections::HashMap::new()),
            signatures: metrics.signatures,
        })
    }

    /// Claims an `Idempotency-Key` (an institution's creating POST). On SQLite it joins the
    /// next group commit: its one writer would otherwise commit (and fsync) each claim alone,
    /// one after another. On PostgreSQL it is one statement on the pool: connections commit
    /// in parallel, and inside a batch it would wait for the batch's other statements.
    pub async fn claim_idempotency(
        &self,
        claim: commit::ClaimOf,
    ) -> Result<store::idempotency::Claim, SigningError> {
        if let Some(pool) = &self.pool {
            return Ok(store::idempotency::claim(
                pool,
                &claim.scope,
                &claim.key,
                &claim.fingerprint,
                claim.at,
                claim.ttl,
                claim.lease,
            )
            .await?);
        }
        match self
            .committer
            .commit(commit::Change::Claim(Box::new(claim)), Vec::new())
            .await?
        {
            commit::Outcome::Claimed(c) => Ok(c),
            other => Err(SigningError::Store(store::columns::corrupt(
                "idempotency_records",
                "state",
                format!("a claim came back as {other:?}"),
            ))),
        }
    }

    /// Counts a rate-limit hit of the signing path, like [`Self::claim_idempotency`]: in the
    /// next group commit on SQLite, one statement on the pool on PostgreSQL (where, inside a
    /// batch, the institution's counter row would stay locked for the whole batch and make the
    /// two writers take turns).
    pub(crate) async fn count_hit(
        &self,
        bucket: &str,
        limit: crate::auth::rate_limit::Limit,
    ) -> Result<Result<(), crate::auth::rate_limit::Limited>, SigningError> {
        let hit = crate::auth::rate_limit::Hit::new(bucket, limit, self.clock.now());
        if let Some(pool) = &self.pool {
            let counted =
                store::rate_limits::hit(pool, &hit.bucket, hit.window_start, hit.max).await?;
            return Ok(hit.outcome(counted));
        }
        match self
            .committer
            .commit(commit::Change::Hit(Box::new(hit.clone())), Vec::new())
            .await?
        {
            commit::Outcome::Counted(counted) => Ok(hit.outcome(counted)),
            other => Err(SigningError::Store(store::columns::corrupt(
                "rate_limits",
                "hits",
                format!("a rate-limit hit came back as {other:?}"),
            ))),
        }
    }

    /// Signing-path changes waiting for or inside the group commit.
    pub fn pending_commits(&self) -> usize {
        self.committer.pending()
    }

    /// The cache epoch this node follows (its poller is started by the application).
    pub fn epochs(&self) -> &Arc<checks::Epochs> {
        &self.epochs
    }

    /// The settings in force.
    pub fn settings(&self) -> &SigningSettings {
        &self.settings
    }
}

/// The webhook delivery reporting `view`, if the request has a webhook.
fn webhook_delivery(
    row: &db::RequestRow,
    event: &str,
    view: &RequestView,
    now: DateTime<Utc>,
) -> Option<db::DeliveryRow> {
    let url = row.webhook_url.clone()?;
    let id = Uuid::new_v4().to_string();
    let event = fincert_client::proto::institutions::WebhookEvent {
        created_at: now,
        event: event.to_owned(),
        id: id.clone(),
        request: view.clone(),
    };
    let body = serde_json::to_string(&event)
        .inspect_err(|e| tracing::error!(error = %e, "webhook body not serialised"))
        .ok()?;
    Some(db::DeliveryRow {
        id,
        institution_id: row.institution_id.clone(),
        request_id: row.id.to_string(),
        url,
        body,
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        last_status: None,
        last_error: None,
        delivered_at: None,
    })
}

/// Result of a client authentication.
pub enum ClientAuth {
    /// Authenticated; the institution and the scope to grant.
    Ok(Box<db::InstitutionRow>, String),
    /// Unknown client, wrong secret or disabled institution.
    InvalidClient,
    /// A requested scope is not held.
    InvalidScope,
}

/// The canonical digest of a stored request: what its approval must commit to.
fn canonical(row: &db::RequestRow) -> Digest {
    Canonical {
        id: row.id,
        institution_id: &row.institution_id,
        certificate_id: row.certificate_id,
        purpose: row.purpose,
        display_text: &row.display_text,
        digests: &row.digests,
        format: row.format,
        algorithm: row.algorithm,
        expires_at: row.expires_at,
    }
    .digest()
}

/// The holder's stable reference at one institution: unlinkable across institutions.
pub fn user_ref(institution_id: &str, owner: &OwnerId) -> String {
    let d =
        Digest::of(format!("fincert-user-ref-v1:{institution_id}:{}", owner.as_str()).as_bytes());
    format!("u_{}", &d.to_hex()[..32])
}

fn consent_view(row: db::ConsentRow, inst: &db::InstitutionRow) -> ConsentView {
    ConsentView {
        id: row.id,
        institution: InstitutionSummary {
            id: inst.id.clone(),
            name: inst.name.clone(),
            sector: inst.sector.as_str().to_owned(),
        },
        certificate_id: row.certificate_id,
        created_at: row.created_at,
        withdrawn_at: row.withdrawn_at,
    }
}
