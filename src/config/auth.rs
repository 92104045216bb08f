//! The `[auth]` section: access and refresh token issuer, audience and lifetimes, token key
//! rotation, sign-in rate limits and the WebAuthn relying party. (The token service's own
//! settings are built from these on the auth side.)

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Session and token settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// `iss` of access tokens; empty means `pki.public_base_url`.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    /// Access token lifetime in seconds.
    pub access_ttl_secs: u64,
    /// Refresh token lifetime in seconds.
    pub refresh_ttl_secs: u64,
    /// Days after which a new token signing key takes over.
    pub token_key_rotation_days: u32,
    /// Sign-in attempts allowed per client IP per minute (all certificates together).
    pub sign_in_per_ip_per_minute: u32,
    /// Sign-in attempts allowed per certificate per minute.
    pub sign_in_per_certificate_per_minute: u32,
    /// WebAuthn relying-party id (a domain: `localhost` in development).
    pub webauthn_rp_id: String,
    /// The origin browsers show for the portal (must be a host name, not an IP address).
    pub webauthn_origin: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            audience: "fincert".into(),
            access_ttl_secs: 300,
            refresh_ttl_secs: 3600,
            token_key_rotation_days: 30,
            sign_in_per_ip_per_minute: 30,
            sign_in_per_certificate_per_minute: 10,
            webauthn_rp_id: "localhost".into(),
            webauthn_origin: "http://localhost:8080".into(),
        }
    }
}

impl AuthSettings {
    /// Checks every value of the section that types alone do not.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(30..=3600).contains(&self.access_ttl_secs) {
            return Err(ConfigError::new(
                "auth.access_ttl_secs",
                "must be between 30 and 3600",
            ));
        }
        if !(60..=30 * 86_400).contains(&self.refresh_ttl_secs) {
            return Err(ConfigError::new(
                "auth.refresh_ttl_secs",
                "must be between 60 and 2592000",
            ));
        }
        if !(1..=365).contains(&self.token_key_rotation_days) {
            return Err(ConfigError::new(
                "auth.token_key_rotation_days",
                "must be between 1 and 365",
            ));
        }
        if !(1..=100_000).contains(&self.sign_in_per_ip_per_minute) {
            return Err(ConfigError::new(
                "auth.sign_in_per_ip_per_minute",
                "must be between 1 and 100000",
            ));
        }
        if !(1..=1000).contains(&self.sign_in_per_certificate_per_minute) {
            return Err(ConfigError::new(
                "auth.sign_in_per_certificate_per_minute",
                "must be between 1 and 1000",
            ));
        }
        if !(self.webauthn_origin.starts_with("https://")
            || self.webauthn_origin.starts_with("http://localhost"))
        {
            return Err(ConfigError::new(
                "auth.webauthn_origin",
                "must be https:// (or http://localhost in development)",
            ));
        }
        if self.webauthn_rp_id.is_empty() || !self.webauthn_origin.contains(&self.webauthn_rp_id) {
            return Err(ConfigError::new(
                "auth.webauthn_rp_id",
                "must be the origin's domain or a parent of it",
            ));
        }
        if self.audience.is_empty() || self.audience.len() > 128 {
            return Err(ConfigError::new(
                "auth.audience",
                "must be 1 to 128 characters",
            ));
        }
        Ok(())
    }
}
