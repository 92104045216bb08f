//! Access and refresh tokens.
//!
//! - **Access tokens**: JWT, ES256 only (the algorithm is pinned: `none`, HS256 and every
//!   other `alg` are refused before any key is used), `kid` naming a published key, issuer and
//!   audience checked, short-lived. Expiry is checked against the service [`Clock`], not the
//!   library's wall clock, so time rules stay testable.
//! - **Signing keys** are P-256 keys sealed in custody (KMS-wrapped, service slot), published
//!   at `/.well-known/jwks.json`, and rotated: a new key signs after `auth.token_key_rotation_days`;
//!   old keys keep verifying until every token they signed has expired.
//! - **Refresh tokens** are 256-bit random strings stored only as SHA-256 hashes, single-use:
//!   each use returns a new one in the same family; using one twice revokes the whole family
//!   (a stolen token and its thief are cut off together). Logout revokes the family.
//! - **Sessions end everywhere.** A user's access token names its session (`sid`, the refresh
//!   family). Every user request checks that the session is not revoked, through a per-node
//!   cache of *live* sessions that follows the cluster's cache epoch (`signing::checks`):
//!   logout and reuse revocation bump the epoch in their transaction, so the old access token
//!   is refused on every node within about 200 ms and never later than a second.
//!
//! [`Clock`]: crate::clock::Clock
//!
//! Where things are: this file holds the types (errors, claims, settings, the service);
//! `keys` (signing keys: making, rotating, loading, the JWKS), `issue` (signing access
//! tokens), `verify` (checking them, with the per-node cache of verified tokens) and
//! `refresh` (sessions: refresh-token rotation, reuse detection, logout).

mod issue;
mod keys;
mod refresh;
mod verify;

use std::sync::RwLock;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::{
    clock::SharedClock,
    custody::{Custody, CustodyError},
    store::StoreError,
};

/// Token failures.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The access token is malformed, forged, of another algorithm, issuer or audience, or
    /// expired. Which one is logged, not returned.
    #[error("invalid access token")]
    Invalid,
    /// The refresh token is unknown, expired, revoked or already used.
    #[error("invalid refresh token")]
    RefreshInvalid,
    /// A used refresh token was presented again: its family is revoked.
    #[error("refresh token reuse detected; the session was revoked")]
    RefreshReused,
    /// Key custody failed (signing key could not be opened or made).
    #[error(transparent)]
    Custody(#[from] CustodyError),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Signing failed.
    #[error("token signing failed")]
    Signing,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user.
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Token id.
    pub jti: String,
    /// How the user authenticated (`pin`, `passkey`); empty for institutions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Granted scopes, space-separated (institution tokens only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// The session (refresh-token family) a user's token belongs to: once it is revoked
    /// (logout, refresh-token reuse) the token is refused on every node.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sid: String,
}

/// Which kind of caller a token is for. Each has its own audience, so a user's token is
/// never accepted where an institution's is expected, and the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A certificate holder (after PIN or passkey).
    User,
    /// An institution (after OAuth2 client credentials).
    Institution,
}

/// Token settings.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `iss` of every token.
    pub issuer: String,
    /// `aud` every token must carry.
    pub audience: String,
    /// Access token lifetime.
    pub access_ttl: Duration,
    /// Refresh token lifetime.
    pub refresh_ttl: Duration,
    /// A new signing key after this long.
    pub key_rotation: Duration,
}

impl TokenSettings {
    /// The token settings in force: `auth.*`, with the issuer defaulting to
    /// `pki.public_base_url`.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(300));
        Self {
            issuer: if settings.auth.issuer.is_empty() {
                settings.pki.public_base_url.clone()
            } else {
                settings.auth.issuer.clone()
            },
            audience: settings.auth.audience.clone(),
            access_ttl: secs(settings.auth.access_ttl_secs),
            refresh_ttl: secs(settings.auth.refresh_ttl_secs),
            key_rotation: Duration::days(i64::from(settings.auth.token_key_rotation_days)),
        }
    }
}

/// A freshly issued session: access token and refresh token (the wire type clients read).
pub use fincert_client::proto::oauth::TokenResponse as TokenPair;

/// Issues and verifies tokens.
pub struct TokenService {
    keys: RwLock<keys::Keys>,
    settings: TokenSettings,
    custody: std::sync::Arc<Custody>,
    clock: SharedClock,
    verified: verify::VerifiedTokens,
    /// Sessions found live, cleared when the cache epoch moves (set once at start-up; until
    /// then every check reads the database).
    live_sessions: std::sync::OnceLock<crate::signing::checks::Cached<String, ()>>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}
