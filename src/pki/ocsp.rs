//! The OCSP responder (RFC 6960, with the RFC 5019 profile): parses requests, answers good /
//! revoked / unknown for each certificate asked about, and signs with the delegated responder
//! key (whose certificate, issued by the issuing CA with the OCSPSigning EKU, travels in the
//! answer).
//!
//! Answers for our own certificates are **pre-signed**: one signed single-certificate answer
//! per serial and CertID hash algorithm lives in `ocsp_responses` with the status it states.
//! A status change re-signs it in the changing transaction; the lifecycle job re-signs those
//! nearing their nextUpdate; and the responder serves a stored answer only while the status
//! it states is still the status of the certificate row it reads right after, signing a new
//! one otherwise. So no node reads "good" from the database once a revocation has committed,
//! whatever raced it. What a node read it keeps in memory ([`super::ocsp_cache`]) while the
//! issuer's status-change count stands still, so a repeated request reads nothing and a
//! revocation on any node reaches every node's answers within a second (about 200 ms).
//! Serials we never issued get a pre-signed "unknown" answer, kept the same way (bounded).
//!
//! Nonces: RFC 5019 §4 lets a responder answering from pre-signed responses ignore them, and
//! this one does for the single-certificate requests it serves pre-signed (nearly all
//! traffic). Requests it signs live (several certificates, or a CertID of another issuer or
//! hash) echo the nonce as before.

use aws_lc_rs::digest;
use chrono::{DateTime, Duration, Utc};
use const_oid::db::rfc5912::{ID_SHA_1, ID_SHA_256};
use der::{
    Decode, Encode,
    asn1::{BitString, GeneralizedTime},
};
use sea_orm::DatabaseConnection;
use x509_cert::{Certificate, ext::Extension, spki::AlgorithmIdentifierOwned};
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    ResponderId, ResponseData, RevokedInfo, SingleResponse, Version,
};

use super::{ISSUING, Pki, PkiError, enc, lifecycle, ocsp_cache::Kind};
use crate::{
    domain::revocation_reason::CrlReason,
    store::{self, StoreError, pki::CertificateRow, pki::OcspRow},
};

/// What the responder knows about a serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialStatus {
    /// Issued by this CA and valid.
    Good,
    /// Revoked (or on hold): when and why.
    Revoked {
        /// Revocation time.
        at: DateTime<Utc>,
        /// The reason (certificateHold for a suspended certificate).
        reason: CrlReason,
    },
    /// Not issued by this CA.
    Unknown,
}

/// The issuing CA as OCSP identifies it: hashes of its name and key.
pub struct IssuerHashes {
    name_sha1: Vec<u8>,
    key_sha1: Vec<u8>,
    name_sha256: Vec<u8>,
    key_sha256: Vec<u8>,
}

impl IssuerHashes {
    /// Computes the hashes from the issuing CA's certificate.
    pub fn of(issuer: &Certificate) -> Result<Self, der::Error> {
        let name = issuer.tbs_certificate.subject.to_der()?;
        let key = issuer
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        let h = |alg, data: &[u8]| digest::digest(alg, data).as_ref().to_vec();
        Ok(Self {
            name_sha1: h(&digest::SHA1_FOR_LEGACY_USE_ONLY, &name),
            key_sha1: h(&digest::SHA1_FOR_LEGACY_USE_ONLY, key),
            name_sha256: h(&digest::SHA256, &name),
            key_sha256: h(&digest::SHA256, key),
        })
    }

    /// The canonical CertID of one of our serials (hash parameters NULL, as openssl sends).
    fn cert_id(&self, hash: CertIdHash, serial: &[u8]) -> Result<CertId, der::Error> {
        let (name, key) = match hash {
            CertIdHash::Sha1 => (&self.name_sha1, &self.key_sha1),
            CertIdHash::Sha256 => (&self.name_sha256, &self.key_sha256),
        };
        Ok(CertId {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: hash.oid(),
                parameters: Some(der::asn1::Null.into()),
            },
            issuer_name_hash: der::asn1::OctetString::new(name.clone())?,
            issuer_key_hash: der::asn1::OctetString::new(key.clone())?,
            serial_number: x509_cert::serial_number::SerialNumber::new(serial)?,
        })
    }

    fn matches(&self, id: &CertId) -> bool {
        let (name, key) = if id.hash_algorithm.oid == ID_SHA_1 {
            (&self.name_sha1, &self.key_sha1)
        } else if id.hash_algorithm.oid == ID_SHA_256 {
            (&self.name_sha256, &self.key_sha256)
        } else {
            return false;
        };
        id.issuer_name_hash.as_bytes() == name.as_slice()
            && id.issuer_key_hash.as_bytes() == key.as_slice()
    }
}

