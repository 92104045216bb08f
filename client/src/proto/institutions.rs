//! The institution side of remote signing (`src/api/institutions.rs`): the vocabulary of a
//! signature request ([`Purpose`], [`Format`], [`Algorithm`], [`Status`]), the request bodies
//! of `POST /v1/signature-requests`, `/v1/login-requests` and `/v1/verify`, and what the
//! institution reads back: requests and their results, the certificates consented to it,
//! webhook deliveries and the webhook event itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::names;

/// What the signature is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// A document or transaction signature.
    Sign,
    /// Login with certificate: a server-chosen nonce.
    Login,
}

/// The output the institution wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A bare signature over each digest.
    Raw,
    /// CMS SignedData holding the content.
    CmsAttached,
    /// CMS SignedData over a digest, without the content.
    CmsDetached,
    /// CMS SignedData for a PDF signature (PAdES baseline B, sub-filter ETSI.CAdES.detached):
    /// as `CmsDetached`, without the signing-time attribute (ETSI EN 319 142-1 leaves the time
    /// to the signature dictionary's `M` entry).
    CmsPades,
}

/// The signature algorithm (it must match the certificate's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsaPkcs1Sha256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32.
    RsaPssSha256,
    /// ECDSA P-256 with SHA-256 (DER signature).
    EcdsaP256Sha256,
}

/// The request's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for the user.
    Pending,
    /// Approved and signed; the result is available.
    Signed,
    /// The user declined.
    Rejected,
    /// Nobody decided in time.
    Expired,
}

names!(Purpose { Sign => "sign", Login => "login" });
names!(Format { Raw => "raw", CmsAttached => "cms-attached", CmsDetached => "cms-detached", CmsPades => "cms-pades" });
names!(Algorithm {
    RsaPkcs1Sha256 => "rsa-pkcs1-sha256",
    RsaPssSha256 => "rsa-pss-sha256",
    EcdsaP256Sha256 => "ecdsa-p256-sha256",
});
names!(Status { Pending => "pending", Signed => "signed", Rejected => "rejected", Expired => "expired" });

impl Status {
    /// The status in force at `now` (a pending request past its expiry is expired).
    pub fn at(self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if self == Self::Pending && now >= expires_at {
            Self::Expired
        } else {
            self
        }
    }
}

/// A request as an institution sends it (wire form).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequestBody {
    /// The certificate to sign with; or
    pub certificate_id: Option<Uuid>,
    /// the user (their reference at this institution): their newest consented certificate.
    pub user_ref: Option<String>,
    /// Content to sign (base64), for `cms-attached` or instead of digests; or
    pub content: Option<String>,
    /// SHA-256 digests (base64), one signature each.
    pub digests: Option<Vec<String>>,
    /// What the user is shown before approving (amount, payee, purpose).
    pub display_text: String,
    /// Output format (default `raw`).
    pub format: Option<Format>,
    /// Signature algorithm (default: by key type).
    pub algorithm: Option<Algorithm>,
    /// Seconds until the request expires (30..=900, default 300); an integral JSON number
    /// written as a float (`270.0`) counts, as JSON Schema's `integer` says.
    #[serde(default, deserialize_with = "integral_seconds")]
    pub expires_in: Option<i64>,
    /// Where to deliver the result.
    pub webhook_url: Option<String>,
}

/// A consented certificate as its institution sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentedCertificate {
    /// The certificate.
    pub certificate_id: String,
    /// The holder's reference at this institution (stable, meaningless elsewhere).
    pub user_ref: String,
    /// Subject common name.
    pub subject: String,
    /// Serial (hex).
    pub serial: String,
    /// Kind.
    pub kind: String,
    /// Usage.
    pub usage: String,
    /// Status in force.
    pub status: String,
    /// Validity end.
    pub not_after: DateTime<Utc>,
    /// The certificate, base64 DER.
    pub certificate: String,
}

/// What a signed request produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedResult {
    /// One per digest: a raw signature, or a CMS `ContentInfo` (DER), base64.
    pub signatures: Vec<String>,
    /// The signer certificate, base64 DER.
    pub certificate: String,
    /// The issuing chain, base64 DER, leaf's issuer first.
    pub chain: Vec<String>,
    /// When it was signed.
    pub signed_at: DateTime<Utc>,
    /// The validation material of the signer certificate, built when the result is read
    /// (after the signature's commit); absent in stored results, and in webhook bodies unless
    /// the institution is opted in (then built at each delivery attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_info: Option<ValidationInfo>,
}

/// Validation material for long-term validation (PAdES-B-LT, CAdES-LT): every item base64
/// DER. The field names are CSC 2.0.0.2's `validationInfo` object, so the native API and
/// `/csc/v2` answer the same shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationInfo {
    /// The signer certificate, the issuing CA, the root, then the OCSP responder.
    pub certificates: Vec<String>,
    /// The CRLs (`CertificateList`) of the CA levels.
    pub crl: Vec<String>,
    /// OCSP responses (`OCSPResponse`) for the signer certificate.
    pub ocsp: Vec<String>,
}

