//! Sign-in and sessions (`src/api/auth.rs`): a certificate and its PIN for a session, or a
//! device-held certificate and a challenge signed with its key, and the refresh token that
//! renews or ends one. A session is an
//! [`oauth::TokenResponse`](super::oauth::TokenResponse) with a refresh token. (The JWKS at
//! `/.well-known/jwks.json` is a standard RFC 7517 key set.)

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::debug_without_secrets;

/// Sign-in with a certificate and its PIN (`POST /v1/auth/pin`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinLoginBody {
    /// The certificate.
    pub certificate_id: Uuid,
    /// Its 6-digit PIN.
    pub pin: Zeroizing<String>,
}

debug_without_secrets!(PinLoginBody { certificate_id });

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