/// The CertID hash algorithms the responder answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertIdHash {
    /// SHA-1 (what RFC 5019 clients and openssl send).
    Sha1,
    /// SHA-256.
    Sha256,
}

impl CertIdHash {
    fn of(id: &CertId) -> Option<Self> {
        if id.hash_algorithm.oid == ID_SHA_1 {
            Some(Self::Sha1)
        } else if id.hash_algorithm.oid == ID_SHA_256 {
            Some(Self::Sha256)
        } else {
            None
        }
    }

    fn oid(self) -> const_oid::ObjectIdentifier {
        match self {
            Self::Sha1 => ID_SHA_1,
            Self::Sha256 => ID_SHA_256,
        }
    }

    /// The name stored in `ocsp_responses.hash_alg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            _ => None,
        }
    }
}

/// What the status of a stored certificate row is, as OCSP states it.
fn status_of(row: &CertificateRow) -> SerialStatus {
    match row.status {
        lifecycle::CertStatus::Revoked | lifecycle::CertStatus::Suspended => {
            SerialStatus::Revoked {
                at: row.revoked_at.unwrap_or(row.updated_at),
                reason: row.revocation_reason.unwrap_or(CrlReason::Unspecified),
            }
        }
        lifecycle::CertStatus::Active | lifecycle::CertStatus::Expired => SerialStatus::Good,
    }
}

/// The status an answer states, as stored beside it: `good`, `revoked:<unix>:<reason code>`
/// (`unknown` answers are never stored).
pub fn status_key(status: SerialStatus) -> String {
    match status {
        SerialStatus::Good => "good".into(),
        SerialStatus::Revoked { at, reason } => {
            format!("revoked:{}:{}", at.timestamp(), reason.code())
        }
        SerialStatus::Unknown => "unknown".into(),
    }
}

/// An OCSP answer with the validity HTTP caching headers are computed from (`None` for the
/// error answers, which must not be cached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspAnswer {
    /// The OCSPResponse, DER.
    pub der: Vec<u8>,
    /// thisUpdate (= producedAt) of a successful answer.
    pub this_update: Option<DateTime<Utc>>,
    /// nextUpdate of a successful answer.
    pub next_update: Option<DateTime<Utc>>,
}

impl OcspAnswer {
    fn error(der: Vec<u8>) -> Self {
        Self {
            der,
            this_update: None,
            next_update: None,
        }
    }

    pub(super) fn stored(row: OcspRow) -> Self {
        Self {
            der: row.der,
            this_update: Some(row.this_update),
            next_update: Some(row.next_update),
        }
    }
}

/// A parsed request: the certificate ids asked about and the nonce extension, if any.
pub struct ParsedRequest {
    /// Ids in request order.
    pub ids: Vec<CertId>,
    nonce: Option<Extension>,
}

/// Parses a DER OCSP request; `None` if it is malformed or asks about nothing (or too much).
pub fn parse_request(der: &[u8]) -> Option<ParsedRequest> {
    let req = OcspRequest::from_der(der).ok()?;
    let ids: Vec<CertId> = req
        .tbs_request
        .request_list
        .iter()
        .map(|r| r.req_cert.clone())
        .collect();
    if ids.is_empty() || ids.len() > 20 {
        return None;
    }
    let nonce = req
        .tbs_request
        .request_extensions
        .as_ref()
        .and_then(|exts| {
            exts.iter()
                .find(|e| e.extn_id == const_oid::db::rfc6960::ID_PKIX_OCSP_NONCE)
                .cloned()
        })
        .filter(|e| e.extn_value.as_bytes().len() <= 64);
    Some(ParsedRequest { ids, nonce })
}

/// The serial a certificate id names, as lower-case hex without leading zeros stripped, if the
/// id names a certificate of this issuer.
pub fn serial_if_ours(issuer: &IssuerHashes, id: &CertId) -> Option<String> {
    issuer
        .matches(id)
        .then(|| hex::encode(id.serial_number.as_bytes()))
}

fn gt(t: DateTime<Utc>) -> Option<OcspGeneralizedTime> {
    let secs = u64::try_from(t.timestamp()).ok()?;
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .ok()
        .map(OcspGeneralizedTime)
}