/// A signature request as its institution sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestView {
    /// Id.
    pub id: String,
    /// Status in force.
    pub status: Status,
    /// Sign or login.
    pub purpose: Purpose,
    /// The certificate.
    pub certificate_id: String,
    /// Display text.
    pub display_text: String,
    /// Digests (base64).
    pub digests: Vec<String>,
    /// Format.
    pub format: Format,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// The canonical digest an approval commits to (base64).
    pub request_digest: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expires.
    pub expires_at: DateTime<Utc>,
    /// Decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// The login nonce (base64), for login requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The result, once signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<SignedResult>,
}

/// A login-with-certificate request (`POST /v1/login-requests`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The certificate; or
    pub certificate_id: Option<Uuid>,
    /// the user's reference at this institution.
    pub user_ref: Option<String>,
    /// Seconds until it expires (30..=900); `270.0` counts as `270`.
    #[serde(default, deserialize_with = "integral_seconds")]
    pub expires_in: Option<i64>,
}

/// An optional whole number of seconds: a JSON integer, or a float with no fractional part
/// (JSON Schema's `integer` admits `270.0`); anything else is refused.
fn integral_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error as _;
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Ok(Some(f as i64)),
                _ => Err(D::Error::custom(
                    "expires_in must be a whole number of seconds",
                )),
            }
        }
    }
}

/// A verification request (`POST /v1/verify`): base64 fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// The signer certificate (DER).
    pub certificate: String,
    /// The signature.
    pub signature: String,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// What was signed; or
    pub content: Option<String>,
    /// its SHA-256.
    pub digest: Option<String>,
}

/// The verdict of `POST /v1/verify`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Signature valid, chain valid and status good.
    pub valid: bool,
    /// The signature verifies under the certificate's key.
    pub signature_valid: bool,
    /// The certificate chains to the service's root and is within its validity.
    pub chain_valid: bool,
    /// `good`, `revoked`, `suspended`, `expired` or `unknown` (not issued there).
    pub status: String,
    /// Serial (hex).
    pub serial: String,
    /// Subject.
    pub subject: String,
    /// Validity end.
    pub not_after: Option<DateTime<Utc>>,
    /// When this was checked.
    pub checked_at: DateTime<Utc>,
}

/// A webhook delivery as its institution sees it (`GET /v1/signature-requests/{id}/deliveries`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryView {
    /// Id (also sent as `X-Fincert-Delivery`).
    pub id: String,
    /// Target.
    pub url: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// Next attempt, while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Last HTTP status received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<i32>,
    /// Last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
}

/// What a webhook POST carries once a request is signed or rejected (signed with
/// `X-Fincert-Signature`). Its members, the request's too, are written in byte order of their
/// names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// `signature_request.signed` or `signature_request.rejected`.
    pub event: String,
    /// The delivery's id (also `X-Fincert-Delivery`).
    pub id: String,
    /// The request, as `GET /v1/signature-requests/{id}` answers it.
    #[serde(serialize_with = "super::in_name_order")]
    pub request: RequestView,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn expires_in_takes_integral_floats_only() {
        let parse =
            |v: &str| serde_json::from_str::<LoginBody>(&format!(r#"{{"expires_in":{v}}}"#));
        assert_eq!(parse("270").unwrap().expires_in, Some(270));
        assert_eq!(parse("270.0").unwrap().expires_in, Some(270));
        assert_eq!(parse("null").unwrap().expires_in, None);
        assert_eq!(
            serde_json::from_str::<LoginBody>("{}").unwrap().expires_in,
            None
        );
        for bad in ["270.5", "1e300", "\"270\""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// The webhook body has always been written with its members, the request's too, in byte
    /// order of their names (it was a JSON value); the request alone keeps its fields' order.
    #[test]
    fn webhook_events_write_members_in_name_order() {
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let request = RequestView {
            id: "r".into(),
            status: Status::Rejected,
            purpose: Purpose::Sign,
            certificate_id: "c".into(),
            display_text: "Pay 10,000 KRW".into(),
            digests: vec!["d".into()],
            format: Format::Raw,
            algorithm: Algorithm::EcdsaP256Sha256,
            request_digest: "q".into(),
            created_at: at,
            expires_at: at,
            decided_at: Some(at),
            nonce: None,
            result: None,
        };
        let t = "2023-11-14T22:13:20Z";
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            format!(
                r#"{{"id":"r","status":"rejected","purpose":"sign","certificate_id":"c","display_text":"Pay 10,000 KRW","digests":["d"],"format":"raw","algorithm":"ecdsa-p256-sha256","request_digest":"q","created_at":"{t}","expires_at":"{t}","decided_at":"{t}"}}"#
            )
        );
        let event = WebhookEvent {
            created_at: at,
            event: "signature_request.rejected".into(),
            id: "w".into(),
            request,
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            format!(
                r#"{{"created_at":"{t}","event":"signature_request.rejected","id":"w","request":{{"algorithm":"ecdsa-p256-sha256","certificate_id":"c","created_at":"{t}","decided_at":"{t}","digests":["d"],"display_text":"Pay 10,000 KRW","expires_at":"{t}","format":"raw","id":"r","purpose":"sign","request_digest":"q","status":"rejected"}}}}"#
            )
        );
    }
}
