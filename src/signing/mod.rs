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

pub mod cms;
pub mod commit;
pub mod csc;
pub mod institution;
pub mod request;
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
use crate::{
    audit::{Action, Actor, NewEvent},
    auth::{
        passkeys::{PasskeyError, Passkeys, Started},
        rate_limit,
    },
    clock::SharedClock,
    config::SigningSettings,
    custody::{Custody, CustodyError, OwnerId},
    domain::pin::Pin,
    pki::{Pki, PkiError, lifecycle::CertStatus, profile::Usage},
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
}

impl From<PkiError> for SigningError {
    fn from(e: PkiError) -> Self {
        match e {
            PkiError::NotFound => Self::NotFound,
            PkiError::Store(s) => Self::Store(s),
            PkiError::Custody(c) => Self::Custody(c),
            other => {
                tracing::error!(error = %other, "pki failure while signing");
                Self::Store(StoreError::Corrupt {
                    table: "certificates",
                    problem: "unreadable certificate".into(),
                })
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

    fn sector(&self) -> Sector {
        Sector::parse(&self.institution.sector).unwrap_or(Sector::Other)
    }
}

pub use fincert_client::types::{
    ApprovalView, ConsentView, ConsentedCertificate, InstitutionSummary, RequestView, SignedResult,
};

/// The remote-signing service.
pub struct Signing {
    custody: Arc<Custody>,
    pki: Arc<Pki>,
    passkeys: Arc<Passkeys>,
    clock: SharedClock,
    settings: SigningSettings,
    rng: SystemRandom,
    http: reqwest::Client,
    committer: commit::Committer,
}

const APPROVE_CEREMONY: &str = "approve";

impl Signing {
    /// A service over the given parts.
    pub fn new(
        db: DatabaseConnection,
        custody: Arc<Custody>,
        pki: Arc<Pki>,
        passkeys: Arc<Passkeys>,
        clock: SharedClock,
        settings: SigningSettings,
    ) -> Result<Self, String> {
        let committer = commit::Committer::start(
            db,
            clock.clone(),
            usize::try_from(settings.group_commit_max_batch).unwrap_or(1),
        );
        let timeout = std::time::Duration::from_millis(settings.webhook_timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            custody,
            pki,
            passkeys,
            clock,
            settings,
            rng: SystemRandom::new(),
            http,
            committer,
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &SigningSettings {
        &self.settings
    }

    // ----- OAuth2 client credentials -----

    /// Checks client credentials; returns the institution and the scope to grant. Every
    /// failure is the same `None` to the caller (and audited).
    pub async fn authenticate_client(
        &self,
        db: &DatabaseConnection,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<ClientAuth, SigningError> {
        let now = self.clock.now();
        rate_limit::check(
            db,
            &format!(
                "oauth:client:{}",
                client_id.chars().take(64).collect::<String>()
            ),
            rate_limit::Limit {
                max: self.settings.token_requests_per_client_per_minute,
                window_secs: 60,
            },
            now,
        )
        .await??;
        let row = db::institution_by_client_id(db, client_id).await?;
        let ok = row.as_ref().is_some_and(|r| {
            r.status == "active"
                && institution::secret_matches(
                    client_secret,
                    &StoredSecrets {
                        current: &r.secret_hash,
                        previous: r
                            .previous_secret_hash
                            .as_deref()
                            .zip(r.previous_secret_until),
                    },
                    now,
                )
        });
        let Some(row) = row.filter(|_| ok) else {
            let event = NewEvent::new(
                Actor::Institution(client_id.chars().take(64).collect()),
                Action::InstitutionAuthFailed,
            );
            store::audit::append(db, now, &[event]).await?;
            return Ok(ClientAuth::InvalidClient);
        };
        let Some(granted) = institution::grant_scopes(scope, &row.scopes) else {
            return Ok(ClientAuth::InvalidScope);
        };
        let event = NewEvent::new(
            Actor::Institution(row.id.clone()),
            Action::InstitutionAuthenticated,
        )
        .details(json!({"scope": granted}));
        store::audit::append(db, now, &[event]).await?;
        Ok(ClientAuth::Ok(Box::new(row), granted))
    }

    /// The institution behind a verified token's subject.
    pub async fn caller(
        &self,
        db: &DatabaseConnection,
        institution_id: &str,
        scope: &str,
    ) -> Result<Caller, SigningError> {
        let row = db::institution(db, institution_id)
            .await?
            .ok_or(SigningError::InstitutionNotFound)?;
        if row.status != "active" {
            return Err(SigningError::InstitutionDisabled);
        }
        Ok(Caller {
            institution: row,
            scope: scope.to_owned(),
        })
    }

    // ----- consents (users) -----

    /// Institutions a user may register a certificate with.
    pub async fn directory(
        &self,
        db: &DatabaseConnection,
    ) -> Result<Vec<InstitutionSummary>, SigningError> {
        Ok(db::institutions(db)
            .await?
            .into_iter()
            .filter(|r| r.status == "active")
            .map(|r| InstitutionSummary {
                id: r.id,
                name: r.name,
                sector: r.sector,
            })
            .collect())
    }

    /// The user consents that `institution` may request signatures with `certificate`.
    pub async fn consent(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        institution_id: &str,
        certificate_id: Uuid,
    ) -> Result<ConsentView, SigningError> {
        let inst = db::institution(db, institution_id)
            .await?
            .filter(|r| r.status == "active")
            .ok_or(SigningError::InstitutionNotFound)?;
        let cert = self.pki.certificate(db, owner, certificate_id).await?;
        if cert.status != CertStatus::Active {
            return Err(SigningError::CertificateNotUsable(cert.status.as_str()));
        }
        if cert.custody_key_id.is_none() {
            return Err(SigningError::DeviceKey);
        }
        let sector = Sector::parse(&inst.sector).unwrap_or(Sector::Other);
        if !request::usage_allows(cert.usage, sector) {
            return Err(SigningError::Usage(sector.as_str()));
        }
        if db::live_consent(db, &inst.id, &certificate_id.to_string())
            .await?
            .is_some()
        {
            return Err(SigningError::ConsentExists);
        }
        let now = self.clock.now();
        let row = db::ConsentRow {
            id: Uuid::new_v4().to_string(),
            institution_id: inst.id.clone(),
            user_id: owner.as_str().to_owned(),
            user_ref: user_ref(&inst.id, owner),
            certificate_id: certificate_id.to_string(),
            created_at: now,
            withdrawn_at: None,
        };
        let event = NewEvent::new(owner.actor(), Action::ConsentGranted)
            .subject(cert.serial.clone())
            .details(json!({"institution": inst.id, "consent": row.id}));
        let txn = db.begin().await.map_err(StoreError::from)?;
        db::insert_consent(&txn, &row).await?;
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(consent_view(row, &inst))
    }

    /// A user's consents (live ones, or all).
    pub async fn consents(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        include_withdrawn: bool,
    ) -> Result<Vec<ConsentView>, SigningError> {
        let mut out = Vec::new();
        for row in db::consents_of_user(db, owner.as_str(), include_withdrawn).await? {
            if let Some(inst) = db::institution(db, &row.institution_id).await? {
                out.push(consent_view(row, &inst));
            }
        }
        Ok(out)
    }

    /// Withdraws a consent: from now on the institution cannot see or use the certificate.
    /// Pending requests of that institution for that certificate can no longer be approved.
    pub async fn withdraw(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        consent_id: &str,
    ) -> Result<(), SigningError> {
        let now = self.clock.now();
        let txn = db.begin().await.map_err(StoreError::from)?;
        let row = db::withdraw_consent(&txn, owner.as_str(), consent_id, now)
            .await?
            .ok_or(SigningError::NotFound)?;
        let event = NewEvent::new(owner.actor(), Action::ConsentWithdrawn)
            .subject(row.certificate_id.clone())
            .details(json!({"institution": row.institution_id, "consent": row.id}));
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// The certificates an institution may use (its live consents).
    pub async fn consented_certificates(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
    ) -> Result<Vec<ConsentedCertificate>, SigningError> {
        let now = self.clock.now();
        let mut out = Vec::new();
        for consent in db::consents_of_institution(db, &caller.institution.id).await? {
            if let Some(cert) = store::pki::certificate_by_id(db, &consent.certificate_id).await? {
                let status = CertStatus::parse(&cert.status)
                    .unwrap_or(CertStatus::Revoked)
                    .at(cert.not_after, now);
                out.push(ConsentedCertificate {
                    certificate_id: cert.id,
                    user_ref: consent.user_ref,
                    subject: cert.subject,
                    serial: cert.serial_hex,
                    kind: cert.kind,
                    usage: cert.usage,
                    status: status.as_str().into(),
                    not_after: cert.not_after,
                    certificate: STANDARD.encode(&cert.certificate_der),
                });
            }
        }
        Ok(out)
    }

    // ----- signature requests (institutions) -----

    /// Finds the certificate a request names and checks the authorization table: live
    /// consent (else 404), usage, status, key in the cloud, PIN not locked, algorithm.
    async fn resolve(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        target: &Target,
        algorithm: Option<Algorithm>,
    ) -> Result<(store::pki::CertificateRow, Uuid, Algorithm), SigningError> {
        let inst = &caller.institution.id;
        let consent = match target {
            Target::Certificate(id) => db::live_consent(db, inst, &id.to_string()).await?,
            Target::User(user_ref) => {
                let mut newest = None;
                for c in db::live_consents_by_ref(db, inst, user_ref).await? {
                    let active = store::pki::certificate_by_id(db, &c.certificate_id)
                        .await?
                        .is_some_and(|cert| {
                            cert.kind == "financial"
                                && CertStatus::parse(&cert.status).is_some_and(|s| {
                                    s.at(cert.not_after, self.clock.now()) == CertStatus::Active
                                })
                        });
                    if active {
                        newest = Some(c);
                        break;
                    }
                }
                newest
            }
        }
        .ok_or(SigningError::NotFound)?;
        let cert = store::pki::certificate_by_id(db, &consent.certificate_id)
            .await?
            .ok_or(SigningError::NotFound)?;
        let key = self.check_usable(db, caller.sector(), &cert).await?;
        let owner = OwnerId::parse(&cert.owner_id)?;
        let (key_algorithm, _) = self.custody.key_status(db, &owner, key).await?;
        let algorithm = algorithm.unwrap_or(request::default_algorithm(key_algorithm));
        if algorithm.scheme().key_algorithm() != key_algorithm {
            return Err(SigningError::Algorithm(algorithm.as_str()));
        }
        Ok((cert, key, algorithm))
    }

    /// Usage, status, storage and PIN checks shared by creation and approval.
    async fn check_usable(
        &self,
        db: &DatabaseConnection,
        sector: Sector,
        cert: &store::pki::CertificateRow,
    ) -> Result<Uuid, SigningError> {
        let usage = Usage::parse(&cert.usage).unwrap_or(Usage::Restricted);
        if !request::usage_allows(usage, sector) {
            return Err(SigningError::Usage(sector.as_str()));
        }
        let status = CertStatus::parse(&cert.status)
            .unwrap_or(CertStatus::Revoked)
            .at(cert.not_after, self.clock.now());
        if status != CertStatus::Active {
            return Err(SigningError::CertificateNotUsable(status.as_str()));
        }
        let key = cert
            .custody_key_id
            .as_deref()
            .and_then(|k| Uuid::parse_str(k).ok())
            .ok_or(SigningError::DeviceKey)?;
        let owner = OwnerId::parse(&cert.owner_id)?;
        let (_, locked) = self.custody.key_status(db, &owner, key).await?;
        if locked {
            return Err(SigningError::PinLocked);
        }
        Ok(key)
    }

    /// The most signatures one approval (one key activation) may make: the request limit,
    /// capped by custody's activation limit.
    pub fn max_batch(&self) -> u32 {
        u32::try_from(request::MAX_DIGESTS)
            .unwrap_or(u32::MAX)
            .min(self.custody.activations().max_signatures())
    }

    /// Creates a signature request (rate-limited per institution).
    pub async fn create_request(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        new: NewRequest,
    ) -> Result<RequestView, SigningError> {
        caller.require("sign")?;
        if new.digests.len() > self.max_batch() as usize {
            return Err(RequestError::Invalid(format!(
                "digests must hold at most {} items (the signatures one approval may make)",
                self.max_batch()
            ))
            .into());
        }
        let now = self.clock.now();
        rate_limit::check(
            db,
            &format!("sign:institution:{}", caller.institution.id),
            rate_limit::Limit {
                max: self.settings.requests_per_institution_per_minute,
                window_secs: 60,
            },
            now,
        )
        .await??;
        let (cert, _key, algorithm) = self.resolve(db, caller, &new.target, new.algorithm).await?;
        let id = Uuid::new_v4();
        let expires_at = now + new.expires_in;
        let certificate_id = Uuid::parse_str(&cert.id).map_err(|_| SigningError::NotFound)?;
        let canonical = Canonical {
            id,
            institution_id: &caller.institution.id,
            certificate_id,
            purpose: new.purpose,
            display_text: &new.display_text,
            digests: &new.digests,
            format: new.format,
            algorithm,
            expires_at,
        }
        .digest();
        let row = db::RequestRow {
            id: id.to_string(),
            institution_id: caller.institution.id.clone(),
            user_id: cert.owner_id.clone(),
            certificate_id: cert.id.clone(),
            purpose: new.purpose.as_str().into(),
            display_text: new.display_text.clone(),
            digests: serde_json::to_string(
                &new.digests.iter().map(|d| d.to_b64()).collect::<Vec<_>>(),
            )
            .map_err(|_| SigningError::Random)?,
            content: new.content.clone(),
            algorithm: algorithm.as_str().into(),
            format: new.format.as_str().into(),
            canonical_digest: canonical.0.to_vec(),
            status: Status::Pending.as_str().into(),
            created_at: now,
            expires_at,
            decided_at: None,
            result: None,
            webhook_url: new.webhook_url.clone(),
        };
        let event = NewEvent::new(
            Actor::Institution(caller.institution.id.clone()),
            Action::SignatureRequested,
        )
        .subject(row.id.clone())
        .details(json!({
            "certificate": cert.serial_hex,
            "purpose": row.purpose,
            "digests": new.digests.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
            "format": row.format,
            "algorithm": row.algorithm,
            "request_digest": canonical.to_hex(),
        }));
        let txn = db.begin().await.map_err(StoreError::from)?;
        db::insert_request(&txn, &row).await?;
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.request_view(row)
    }

    /// Creates a login-with-certificate request: the user signs a fresh 32-byte nonce.
    pub async fn create_login(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        target: Target,
        expires_in: Duration,
    ) -> Result<RequestView, SigningError> {
        let mut nonce = vec![0u8; 32];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SigningError::Random)?;
        let digest = Digest::of(&nonce);
        let new = NewRequest {
            target,
            purpose: Purpose::Login,
            content: Some(nonce),
            digests: vec![digest],
            display_text: format!("Sign in to {}", caller.institution.name),
            format: Format::Raw,
            algorithm: None,
            expires_in,
            webhook_url: None,
        };
        self.create_request(db, caller, new).await
    }

    /// A request of this institution (404 for any other's).
    pub async fn request_for(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        id: Uuid,
    ) -> Result<RequestView, SigningError> {
        let row = db::request(db, &id.to_string())
            .await?
            .filter(|r| r.institution_id == caller.institution.id)
            .ok_or(SigningError::NotFound)?;
        self.request_view(row)
    }

    fn request_view(&self, row: db::RequestRow) -> Result<RequestView, SigningError> {
        let now = self.clock.now();
        let parsed = Parsed::of(&row)?;
        let result = row
            .result
            .as_deref()
            .and_then(|r| serde_json::from_str::<SignedResult>(r).ok());
        Ok(RequestView {
            id: row.id,
            status: parsed.status.at(row.expires_at, now),
            purpose: parsed.purpose,
            certificate_id: row.certificate_id,
            display_text: row.display_text,
            digests: parsed.digests.iter().map(|d| d.to_b64()).collect(),
            format: parsed.format,
            algorithm: parsed.algorithm,
            request_digest: STANDARD.encode(&row.canonical_digest),
            created_at: row.created_at,
            expires_at: row.expires_at,
            decided_at: row.decided_at,
            nonce: (parsed.purpose == Purpose::Login)
                .then(|| row.content.as_deref().map(|c| STANDARD.encode(c)))
                .flatten(),
            result,
        })
    }

    // ----- approvals (users) -----

    /// The user's pending requests.
    pub async fn pending(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
    ) -> Result<Vec<ApprovalView>, SigningError> {
        let mut out = Vec::new();
        for row in db::pending_of_user(db, owner.as_str(), self.clock.now()).await? {
            out.push(self.approval_view(db, row).await?);
        }
        Ok(out)
    }

    /// One of the user's requests.
    pub async fn approval(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<ApprovalView, SigningError> {
        let row = self.own_request(db, owner, id).await?;
        self.approval_view(db, row).await
    }

    async fn approval_view(
        &self,
        db: &DatabaseConnection,
        row: db::RequestRow,
    ) -> Result<ApprovalView, SigningError> {
        let parsed = Parsed::of(&row)?;
        let inst = db::institution(db, &row.institution_id)
            .await?
            .ok_or(SigningError::InstitutionNotFound)?;
        Ok(ApprovalView {
            id: row.id,
            institution: InstitutionSummary {
                id: inst.id,
                name: inst.name,
                sector: inst.sector,
            },
            certificate_id: row.certificate_id,
            display_text: row.display_text,
            purpose: parsed.purpose,
            digest_count: parsed.digests.len(),
            digests: parsed.digests.iter().map(|d| d.to_b64()).collect(),
            format: parsed.format,
            algorithm: parsed.algorithm,
            request_digest: STANDARD.encode(&row.canonical_digest),
            status: parsed.status.at(row.expires_at, self.clock.now()),
            expires_at: row.expires_at,
        })
    }

    async fn own_request(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<db::RequestRow, SigningError> {
        db::request(db, &id.to_string())
            .await?
            .filter(|r| r.user_id == owner.as_str())
            .ok_or(SigningError::NotFound)
    }

    /// Loads a pending request of the user and re-checks everything that may have changed
    /// since it was made: still pending, consent still live, certificate still usable, and the
    /// stored content still hashing to the digest it was created with.
    async fn approvable(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<(db::RequestRow, Parsed, Uuid), SigningError> {
        let row = self.own_request(db, owner, id).await?;
        let parsed = Parsed::of(&row)?;
        let status = parsed.status.at(row.expires_at, self.clock.now());
        if status != Status::Pending {
            return Err(SigningError::NotPending(status.as_str()));
        }
        if parsed.canonical(&row)?.0.as_slice() != row.canonical_digest.as_slice() {
            tracing::error!(request = %row.id, "stored request no longer matches its digest");
            return Err(SigningError::Mismatch);
        }
        let inst = db::institution(db, &row.institution_id)
            .await?
            .ok_or(SigningError::NotFound)?;
        db::live_consent(db, &inst.id, &row.certificate_id)
            .await?
            .ok_or(SigningError::NotFound)?;
        let cert = store::pki::certificate_by_id(db, &row.certificate_id)
            .await?
            .ok_or(SigningError::NotFound)?;
        let sector = Sector::parse(&inst.sector).unwrap_or(Sector::Other);
        let key = self.check_usable(db, sector, &cert).await?;
        Ok((row, parsed, key))
    }

    /// Approves with the certificate's PIN. `request_digest` is the canonical digest the
    /// user's device showed and approved; it must equal the request's.
    pub async fn approve_with_pin(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        pin: &Pin,
        request_digest: &Digest,
    ) -> Result<RequestView, SigningError> {
        let (row, parsed, key) = self.approvable(db, owner, id).await?;
        if constant_time::verify_slices_are_equal(&request_digest.0, &row.canonical_digest).is_err()
        {
            self.approval_failed(db, owner, &row, "request digest mismatch")
                .await?;
            return Err(SigningError::Mismatch);
        }
        let count = u32::try_from(parsed.digests.len()).unwrap_or(u32::MAX);
        let activation = match self
            .custody
            .activate_with_pin(db, owner, key, pin, Some(count))
            .await
        {
            Ok(a) => a,
            Err(e) => {
                if matches!(e, CustodyError::WrongPin | CustodyError::PinLocked) {
                    self.approval_failed(db, owner, &row, "PIN").await?;
                }
                return Err(e.into());
            }
        };
        self.sign_and_commit(db, owner, row, parsed, activation.id, "pin")
            .await
    }

    /// Starts a passkey approval: a WebAuthn challenge that commits to the request's
    /// canonical digest, offered to the passkeys bound to the certificate's key.
    pub async fn start_passkey_approval(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<Started<webauthn_rs::prelude::RequestChallengeResponse>, SigningError> {
        let (row, _parsed, key) = self.approvable(db, owner, id).await?;
        let mut nonce = [0u8; 16];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SigningError::Random)?;
        let canonical = Digest::from_slice(&row.canonical_digest)?;
        let challenge = request::approval_challenge(&canonical, &nonce);
        let binding = format!("{}:{}", row.id, hex::encode(nonce));
        Ok(self
            .passkeys
            .start_bound_authentication(
                db,
                owner,
                &key.to_string(),
                APPROVE_CEREMONY,
                &binding,
                challenge,
            )
            .await?)
    }

    /// Finishes a passkey approval: the assertion must answer the challenge recomputed from
    /// the request as it is now, and the passkey must hold a copy of the key's data key.
    pub async fn approve_with_passkey(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        ceremony: &str,
        credential: &webauthn_rs::prelude::PublicKeyCredential,
    ) -> Result<RequestView, SigningError> {
        let (row, parsed, key) = self.approvable(db, owner, id).await?;
        let canonical = Digest::from_slice(&row.canonical_digest)?;
        // The ceremony was bound to "<request id>:<nonce>": it must be this request's, and
        // its challenge must be the one this request's digest (as stored now) gives.
        let expected = |binding: &str| {
            let (request_id, nonce) = binding.split_once(':')?;
            let nonce = hex::decode(nonce).ok()?;
            (request_id == row.id).then(|| request::approval_challenge(&canonical, &nonce))
        };
        let (signer, credential_id) = match self
            .passkeys
            .finish_bound_authentication(db, ceremony, APPROVE_CEREMONY, expected, credential)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.approval_failed(db, owner, &row, "passkey").await?;
                return Err(e.into());
            }
        };
        if signer != *owner {
            return Err(SigningError::NotFound);
        }
        let count = u32::try_from(parsed.digests.len()).unwrap_or(u32::MAX);
        let activation = self
            .custody
            .activate_with_passkey(db, owner, key, &credential_id, Some(count))
            .await?;
        self.sign_and_commit(db, owner, row, parsed, activation.id, "passkey")
            .await
    }

    /// The user declines a request.
    pub async fn reject(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<RequestView, SigningError> {
        let row = self.own_request(db, owner, id).await?;
        let now = self.clock.now();
        let event = NewEvent::new(owner.actor(), Action::SignatureRejected)
            .subject(row.id.clone())
            .details(json!({"institution": row.institution_id}));
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !db::decide(&txn, &row.id, Status::Rejected.as_str(), None, now).await? {
            let status = Parsed::of(&row)?.status.at(row.expires_at, now);
            return Err(SigningError::NotPending(status.as_str()));
        }
        store::audit::append(&txn, now, &[event]).await?;
        let mut decided = row.clone();
        decided.status = Status::Rejected.as_str().into();
        decided.decided_at = Some(now);
        let view = self.request_view(decided)?;
        self.enqueue_webhook(&txn, &row, "signature_request.rejected", &view, now)
            .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(view)
    }

    async fn approval_failed(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        row: &db::RequestRow,
        reason: &str,
    ) -> Result<(), SigningError> {
        let event = NewEvent::new(owner.actor(), Action::SignatureApprovalFailed)
            .subject(row.id.clone())
            .details(json!({"reason": reason}));
        store::audit::append(db, self.clock.now(), &[event]).await?;
        Ok(())
    }

    /// Signs every digest with the activation, wipes it, and commits the result, the request's
    /// change to `signed` (single-use), the audit event and the webhook in one transaction.
    /// Nothing is returned or kept unless that commit succeeds.
    async fn sign_and_commit(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        row: db::RequestRow,
        parsed: Parsed,
        activation: Uuid,
        amr: &str,
    ) -> Result<RequestView, SigningError> {
        let now = self.clock.now();
        let cert = store::pki::certificate_by_id(db, &row.certificate_id)
            .await?
            .ok_or(SigningError::NotFound)?;
        let chain = self.pki.chain_of(&cert.certificate_der);
        let signed = self.produce(
            owner,
            activation,
            &parsed,
            row.content.as_deref(),
            &cert.certificate_der,
            &chain,
            now,
        );
        self.custody.activations().remove(activation);
        let signatures = signed?;
        let result = SignedResult {
            signatures,
            certificate: STANDARD.encode(&cert.certificate_der),
            chain: chain.iter().map(|c| STANDARD.encode(c)).collect(),
            signed_at: now,
        };
        let result_json = serde_json::to_string(&result).map_err(|_| SigningError::Random)?;
        let event = NewEvent::new(owner.actor(), Action::SignatureCreated)
            .subject(row.id.clone())
            .details(json!({
                "institution": row.institution_id,
                "certificate": cert.serial_hex,
                "digests": parsed.digests.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
                "format": parsed.format.as_str(),
                "algorithm": parsed.algorithm.as_str(),
                "amr": amr,
            }));
        let mut decided = row.clone();
        decided.status = Status::Signed.as_str().into();
        decided.decided_at = Some(now);
        decided.result = Some(result_json.clone());
        let view = self.request_view(decided)?;
        let change = commit::Change::Decide {
            request_id: row.id.clone(),
            status: Status::Signed.as_str(),
            result: Some(result_json),
            delivery: webhook_delivery(&row, "signature_request.signed", &view, now).map(Box::new),
        };
        if !self.committer.commit(change, vec![event]).await? {
            return Err(SigningError::NotPending("decided"));
        }
        Ok(view)
    }

    /// The signatures (raw or CMS) of every digest, base64.
    #[allow(clippy::too_many_arguments)]
    fn produce(
        &self,
        owner: &OwnerId,
        activation: Uuid,
        parsed: &Parsed,
        content: Option<&[u8]>,
        cert_der: &[u8],
        chain: &[Vec<u8>],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, SigningError> {
        let scheme = parsed.algorithm.scheme();
        let chain: Vec<&[u8]> = chain.iter().take(1).map(Vec::as_slice).collect();
        parsed
            .digests
            .iter()
            .map(|d| {
                let out = match parsed.format {
                    Format::Raw => self.custody.sign_digest(owner, activation, scheme, &d.0)?,
                    Format::CmsAttached | Format::CmsDetached => {
                        let (attrs, der) = cms::signed_attributes(d, now)?;
                        let sig = self.custody.sign(owner, activation, scheme, &der)?;
                        let embed = (parsed.format == Format::CmsAttached)
                            .then_some(content)
                            .flatten();
                        cms::assemble(attrs, sig, parsed.algorithm, cert_der, &chain, embed)?
                    }
                };
                Ok(STANDARD.encode(out))
            })
            .collect()
    }

    async fn enqueue_webhook<C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
        row: &db::RequestRow,
        event: &str,
        view: &RequestView,
        now: DateTime<Utc>,
    ) -> Result<(), SigningError> {
        if let Some(d) = webhook_delivery(row, event, view, now) {
            db::insert_delivery(conn, &d, now).await?;
        }
        Ok(())
    }

    /// The delivery log of a request's webhooks (its institution only).
    pub async fn deliveries(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Vec<webhook::DeliveryView>, SigningError> {
        self.request_for(db, caller, id).await?;
        Ok(db::deliveries_of_request(db, &id.to_string())
            .await?
            .into_iter()
            .map(webhook::DeliveryView::from)
            .collect())
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Custody.
    pub fn custody(&self) -> &Arc<Custody> {
        &self.custody
    }

    /// The PKI.
    pub fn pki(&self) -> &Arc<Pki> {
        &self.pki
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
    let body = json!({"id": id, "event": event, "created_at": now, "request": view}).to_string();
    Some(db::DeliveryRow {
        id,
        institution_id: row.institution_id.clone(),
        request_id: row.id.clone(),
        url,
        body,
        status: "pending".into(),
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

/// The typed fields of a stored request.
struct Parsed {
    purpose: Purpose,
    status: Status,
    format: Format,
    algorithm: Algorithm,
    digests: Vec<Digest>,
}

impl Parsed {
    fn of(row: &db::RequestRow) -> Result<Self, SigningError> {
        let corrupt = || {
            SigningError::Store(StoreError::Corrupt {
                table: "signature_requests",
                problem: "unknown field value".into(),
            })
        };
        let digests: Vec<String> = serde_json::from_str(&row.digests).map_err(|_| corrupt())?;
        Ok(Self {
            purpose: Purpose::parse(&row.purpose).ok_or_else(corrupt)?,
            status: Status::parse(&row.status).ok_or_else(corrupt)?,
            format: Format::parse(&row.format).ok_or_else(corrupt)?,
            algorithm: Algorithm::parse(&row.algorithm).ok_or_else(corrupt)?,
            digests: digests
                .iter()
                .map(|d| Digest::parse_b64(d))
                .collect::<Result<_, _>>()
                .map_err(|_| corrupt())?,
        })
    }

    fn canonical(&self, row: &db::RequestRow) -> Result<Digest, SigningError> {
        let id = Uuid::parse_str(&row.id).map_err(|_| SigningError::NotFound)?;
        let certificate_id =
            Uuid::parse_str(&row.certificate_id).map_err(|_| SigningError::NotFound)?;
        Ok(Canonical {
            id,
            institution_id: &row.institution_id,
            certificate_id,
            purpose: self.purpose,
            display_text: &row.display_text,
            digests: &self.digests,
            format: self.format,
            algorithm: self.algorithm,
            expires_at: row.expires_at,
        }
        .digest())
    }
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
            sector: inst.sector.clone(),
        },
        certificate_id: row.certificate_id,
        created_at: row.created_at,
        withdrawn_at: row.withdrawn_at,
    }
}