/// Builds the to-be-signed response data.
pub fn response_data(
    request: &ParsedRequest,
    statuses: &[SerialStatus],
    responder: &Certificate,
    now: DateTime<Utc>,
    validity: Duration,
) -> Option<ResponseData> {
    let this_update = gt(now)?;
    let next_update = gt(now + validity)?;
    let mut responses = Vec::with_capacity(request.ids.len());
    for (id, status) in request.ids.iter().zip(statuses) {
        let cert_status = match status {
            SerialStatus::Good => CertStatus::good(),
            SerialStatus::Unknown => CertStatus::unknown(),
            SerialStatus::Revoked { at, reason } => CertStatus::revoked(RevokedInfo {
                revocation_time: gt(*at)?,
                revocation_reason: Some(reason.to_ocsp()),
            }),
        };
        responses.push(SingleResponse {
            cert_id: id.clone(),
            cert_status,
            this_update,
            next_update: Some(next_update),
            single_extensions: None,
        });
    }
    Some(ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByName(responder.tbs_certificate.subject.clone()),
        produced_at: this_update,
        responses,
        response_extensions: request.nonce.clone().map(|n| vec![n]),
    })
}

/// Wraps signed response data into a successful OCSP response (DER), with the responder
/// certificate attached.
pub fn assemble(
    data: ResponseData,
    signature: Vec<u8>,
    signature_oid: const_oid::ObjectIdentifier,
    responder: &Certificate,
) -> Result<Vec<u8>, der::Error> {
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: signature_oid,
            parameters: if signature_oid == const_oid::db::rfc5912::SHA_256_WITH_RSA_ENCRYPTION {
                Some(der::asn1::Null.into())
            } else {
                None
            },
        },
        signature: BitString::from_bytes(&signature)?,
        certs: Some(vec![responder.clone()]),
    };
    OcspResponse::successful(basic)?.to_der()
}

/// A `malformedRequest` response.
pub fn malformed() -> Vec<u8> {
    OcspResponse::malformed_request()
        .to_der()
        .unwrap_or_default()
}

/// An `internalError` response.
pub fn internal_error() -> Vec<u8> {
    OcspResponse::internal_error().to_der().unwrap_or_default()
}

/// A `tryLater` response.
pub fn try_later() -> Vec<u8> {
    OcspResponse::try_later().to_der().unwrap_or_default()
}

impl Pki {
    /// Answers a DER OCSP request with a DER OCSP response (never fails: errors become
    /// `malformedRequest`, `tryLater` or `internalError` responses).
    pub async fn ocsp(&self, db: &DatabaseConnection, request: &[u8]) -> Vec<u8> {
        self.ocsp_answer(db, request).await.der
    }

    /// Answers a DER OCSP request: a single serial under our issuing CA from memory or its
    /// pre-signed answer (an "unknown" one, pre-signed and kept in memory only, for a serial we
    /// never issued), anything else signed now. Never fails (errors become OCSP error answers).
    pub async fn ocsp_answer(&self, db: &DatabaseConnection, request: &[u8]) -> OcspAnswer {
        let Some(parsed) = parse_request(request) else {
            return OcspAnswer::error(malformed());
        };
        if let [id] = parsed.ids.as_slice()
            && let (Some(hash), Some(serial)) =
                (CertIdHash::of(id), serial_if_ours(&self.issuer_hashes, id))
        {
            return self.single_answer(db, hash, serial).await;
        }
        self.live_answer(db, &parsed).await
    }

    /// The answer for one serial under our issuing CA: from the node's cache while the
    /// issuer's change count stands still, else from the database (or signed now) and kept.
    async fn single_answer(
        &self,
        db: &DatabaseConnection,
        hash: CertIdHash,
        serial: String,
    ) -> OcspAnswer {
        let now = self.clock.now();
        let key = (serial, hash);
        if let Some(answer) = self.ocsp_cache.get(&key, now) {
            return answer;
        }
        // Tagged before the database is read: a change that commits after this counts past
        // the tag, so what is read now is dropped at the next poll at the latest.
        let tag = self.ocsp_cache.begin();
        let (kind, row) = match self.presigned_answer(db, hash, &key.0).await {
            Ok(Some(row)) => (Kind::Known, row),
            Ok(None) => match self.presign(hash, &key.0, SerialStatus::Unknown, now).await {
                Ok(row) => (Kind::Unknown, row),
                Err(e) => return OcspAnswer::error(error_answer(&e)),
            },
            Err(e) => return OcspAnswer::error(error_answer(&e)),
        };
        let answer = OcspAnswer::stored(row);
        self.ocsp_cache.put(kind, tag, key, answer.clone());
        answer
    }

