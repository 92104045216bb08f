//! Sign-in and sessions (`src/api/auth.rs`): a certificate and its PIN for a session, and the
//! refresh token that renews or ends one. A session is an
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
