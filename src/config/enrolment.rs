//! The `[enrolment]` section: the issuance procedure's partners (identity verifier, message
//! sender), which [`Adapter`] talks to each, their endpoints, shared secrets and timeout.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// Which adapter talks to a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Adapter {
    /// The development adapter (a table of customers; an in-memory outbox).
    Dev,
    /// Signed HTTP to the partner's endpoint.
    Http,
}

/// Identity verification and messaging partners.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentSettings {
    /// `dev` (table `dev_customers`, loaded with `fincert customers load`) or `http`.
    pub identity_verifier: Adapter,
    /// The identity service's endpoint (`http`).
    pub identity_url: String,
    /// Shared secret that signs requests to it.
    pub identity_secret: Secret,
    /// `dev` (in-memory outbox) or `http` (telecom gateway webhook).
    pub message_sender: Adapter,
    /// The gateway's endpoint (`http`).
    pub message_url: String,
    /// Shared secret that signs requests to it.
    pub message_secret: Secret,
    /// Timeout of each partner request, in milliseconds.
    pub partner_timeout_ms: u64,
    /// Serve the development outbox at `GET /dev/outbox/{phone}` (local development and browser
    /// tests read one-time codes there). Only with the `dev` message sender.
    pub expose_dev_outbox: bool,
}

impl Default for EnrolmentSettings {
    fn default() -> Self {
        Self {
            identity_verifier: Adapter::Dev,
            identity_url: String::new(),
            identity_secret: Secret::default(),
            message_sender: Adapter::Dev,
            message_url: String::new(),
            message_secret: Secret::default(),
            partner_timeout_ms: 3000,
            expose_dev_outbox: false,
        }
    }
}

impl EnrolmentSettings {
    /// Checks every value of the section that types alone do not: an `http` adapter needs its
    /// URL and a long enough secret.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (adapter, url, secret, name) in [
            (
                self.identity_verifier,
                &self.identity_url,
                &self.identity_secret,
                "identity",
            ),
            (
                self.message_sender,
                &self.message_url,
                &self.message_secret,
                "message",
            ),
        ] {
            if adapter == Adapter::Http {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(ConfigError::new(
                        &format!("enrolment.{name}_url"),
                        "an http(s) URL is required with the http adapter",
                    ));
                }
                if secret.expose().len() < 16 {
                    return Err(ConfigError::new(
                        &format!("enrolment.{name}_secret"),
                        "at least 16 characters are required with the http adapter",
                    ));
                }
            }
        }
        if self.expose_dev_outbox && self.message_sender != Adapter::Dev {
            return Err(ConfigError::new(
                "enrolment.expose_dev_outbox",
                "only the dev message sender has an outbox to expose",
            ));
        }
        if !(100..=60_000).contains(&self.partner_timeout_ms) {
            return Err(ConfigError::new(
                "enrolment.partner_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        Ok(())
    }
}
