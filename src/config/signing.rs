//! The `[signing]` section: remote signing for institutions — request and token rate limits,
//! webhook delivery, and the group-commit batch size.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Remote signing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningSettings {
    /// Signature requests one institution may create per minute (shared by every node).
    pub requests_per_institution_per_minute: u32,
    /// Token requests one client id may make per minute.
    pub token_requests_per_client_per_minute: u32,
    /// Admit `http://` webhooks to loopback hosts (development and tests only).
    pub allow_http_webhooks: bool,
    /// Attempts before a webhook delivery is given up.
    pub webhook_max_attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub webhook_backoff_secs: u32,
    /// Timeout of one webhook attempt, in milliseconds.
    pub webhook_timeout_ms: u64,
    /// Signatures whose state changes and audit events share one transaction (group commit;
    /// 1 turns batching off).
    pub group_commit_max_batch: u32,
}

impl Default for SigningSettings {
    fn default() -> Self {
        Self {
            requests_per_institution_per_minute: 600,
            token_requests_per_client_per_minute: 60,
            allow_http_webhooks: false,
            webhook_max_attempts: 8,
            webhook_backoff_secs: 10,
            webhook_timeout_ms: 5000,
            group_commit_max_batch: 64,
        }
    }
}

impl SigningSettings {
    /// Checks every value of the section that types alone do not.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (value, name, max) in [
            (
                self.requests_per_institution_per_minute,
                "requests_per_institution_per_minute",
                1_000_000,
            ),
            (
                self.token_requests_per_client_per_minute,
                "token_requests_per_client_per_minute",
                100_000,
            ),
            (self.webhook_max_attempts, "webhook_max_attempts", 20),
            (self.webhook_backoff_secs, "webhook_backoff_secs", 3600),
            (self.group_commit_max_batch, "group_commit_max_batch", 1000),
        ] {
            if !(1..=max).contains(&value) {
                return Err(ConfigError::new(
                    &format!("signing.{name}"),
                    format!("must be between 1 and {max}"),
                ));
            }
        }
        if !(100..=60_000).contains(&self.webhook_timeout_ms) {
            return Err(ConfigError::new(
                "signing.webhook_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        Ok(())
    }
}
