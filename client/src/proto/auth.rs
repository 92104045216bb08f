//! Sign-in and sessions (`src/api/auth.rs`, `src/api/sign_ins.rs`): sign-in by choosing (the
//! person identifies, proves the phone with a code, sees their certificates and gets a
//! selection ticket), a certificate and its PIN (with that ticket) for a session, or a
//! device-held certificate and a challenge signed with its key, and the refresh token that
//! renews or ends one. A session is an
//! [`oauth::TokenResponse`](super::oauth::TokenResponse) with a refresh token. (The JWKS at
//! `/.well-known/jwks.json` is a standard RFC 7517 key set.)

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::debug_without_secrets;

/// Sign-in with a certificate and its PIN (`POST /v1/auth/pin`). With a selection ticket
/// (from sign-in by choosing) the certificate must be one the ticket listed, and the ticket is
/// spent by the session. Without one (the older form, for API clients that already know the
/// certificate's id) the PIN alone decides.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinLoginBody {
    /// The certificate.
    pub certificate_id: Uuid,
    /// Its 6-digit PIN.
    pub pin: Zeroizing<String>,
    /// The selection ticket of sign-in by choosing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Zeroizing<String>>,
}

debug_without_secrets!(PinLoginBody { certificate_id });

/// Resuming a suspended certificate by identity re-check (`POST /v1/auth/resume`): the
/// selection ticket of sign-in by choosing, the certificate, and its PIN.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeBody {
    /// The suspended certificate.
    pub certificate_id: Uuid,
    /// Its 6-digit PIN.
    pub pin: Zeroizing<String>,
    /// The selection ticket of sign-in by choosing (it lists the certificate's holder).
    pub ticket: Zeroizing<String>,
}

debug_without_secrets!(ResumeBody { certificate_id });

/// Sign-in by choosing, step 1 (`POST /v1/auth/sign-ins`): who the person is, and how the
/// code should reach them.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifyBody {
    /// The holder's name.
    pub name: String,
    /// `YYYY-MM-DD`, between 1900 and today.
    pub birth_date: String,
    /// Mobile number.
    pub phone: String,
    /// SMS or ARS.
    pub channel: super::enrolment::Channel,
}

debug_without_secrets!(IdentifyBody { channel });

/// Another code (`POST /v1/auth/sign-ins/{id}/code`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResendBody {
    /// SMS or ARS.
    pub channel: super::enrolment::Channel,
}

/// A sign-in waiting for its code: the same answer whether or not the details named anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInPending {
    /// The sign-in's id (the capability its steps share).
    pub id: Uuid,
    /// The number the code went to, masked (`010-****-5678`).
    pub phone: String,
    /// How the code went.
    pub channel: super::enrolment::Channel,
    /// Until when the code may be entered.
    pub code_expires_at: chrono::DateTime<chrono::Utc>,
    /// Until when the sign-in lives.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// The code (`POST /v1/auth/sign-ins/{id}/verify`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInCodeBody {
    /// The 6-digit code.
    pub code: Zeroizing<String>,
}

debug_without_secrets!(SignInCodeBody {});

/// One certificate to choose from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInCertificate {
    /// Id (what `POST /v1/auth/pin` takes with the ticket).
    pub id: Uuid,
    /// Kind.
    pub kind: super::certificates::CertKind,
    /// Usage.
    pub usage: super::certificates::Usage,
    /// Where the key is kept.
    pub storage: super::certificates::Storage,
    /// Status in force now.
    pub status: super::certificates::CertStatus,
    /// Subject common name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Validity end.
    pub not_after: chrono::DateTime<chrono::Utc>,
    /// Seconds until `not_after` by the service clock (0 once past).
    pub expires_in_secs: i64,
}

/// The right code: the person's certificates and the single-use ticket that chooses one.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignInChoice {
    /// The selection ticket: give it to `POST /v1/auth/pin` (or the passkey sign-in) with the
    /// chosen certificate's id. Single-use, short-lived.
    pub ticket: Zeroizing<String>,
    /// Until when it may be used.
    pub ticket_expires_at: chrono::DateTime<chrono::Utc>,
    /// The person's certificates, newest first.
    pub certificates: Vec<SignInCertificate>,
}

debug_without_secrets!(SignInChoice {
    ticket_expires_at,
    certificates
});

/// A refresh token (`POST /v1/auth/refresh`, `POST /v1/auth/logout`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    /// The session's single-use refresh token.
    pub refresh_token: String,
}

debug_without_secrets!(RefreshBody {});

/// Asks for a sign-in challenge for a device-held certificate
/// (`POST /v1/auth/device/challenge`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceChallengeBody {
    /// The device-held certificate.
    pub certificate_id: Uuid,
}

/// A sign-in challenge: the text to sign with the certificate's key (its UTF-8 bytes, hashed
/// with SHA-256 by the signature algorithm), single-use and short-lived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceChallenge {
    /// The challenge's id, sent back with the signature.
    pub challenge_id: Uuid,
    /// What to sign: `fincert-device-sign-in-v1:<certificate id>:<challenge id>:<nonce>`.
    pub challenge: String,
    /// Until when it may be answered.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Sign-in by proof of possession of a device-held certificate's key (`POST /v1/auth/device`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceLoginBody {
    /// The certificate the challenge was made for.
    pub certificate_id: Uuid,
    /// The challenge's id.
    pub challenge_id: Uuid,
    /// The challenge text as received.
    pub challenge: String,
    /// How it was signed (it must fit the certificate's key).
    pub algorithm: super::institutions::Algorithm,
    /// The signature over the challenge text, base64 (ECDSA: DER).
    pub signature: String,
}
