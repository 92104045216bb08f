//! The domain side of the Cloud Signature Consortium API (`/csc/v1`, `/csc/v2`): credentials
//! are the certificates users registered with the calling institution (the same consents as
//! the native API), `authorize` checks the PIN and activates the key for exactly the given
//! hashes and count, and `signHash` spends that authorization.
//!
//! The SAD is 256 random bits, stored only as its SHA-256, bound to one institution, one
//! credential and its hashes, and it expires with the key activation behind it.
//!
//! **Any node serves any SAD.** The activation lives in the cluster as an *activation record*
//! in the SAD's row (`custody::record`): a node that meets a SAD it does not hold opens the
//! record once (one KMS call) and keeps the parsed key for the rest of the window. Losing the
//! node that authorized loses nothing, and no sticky routing is needed.
//!
//! **Exact under any concurrency.** Each authorized hash signs once across the cluster: a
//! signHash signs in memory, then its group commit stores the signature under the primary key
//! (activation, hash). A call that loses that race consumes nothing and answers with the
//! winner's signature; so does a retry of a hash already signed (a client that timed out gets
//! the signature it missed, never a second one). A SAD for N distinct hashes therefore yields
//! exactly N signatures, whatever the concurrency, node mix or retries.
//!
//! **The hot path** (an activated key, a known SAD): the token, the institution, the SAD row
//! and the authorization table come from this node's caches (`checks`), so a signature costs
//! one RSA/ECDSA operation and its share of one group commit, and no KMS call.

use std::sync::Arc;

use aws_lc_rs::rand::SecureRandom;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    Caller, Signing, SigningError, ValidationInfo,
    commit::SpendForm,
    request::{Algorithm, AlgorithmExt as _, Digest, Format, Target},
};
use crate::{
    audit::{Action, NewEvent},
    custody::{CustodyError, OwnerId},
    domain::pin::Pin,
    store::{self, StoreError, signing as db},
};

/// What went wrong with a SAD, as CSC describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SadProblem {
    /// Unknown, another institution's or another credential's.
    Invalid,
    /// Past its lifetime (or its activation is gone).
    Expired,
    /// A hash it does not authorize (or one already signed).
    HashNotAuthorized,
    /// More signatures than it has left.
    Exhausted,
    /// A hash it authorizes was signed before by the other method (signHash or signDoc).
    OtherForm,
}

impl SadProblem {
    /// The CSC `error_description`.
    pub fn description(self) -> &'static str {
        match self {
            Self::Invalid => "Invalid parameter SAD",
            Self::Expired => "SAD expired",
            Self::HashNotAuthorized => "Hash is not authorized by the SAD",
            Self::Exhausted => "Numbers of signatures is too high",
            Self::OtherForm => "Hash was already signed by the other signing method",
        }
    }
}

pub(super) fn sad_hash(sad: &str) -> String {
    Digest::of(sad.as_bytes()).to_hex()
}

/// A SAD as this node knows it (immutable facts of its row; spends are in the database).
#[derive(Debug)]
pub struct SadEntry {
    sad_hash: String,
    institution_id: String,
    certificate_id: String,
    owner: OwnerId,
    activation: Uuid,
    hashes: Vec<String>,
    expires_at: chrono::DateTime<chrono::Utc>,
    key_id: Option<Uuid>,
    record: Option<Vec<u8>>,
}

impl From<db::SadRow> for SadEntry {
    fn from(row: db::SadRow) -> Self {
        Self {
            hashes: row.hashes,
            owner: row.user_id,
            activation: row.activation_id,
            key_id: row.key_id,
            sad_hash: row.sad_hash,
            institution_id: row.institution_id,
            certificate_id: row.certificate_id,
            expires_at: row.expires_at,
            record: row.record,
        }
    }
}

impl SadEntry {
    fn record_of(&self, key_id: Uuid) -> crate::custody::record::RecordOf {
        crate::custody::record::RecordOf {
            owner: self.owner.clone(),
            key_id,
            activation: self.activation,
            expires_at: self.expires_at,
        }
    }
}

/// A spend of a SAD, as signHash and signDoc ask for it.
struct Spend<'a> {
    credential_id: &'a str,
    sad: &'a str,
    hashes: &'a [Digest],
    algorithm: Algorithm,
    material: bool,
    form: SpendForm,
}

