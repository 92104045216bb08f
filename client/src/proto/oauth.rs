//! `POST /oauth2/token` (RFC 6749 §4.4, client credentials), which the CSC token routes share:
//! the request (form-encoded, or JSON from some CSC v1 clients) and the token answer, which is
//! also the shape of a user's session (`/v1/auth/*`). Errors are an
//! [`OAuthErrorBody`](super::OAuthErrorBody).

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::debug_without_secrets;

/// A token request. Read tolerantly, as OAuth2 clients expect: every field is optional here and
/// checked by the endpoint, which names what is missing in an `invalid_request`.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct TokenRequest {
    /// `client_credentials`.
    pub grant_type: Option<String>,
    /// The client id, unless HTTP Basic is used.
    pub client_id: Option<String>,
    /// The client secret, unless HTTP Basic is used.
    pub client_secret: Option<Zeroizing<String>>,
    /// Space-separated scopes (`sign`, `verify`); all that are held when absent.
    pub scope: Option<String>,
    /// `authorization_code` (CSC): the code from the redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Zeroizing<String>>,
    /// `authorization_code` (CSC): the PKCE verifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<Zeroizing<String>>,
    /// `authorization_code` (CSC): the redirect URI the code was asked with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// `oauth2/revoke` (RFC 7009): the token to revoke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Zeroizing<String>>,
    /// `oauth2/revoke`: `access_token` or `refresh_token` (a hint; both kinds are found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type_hint: Option<String>,
}

debug_without_secrets!(TokenRequest {
    grant_type,
    client_id,
    scope,
    redirect_uri,
    token_type_hint
});

/// An access token answer: an institution's (`/oauth2/token`) or a user's session
/// (`/v1/auth/pin`, with a refresh token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// Granted scopes (institution tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Single-use refresh token (user sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}
