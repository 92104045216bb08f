//! The holder's side of a signature request (`src/api/approvals.rs`): what is pending, and
//! the approval bodies (PIN, or a passkey assertion), each bound to the request's canonical
//! digest. Approving or rejecting answers the request as its institution sees it
//! ([`RequestView`](super::institutions::RequestView)); a passkey approval starts with a
//! [`Ceremony`](super::passkeys::Ceremony).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use webauthn_rs_proto::PublicKeyCredential;

use super::{
    consents::InstitutionSummary,
    debug_without_secrets,
    institutions::{Algorithm, Format, Purpose, Status},
};

/// A pending request as its user sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovalView {
    /// Request id.
    pub id: String,
    /// Who asks.
    pub institution: InstitutionSummary,
    /// With which certificate.
    pub certificate_id: String,
    /// What the user approves.
    pub display_text: String,
    /// Sign or login.
    pub purpose: Purpose,
    /// How many signatures.
    pub digest_count: usize,
    /// Digests (base64).
    pub digests: Vec<String>,
    /// Format.
    pub format: Format,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// The canonical digest to approve (base64); a PIN approval sends it back.
    pub request_digest: String,
    /// Status in force.
    pub status: Status,
    /// Expires.
    pub expires_at: DateTime<Utc>,
    /// Seconds until `expires_at` by the service clock (0 once past): what a screen counts
    /// down from, whatever its own clock says.
    pub expires_in_secs: i64,
}

/// A PIN approval: the PIN and the request digest the user's screen showed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinApproval {
    /// The certificate's 6-digit PIN.
    pub pin: zeroize::Zeroizing<String>,
    /// The request's canonical digest (base64), as shown.
    pub request_digest: String,
}

debug_without_secrets!(PinApproval { request_digest });

/// A passkey approval: the ceremony and the authenticator's answer
/// (`POST /v1/approvals/{id}/passkey/finish`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeyApproval {
    /// The ceremony `passkey/start` opened.
    pub ceremony_id: String,
    /// The WebAuthn assertion.
    pub credential: PublicKeyCredential,
    /// The authenticator's PRF output over the salt the ceremony named for this credential,
    /// base64url (32 bytes): required by a passkey bound with PRF (sole control).
    #[serde(default)]
    pub prf: Option<zeroize::Zeroizing<String>>,
}

debug_without_secrets!(PasskeyApproval {
    ceremony_id,
    credential
});

/// What the holder's device signs for a request of a device-kept certificate
/// (`GET /v1/approvals/{id}/device`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceToSign {
    /// The request's canonical digest (base64), to send back with the signatures.
    pub request_digest: String,
    /// The signature algorithm (ECDSA signatures are DER `ECDSA-Sig-Value`).
    pub algorithm: Algorithm,
    /// One payload per digest, in order (base64): the content for raw, the DER of the CMS
    /// signed attributes otherwise. The device signs each as a message (hashing it with
    /// SHA-256 itself).
    pub payloads: Vec<String>,
}

/// A device approval (`POST /v1/approvals/{id}/device`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceApproval {
    /// The request's canonical digest (base64), as shown.
    pub request_digest: String,
    /// One signature per payload, in order (base64).
    pub signatures: Vec<String>,
}

/// What a PIN or passkey approval answers: the request as its institution sees it, and
/// `renewed` when the same PIN also renewed the certificate (automatic renewal inside the
/// renewal window, the holder's setting on).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Approved {
    /// The request, signed.
    #[serde(flatten)]
    pub request: super::institutions::RequestView,
    /// The certificate this approval renewed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed: Option<RenewedCertificate>,
}

/// The successor an automatic renewal made: the same subject, a new key and serial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewedCertificate {
    /// The new certificate's id.
    pub id: uuid::Uuid,
    /// Its serial (hex).
    pub serial: String,
    /// Its validity end.
    pub not_after: DateTime<Utc>,
    /// The fee charged for it (KRW; 0 for restricted use).
    pub fee_krw: u32,
}