/// The SAD's random bytes (what the record's outer key is derived from).
pub(super) fn sad_bytes(sad: &str) -> Option<Zeroizing<Vec<u8>>> {
    B64URL
        .decode(sad)
        .ok()
        .filter(|b| b.len() == 32)
        .map(Zeroizing::new)
}

/// Most SAD rows a node keeps in memory before it starts again.
const MAX_CACHED_SADS: usize = 100_000;

impl Signing {
    fn cached_sad(&self, hash: &str) -> Option<Arc<SadEntry>> {
        let now = self.clock.now();
        let mut sads = self.sads.lock().unwrap_or_else(|p| p.into_inner());
        match sads.get(hash) {
            Some(e) if now < e.expires_at => Some(e.clone()),
            Some(_) => {
                sads.remove(hash);
                None
            }
            None => None,
        }
    }

    fn remember_sad(&self, entry: Arc<SadEntry>) {
        let now = self.clock.now();
        let mut sads = self.sads.lock().unwrap_or_else(|p| p.into_inner());
        if sads.len() >= MAX_CACHED_SADS {
            sads.retain(|_, e| now < e.expires_at);
            if sads.len() >= MAX_CACHED_SADS {
                sads.clear();
            }
        }
        sads.insert(entry.sad_hash.clone(), entry);
    }

