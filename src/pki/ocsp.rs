//! The OCSP responder (RFC 6960): parses requests, answers good / revoked / unknown for each
//! certificate asked about, echoes the nonce, and signs with the delegated responder key
//! (whose certificate, issued by the issuing CA with the OCSPSigning EKU, travels in the answer).

use aws_lc_rs::digest;
use chrono::{DateTime, Duration, Utc};
use const_oid::db::rfc5912::{ID_SHA_1, ID_SHA_256};
use der::{
    Decode, Encode,
    asn1::{BitString, GeneralizedTime, OctetString},
};
use sea_orm::DatabaseConnection;
use x509_cert::{
    Certificate, ext::Extension, serial_number::SerialNumber, spki::AlgorithmIdentifierOwned,
};
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    ResponderId, ResponseData, RevokedInfo, SingleResponse, Version,
};

use super::{Pki, PkiError, enc, lifecycle};
use crate::{
    domain::revocation_reason::CrlReason,
    store::{self, StoreError},
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

/// What OCSP says of a certificate row (none: not issued here).
fn status_of(row: Option<&store::pki::CertificateRow>) -> SerialStatus {
    let Some(row) = row else {
        return SerialStatus::Unknown;
    };
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

/// The SHA-1 certificate id (RFC 5019's profile, what every client computes first) of one of
/// the issuing CA's serials (lower-case hex of the DER integer's bytes).
fn cert_id_of(issuer: &IssuerHashes, serial: &str) -> Result<CertId, PkiError> {
    let bytes = hex::decode(serial).map_err(enc)?;
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: ID_SHA_1,
            parameters: Some(der::asn1::Null.into()),
        },
        issuer_name_hash: OctetString::new(issuer.name_sha1.clone()).map_err(enc)?,
        issuer_key_hash: OctetString::new(issuer.key_sha1.clone()).map_err(enc)?,
        serial_number: SerialNumber::new(&bytes).map_err(enc)?,
    })
}

impl Pki {
    /// A signed OCSP response (DER, no nonce) for one of the issuing CA's serials, its status
    /// read from the database now (never from a cache): what a signature's validation
    /// material carries.
    pub async fn ocsp_response_for_serial(
        &self,
        db: &DatabaseConnection,
        serial: &str,
    ) -> Result<Vec<u8>, PkiError> {
        let request = ParsedRequest {
            ids: vec![cert_id_of(&self.issuer_hashes, serial)?],
            nonce: None,
        };
        let row = store::pki::certificate_by_serial(db, serial).await?;
        let statuses = [status_of(row.as_ref())];
        let now = self.clock.now();
        let validity = Duration::minutes(i64::from(self.settings.ocsp_validity_minutes));
        let data = response_data(&request, &statuses, &self.responder.cert, now, validity)
            .ok_or_else(|| enc("OCSP times out of range"))?;
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

    /// Answers a DER OCSP request with a DER OCSP response (never fails: errors become
    /// `malformedRequest`, `tryLater` or `internalError` responses).
    pub async fn ocsp(&self, db: &DatabaseConnection, request: &[u8]) -> Vec<u8> {
        let Some(parsed) = parse_request(request) else {
            return malformed();
        };
        let now = self.clock.now();
        let mut statuses = Vec::with_capacity(parsed.ids.len());
        for id in &parsed.ids {
            let status = match serial_if_ours(&self.issuer_hashes, id) {
                None => SerialStatus::Unknown,
                Some(serial) => match store::pki::certificate_by_serial(db, &serial).await {
                    Err(StoreError::Unavailable(e)) => {
                        tracing::warn!(error = %e, "OCSP status read failed; answering tryLater");
                        return try_later();
                    }
                    Err(corrupt) => {
                        tracing::error!(error = %corrupt, "OCSP status read found a corrupt row");
                        return internal_error();
                    }
                    Ok(row) => status_of(row.as_ref()),
                },
            };
            statuses.push(status);
        }
        let validity = Duration::minutes(i64::from(self.settings.ocsp_validity_minutes));
        let Some(data) = response_data(&parsed, &statuses, &self.responder.cert, now, validity)
        else {
            return internal_error();
        };
        let Ok(tbs) = data.to_der() else {
            return internal_error();
        };
        let signer = self.responder.signer.clone();
        let signature = match signer.run_blocking(move |s| s.sign_message(&tbs)).await {
            Ok(Ok(sig)) => sig,
            _ => return try_later(),
        };
        assemble(
            data,
            signature,
            self.responder.signer.signature_oid(),
            &self.responder.cert,
        )
        .unwrap_or_else(|_| internal_error())
    }
}