    /// How many OCSP answers this node holds in memory: (for our certificates, "unknown").
    pub fn ocsp_cache_len(&self) -> (usize, usize) {
        self.ocsp_cache.len()
    }

    /// Reads the issuing CA's status-change count once, then every 200 ms until the returned
    /// task is aborted (the OCSP cache trusts nothing until the first read).
    pub async fn spawn_ocsp_cache_poller(
        &self,
        db: &DatabaseConnection,
    ) -> tokio::task::JoinHandle<()> {
        if let Err(e) = self.ocsp_cache.poll(db).await {
            tracing::warn!(error = %e, "revocation count not read; the OCSP cache waits for the poller");
        }
        self.ocsp_cache.spawn_poller(db.clone())
    }

    /// A DER OCSP response (SHA-1 CertID, the RFC 5019 profile) for one of our certificates by
    /// serial (hex), stating the status the database holds now: the stored answer if it states
    /// exactly that status and is fresh, else one signed now. `NotFound` if we issued no
    /// certificate with that serial. Never from the node's OCSP cache: the validation material
    /// with a signature must state the status as of that moment.
    pub async fn ocsp_response_for_serial(
        &self,
        db: &DatabaseConnection,
        serial: &str,
    ) -> Result<Vec<u8>, PkiError> {
        let serial = serial.to_ascii_lowercase();
        if serial.is_empty() || serial.len() > 64 || !serial.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(PkiError::NotFound);
        }
        self.presigned_answer(db, CertIdHash::Sha1, &serial)
            .await?
            .map(|row| row.der)
            .ok_or(PkiError::NotFound)
    }

    /// The stored answer for one of our serials if it states the status the certificate row
    /// has now and has over a quarter of its validity left; otherwise a freshly signed one,
    /// stored for the next request. `None` if the serial is not ours.
    ///
    /// The stored answer is read *before* the certificate row: a revocation that commits
    /// between the two reads is then seen in the row (and the answer re-signed), and one that
    /// commits before the first read is seen in both.
    async fn presigned_answer(
        &self,
        db: &DatabaseConnection,
        hash: CertIdHash,
        serial_hex: &str,
    ) -> Result<Option<OcspRow>, PkiError> {
        let stored = store::pki::ocsp_response(db, ISSUING, serial_hex, hash.as_str()).await?;
        let Some(cert) = store::pki::certificate_by_serial(db, serial_hex).await? else {
            return Ok(None);
        };
        if cert.issuer_id != ISSUING {
            return Ok(None);
        }
        let status = status_of(&cert);
        let now = self.clock.now();
        if let Some(row) = stored
            && row.cert_status == status_key(status)
            && super::ocsp_cache::servable_between(row.this_update, row.next_update, now)
        {
            return Ok(Some(row));
        }
        let row = self.presign(hash, serial_hex, status, now).await?;
        store::pki::upsert_ocsp_response(db, ISSUING, row.clone()).await?;
        Ok(Some(row))
    }

    /// Signs a single-certificate answer (no nonce) for one of our serials.
    pub(super) async fn presign(
        &self,
        hash: CertIdHash,
        serial_hex: &str,
        status: SerialStatus,
        now: DateTime<Utc>,
    ) -> Result<OcspRow, PkiError> {
        let serial = hex::decode(serial_hex).map_err(enc)?;
        let id = self.issuer_hashes.cert_id(hash, &serial).map_err(enc)?;
        let request = ParsedRequest {
            ids: vec![id],
            nonce: None,
        };
        let validity = self.ocsp_validity();
        let data = response_data(&request, &[status], &self.responder.cert, now, validity)
            .ok_or_else(|| enc("OCSP times out of range"))?;
        let der = self.sign_response(data).await?;
        let this_update = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        Ok(OcspRow {
            serial_hex: serial_hex.to_owned(),
            hash_alg: hash.as_str().to_owned(),
            cert_status: status_key(status),
            this_update,
            next_update: this_update + validity,
            der,
        })
    }

    /// The answer a status change is about to make true, signed before the change's
    /// transaction (which stores it); `None` (logged) if the responder key cannot sign now:
    /// the responder then re-signs on the next request, as the stored answer no longer
    /// states the certificate's status.
    pub(super) async fn presign_change(
        &self,
        serial_hex: &str,
        status: SerialStatus,
        now: DateTime<Utc>,
    ) -> Option<OcspRow> {
        match self
            .presign(CertIdHash::Sha1, serial_hex, status, now)
            .await
        {
            Ok(row) => Some(row),
            Err(e) => {
                tracing::warn!(error = %e, "OCSP answer not pre-signed; the responder signs it on demand");
                None
            }
        }
    }

    /// Inside a status change's transaction: stores the pre-signed answer and counts the
    /// change (the background CRL refresh regenerates the CRL when the count moved; every
    /// node's OCSP cache drops what it holds). The caller counts it once more for this process
    /// after the commit (`store::pki::count_committed_revocation_change`).
    pub(super) async fn record_status_change<C: sea_orm::ConnectionTrait>(
        &self,
        txn: &C,
        presigned: Option<OcspRow>,
    ) -> Result<(), PkiError> {
        if let Some(row) = presigned {
            store::pki::upsert_ocsp_response(txn, ISSUING, row).await?;
        }
        store::pki::bump_revocation_changes(txn, ISSUING).await?;
        Ok(())
    }

    /// Re-signs stored answers whose nextUpdate is less than half their validity away, from
    /// the certificate's status now (at most `limit` per call); returns how many.
    pub(super) async fn refresh_ocsp(
        &self,
        db: &DatabaseConnection,
        limit: u64,
    ) -> Result<usize, PkiError> {
        let now = self.clock.now();
        let due =
            store::pki::ocsp_responses_due(db, ISSUING, now + self.ocsp_validity() / 2, limit)
                .await?;
        let mut refreshed = 0;
        for (serial, hash) in due {
            let Some(hash) = CertIdHash::from_name(&hash) else {
                continue;
            };
            let Some(cert) = store::pki::certificate_by_serial(db, &serial).await? else {
                continue;
            };
            let row = self.presign(hash, &serial, status_of(&cert), now).await?;
            store::pki::upsert_ocsp_response(db, ISSUING, row).await?;
            refreshed += 1;
        }
        Ok(refreshed)
    }

    fn ocsp_validity(&self) -> Duration {
        Duration::minutes(i64::from(self.settings.ocsp_validity_minutes))
    }

    async fn sign_response(&self, data: ResponseData) -> Result<Vec<u8>, PkiError> {
        let tbs = data.to_der().map_err(enc)?;
        let signer = self.responder.signer.clone();
        let signature = signer.run_blocking(move |s| s.sign_message(&tbs)).await??;
        assemble(
            data,
            signature,
            self.responder.signer.signature_oid(),
            &self.responder.cert,
        )
        .map_err(enc)
    }

    /// Signs an answer now for whatever the request asks (several certificates, or ones we
    /// did not issue), echoing its nonce.
    async fn live_answer(&self, db: &DatabaseConnection, parsed: &ParsedRequest) -> OcspAnswer {
        let now = self.clock.now();
        let mut statuses = Vec::with_capacity(parsed.ids.len());
        for id in &parsed.ids {
            let status = match serial_if_ours(&self.issuer_hashes, id) {
                None => SerialStatus::Unknown,
                Some(serial) => match store::pki::certificate_by_serial(db, &serial).await {
                    Err(e) => return OcspAnswer::error(error_answer(&e.into())),
                    Ok(None) => SerialStatus::Unknown,
                    Ok(Some(row)) if row.issuer_id != ISSUING => SerialStatus::Unknown,
                    Ok(Some(row)) => status_of(&row),
                },
            };
            statuses.push(status);
        }
        let validity = self.ocsp_validity();
        let Some(data) = response_data(parsed, &statuses, &self.responder.cert, now, validity)
        else {
            return OcspAnswer::error(internal_error());
        };
        match self.sign_response(data).await {
            Ok(der) => {
                let this = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
                OcspAnswer {
                    der,
                    this_update: Some(this),
                    next_update: Some(this + validity),
                }
            }
            Err(e) => OcspAnswer::error(error_answer(&e)),
        }
    }
}

/// The OCSP error answer for a failure: `tryLater` when the database or the responder key is
/// unavailable, `internalError` for a corrupt row or an encoding bug.
fn error_answer(e: &PkiError) -> Vec<u8> {
    match e {
        PkiError::Store(StoreError::Unavailable(e)) => {
            tracing::warn!(error = %e, "OCSP status read failed; answering tryLater");
            try_later()
        }
        PkiError::Signer(e) => {
            tracing::warn!(error = %e, "OCSP responder key could not sign; answering tryLater");
            try_later()
        }
        other => {
            tracing::error!(error = %other, "OCSP answer failed");
            internal_error()
        }
    }
}