    pub(super) fn forget_sad(&self, hash: &str) {
        self.sads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hash);
    }

    /// The SAD row behind `hash`: from this node's memory, or read once.
    async fn sad_entry(&self, hash: &str) -> Result<Option<Arc<SadEntry>>, SigningError> {
        // A read: on a reader beside the writer (SQLite WAL), not queued behind a commit.
        let db = &self.reads;
        if let Some(e) = self.cached_sad(hash) {
            return Ok(Some(e));
        }
        let Some(row) = db::sad(db, hash).await? else {
            return Ok(None);
        };
        let entry = Arc::new(SadEntry::from(row));
        self.remember_sad(entry.clone());
        Ok(Some(entry))
    }

    /// The institution a live SAD (a credential token) was issued to: from this node's memory,
    /// or its row read once. A token revoked on another node may still name its institution
    /// here until its entry expires; its spends fail all the same (they are conditional on
    /// the row).
    pub(super) async fn sad_institution(&self, sad: &str) -> Result<Option<String>, SigningError> {
        let Some(entry) = self.sad_entry(&sad_hash(sad)).await? else {
            return Ok(None);
        };
        Ok((self.clock.now() < entry.expires_at).then(|| entry.institution_id.clone()))
    }

    /// A credential the institution may use: its certificate row and key algorithm.
    pub async fn csc_credential(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        credential_id: &str,
    ) -> Result<
        (
            store::pki::CertificateRow,
            crate::custody::keys::KeyAlgorithm,
            bool,
        ),
        SigningError,
    > {
        let id = Uuid::parse_str(credential_id).map_err(|_| SigningError::NotFound)?;
        db::live_consent(db, &caller.institution.id, &id.to_string())
            .await?
            .ok_or(SigningError::NotFound)?;
        let cert = store::pki::certificate_by_id(db, &id.to_string())
            .await?
            .filter(|c| caller.user.as_ref().is_none_or(|u| c.owner_id == *u))
            .ok_or(SigningError::NotFound)?;
        let (_, algorithm, locked) = self.cloud_key(db, &cert).await?;
        Ok((cert, algorithm, locked))
    }

    /// The passkey copies of a credential's key, and how many need their authenticator's PRF
    /// (`credentials/info.passkeys`); none for a key on the holder's device.
    pub async fn csc_passkey_copies(
        &self,
        db: &DatabaseConnection,
        cert: &store::pki::CertificateRow,
    ) -> Result<(u32, u32), SigningError> {
        match cert.custody_key_id {
            Some(key) => Ok(self.custody.passkey_copies(db, key).await?),
            None => Ok((0, 0)),
        }
    }

    /// `credentials/authorize`: checks the PIN (with lockout) and the authorization table,
    /// activates the key for `hashes` as a cluster authorization, and returns a SAD with its
    /// lifetime in seconds (inside the renewal window the PIN also renews the certificate). `hashes` are distinct (the caller checks).
    pub async fn csc_authorize(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        credential_id: Uuid,
        num_signatures: u32,
        hashes: &[Digest],
        pin: &Pin,
    ) -> Result<(String, i64), SigningError> {
        caller.require("sign")?;
        let (cert, key, _algorithm) = self
            .resolve(caller, &Target::Certificate(credential_id), None)
            .await?;
        let key = key.ok_or(SigningError::DeviceKey)?;
        let owner = cert.owner_id.clone();
        let mut raw = Zeroizing::new([0u8; 32]);
        self.rng
            .fill(raw.as_mut())
            .map_err(|_| SigningError::Random)?;
        let sad = B64URL.encode(raw.as_ref());
        let (activation, record) = self
            .custody
            .activate_for_sad(
                db,
                &owner,
                key,
                crate::custody::Unlock::Pin(pin),
                raw.as_ref(),
                num_signatures,
            )
            .await?;
        let now = self.clock.now();
        let row = db::SadRow {
            sad_hash: sad_hash(&sad),
            institution_id: caller.institution.id.clone(),
            certificate_id: cert.id.to_string(),
            user_id: owner.clone(),
            activation_id: activation.id,
            hashes: hashes.iter().map(|d| d.to_b64()).collect(),
            remaining: i32::try_from(num_signatures).unwrap_or(0),
            expires_at: activation.expires_at,
            key_id: Some(key),
            record: Some(record),
        };
        let event = NewEvent::new(owner.actor(), Action::SignatureRequested)
            .subject(cert.serial_hex.clone())
            .details(json!({
                "via": "csc",
                "institution": caller.institution.id,
                "activation": activation.id.to_string(),
                "digests": hashes.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
                "num_signatures": num_signatures,
            }));
        let stored = async {
            let txn = db.begin().await.map_err(StoreError::from)?;
            db::insert_sad(&txn, &row, now).await?;
            store::audit::append_within(&txn, now, &[event]).await?;
            txn.commit().await.map_err(StoreError::from)?;
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(e) = stored {
            self.custody.activations().remove(activation.id);
            return Err(e.into());
        }
        self.remember_sad(Arc::new(SadEntry::from(row)));
        // The holder's PIN authorised this: inside the renewal window it also renews the
        // certificate (their setting on; `pki::auto_renew`). The SAD stays bound to the current
        // key, which signs until it expires; the CSC answer has no field for the successor
        // (the holder sees it in the portal and the audit log has it).
        self.renew_on_use(db, &owner, cert.id, pin).await;
        Ok((sad, (activation.expires_at - now).num_seconds().max(1)))
    }

    /// `signatures/signHash`: spends the SAD on `hashes` and signs each with `algorithm`;
    /// a hash signed before answers with its stored signature. With `material`, the
    /// signer's validation material comes with them, built after the spend's commit.
    #[allow(clippy::too_many_arguments)]
    pub async fn csc_sign_hash(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        credential_id: &str,
        sad: &str,
        hashes: &[Digest],
        algorithm: Algorithm,
        material: bool,
    ) -> Result<Result<(Vec<Vec<u8>>, Option<ValidationInfo>), SadProblem>, SigningError> {
        let spend = Spend {
            credential_id,
            sad,
            hashes,
            algorithm,
            material,
            form: SpendForm::Raw,
        };
        self.csc_spend(db, caller, spend).await
    }

    /// `signatures/signDoc` in CAdES: spends the SAD on `digests` (each the SHA-256 of a
    /// document, authorized as a hash) and answers, for each, a detached CMS SignedData
    /// (CAdES-B-B: content-type, message-digest, signing-time, signing-certificate-v2) signed
    /// with `algorithm`, with the issuing CA beside the signer's certificate. A digest signed
    /// before answers with its stored CMS; one signed by signHash is refused.
    #[allow(clippy::too_many_arguments)]
    pub async fn csc_sign_doc(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        credential_id: &str,
        sad: &str,
        digests: &[Digest],
        algorithm: Algorithm,
        material: bool,
    ) -> Result<Result<(Vec<Vec<u8>>, Option<ValidationInfo>), SadProblem>, SigningError> {
        let spend = Spend {
            credential_id,
            sad,
            hashes: digests,
            algorithm,
            material,
            form: SpendForm::Cades,
        };
        self.csc_spend(db, caller, spend).await
    }

    /// What signHash and signDoc share: the SAD's checks, the activation, the signatures made
    /// in memory, then the spend in the next group commit.
    async fn csc_spend(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        Spend {
            credential_id,
            sad,
            hashes,
            algorithm,
            material,
            form,
        }: Spend<'_>,
    ) -> Result<Result<(Vec<Vec<u8>>, Option<ValidationInfo>), SadProblem>, SigningError> {
        caller.require("sign")?;
        let now = self.clock.now();
        let hash = sad_hash(sad);
        let Some(entry) = self.sad_entry(&hash).await? else {
            return Ok(Err(SadProblem::Invalid));
        };
        if entry.institution_id != caller.institution.id || entry.certificate_id != credential_id {
            return Ok(Err(SadProblem::Invalid));
        }
        if now >= entry.expires_at {
            return Ok(Err(SadProblem::Expired));
        }
        if hashes.len() > entry.hashes.len() {
            return Ok(Err(SadProblem::Exhausted));
        }
        let wanted: Vec<String> = hashes.iter().map(|d| d.to_b64()).collect();
        for (i, h) in wanted.iter().enumerate() {
            // Each authorized hash signs once: a hash twice in one call is not authorized.
            if !entry.hashes.contains(h) || wanted[..i].contains(h) {
                return Ok(Err(SadProblem::HashNotAuthorized));
            }
        }
        let (Some(key_id), Some(record), Some(secret)) =
            (entry.key_id, entry.record.as_deref(), sad_bytes(sad))
        else {
            // A SAD from before activation records lived in one node's memory only.
            return Ok(Err(SadProblem::Expired));
        };
        // The world may have changed since authorize: consent, certificate, PIN lock.
        let usable = self
            .usable_for(&caller.institution, &entry.certificate_id)
            .await?;
        if algorithm.scheme().key_algorithm() != usable.algorithm {
            return Err(SigningError::Algorithm(algorithm.as_str()));
        }
        match self
            .custody
            .ensure_sad_activation(db, &entry.record_of(key_id), &secret, record)
            .await
        {
            Ok(()) => {}
            Err(CustodyError::Activation(_)) => return Ok(Err(SadProblem::Expired)),
            Err(CustodyError::Integrity) => {
                tracing::error!(activation = %entry.activation, "activation record does not open with its SAD");
                return Ok(Err(SadProblem::Invalid));
            }
            Err(e) => return Err(e.into()),
        }
        // Sign first (nothing leaves before the commit), then spend with the audit event in
        // the next group commit; a spend that loses the race answers with the stored one.
        let metric_format = match form {
            SpendForm::Raw => Format::Raw,
            SpendForm::Cades => Format::CmsDetached,
        };
        let chain = match form {
            SpendForm::Raw => Vec::new(),
            // The issuing CA (or a registered certificate's own intermediates): the root is
            // the relying party's trust anchor and never comes from a signature.
            SpendForm::Cades => self
                .pki
                .chain_of(usable.foreign_chain.as_deref().map(Vec::as_slice)),
        };
        let mut spend = Vec::with_capacity(hashes.len());
        for (h, b64) in hashes.iter().zip(wanted) {
            match self.produce_for_sad(&entry, &usable, algorithm, form, &chain, h, now) {
                Ok(sig) => spend.push((b64, sig)),
                Err(SigningError::Custody(CustodyError::Activation(_))) => {
                    return Ok(Err(SadProblem::Expired));
                }
                Err(e) => {
                    let failed = crate::metrics::SignatureResult::Failed;
                    self.signatures
                        .observe(algorithm, metric_format, failed, hashes.len());
                    return Err(e);
                }
            }
        }
        let event = NewEvent::new(entry.owner.actor(), Action::SignatureCreated)
            .subject(usable.serial_hex.clone())
            .details(json!({
                "via": "csc",
                "institution": caller.institution.id,
                "activation": entry.activation.to_string(),
                "algorithm": algorithm.as_str(),
                "form": form.as_str(),
            }));
        let change = super::commit::Change::SpendSad {
            activation_id: entry.activation.to_string(),
            sad_hash: hash.clone(),
            spend,
            form,
            event: Box::new(event),
        };
        let committed = self.committer.commit(change, Vec::new()).await;
        self.signatures.observe(
            algorithm,
            metric_format,
            match &committed {
                Ok(super::commit::Outcome::Spent(_)) => crate::metrics::SignatureResult::Ok,
                Ok(_) => crate::metrics::SignatureResult::Refused,
                Err(_) => crate::metrics::SignatureResult::Failed,
            },
            hashes.len(),
        );
        match committed? {
            super::commit::Outcome::Spent(signatures) => {
                // After the commit, from the database: a revocation that won the race shows.
                let info = if material {
                    Some(
                        self.validation_info(
                            db,
                            &usable.certificate_der,
                            &usable.serial_hex,
                            usable.foreign_chain.as_deref().map(Vec::as_slice),
                        )
                        .await?,
                    )
                } else {
                    None
                };
                Ok(Ok((signatures, info)))
            }
            super::commit::Outcome::OtherForm => Ok(Err(SadProblem::OtherForm)),
            _ => {
                // Replaced (extendTransaction on some node), expired or gone meanwhile.
                self.forget_sad(&hash);
                Ok(Err(match db::sad(db, &hash).await? {
                    Some(row) if now >= row.expires_at => SadProblem::Expired,
                    _ => SadProblem::Invalid,
                }))
            }
        }
    }

    /// One authorized hash's output in `form`: the signature over the hash itself, or a
    /// detached CAdES-B-B SignedData whose message-digest it is, signed at `now`.
    #[allow(clippy::too_many_arguments)]
    fn produce_for_sad(
        &self,
        entry: &SadEntry,
        usable: &super::Usable,
        algorithm: Algorithm,
        form: SpendForm,
        chain: &[Vec<u8>],
        hash: &Digest,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<u8>, SigningError> {
        let scheme = algorithm.scheme();
        Ok(match form {
            SpendForm::Raw => {
                self.custody
                    .sign_digest(&entry.owner, entry.activation, scheme, hash.as_bytes())?
            }
            SpendForm::Cades => {
                let cert = usable.certificate_der.as_slice();
                let (attrs, der) = super::cms::signed_attributes(hash, Some(now), cert)?;
                let sig = self
                    .custody
                    .sign(&entry.owner, entry.activation, scheme, &der)?;
                let chain: Vec<&[u8]> = chain.iter().take(1).map(Vec::as_slice).collect();
                super::cms::assemble(attrs, sig, algorithm, cert, &chain, None)?
            }
        })
    }

    /// `credentials/extendTransaction`: a new SAD for the rest of the same authorization; the
    /// old one stops working. The lifetime stays bounded by the key activation, and only the
    /// record's outer layer is re-sealed (no KMS call).
    pub async fn csc_extend(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        credential_id: &str,
        sad: &str,
    ) -> Result<Result<(String, i64), SadProblem>, SigningError> {
        let now = self.clock.now();
        let old_hash = sad_hash(sad);
        let Some(row) = db::sad(db, &old_hash).await? else {
            return Ok(Err(SadProblem::Invalid));
        };
        if row.institution_id != caller.institution.id || row.certificate_id != credential_id {
            return Ok(Err(SadProblem::Invalid));
        }
        if now >= row.expires_at {
            return Ok(Err(SadProblem::Expired));
        }
        let entry = SadEntry::from(row);
        let spent = db::spent_count(db, &entry.activation.to_string()).await?;
        if spent >= i64::try_from(entry.hashes.len()).unwrap_or(i64::MAX) {
            // Nothing left to authorize.
            return Ok(Err(SadProblem::Expired));
        }
        let (Some(key_id), Some(record), Some(old_secret)) =
            (entry.key_id, entry.record.as_deref(), sad_bytes(sad))
        else {
            return Ok(Err(SadProblem::Expired));
        };
        let mut raw = Zeroizing::new([0u8; 32]);
        self.rng
            .fill(raw.as_mut())
            .map_err(|_| SigningError::Random)?;
        let fresh = B64URL.encode(raw.as_ref());
        let resealed = match self.custody.reseal_record(
            &entry.record_of(key_id),
            &old_secret,
            raw.as_ref(),
            record,
        ) {
            Ok(r) => r,
            Err(CustodyError::Integrity) => return Ok(Err(SadProblem::Invalid)),
            Err(e) => return Err(e.into()),
        };
        if !db::rekey_sad(db, &old_hash, &sad_hash(&fresh), &resealed).await? {
            return Ok(Err(SadProblem::Invalid));
        }
        self.forget_sad(&old_hash);
        Ok(Ok((fresh, (entry.expires_at - now).num_seconds().max(1))))
    }
}
