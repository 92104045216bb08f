//! The `[http]` section: the listener, request limits, shutdown grace and trusted proxies.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// HTTP listener and request limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address to listen on, `host:port`; port 0 picks a free port.
    pub listen: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_timeout_secs: u64,
    /// Seconds a client has to send its request headers.
    pub request_timeout_secs: u64,
    /// Addresses of reverse proxies (load balancer, ingress) in front of fincert. A request
    /// from one of them is attributed to the address it appended to `X-Forwarded-For`; any
    /// other request to its TCP peer. Empty: always the TCP peer.
    pub trusted_proxies: Vec<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 64 * 1024,
            workers: 0,
            shutdown_timeout_secs: 30,
            request_timeout_secs: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

impl HttpSettings {
    /// Checks every value of the section that types alone do not.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.listen.parse::<SocketAddr>().map_err(|_| {
            ConfigError::new(
                "http.listen",
                format!(
                    "{:?} is not host:port (for example 127.0.0.1:8080)",
                    self.listen
                ),
            )
        })?;
        if !(1024..=16 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err(ConfigError::new(
                "http.max_body_bytes",
                "must be between 1024 and 16777216",
            ));
        }
        if self.workers > 256 {
            return Err(ConfigError::new("http.workers", "must be at most 256"));
        }
        if !(1..=600).contains(&self.shutdown_timeout_secs) {
            return Err(ConfigError::new(
                "http.shutdown_timeout_secs",
                "must be between 1 and 600",
            ));
        }
        if self
            .trusted_proxies
            .iter()
            .any(|p| p.parse::<std::net::IpAddr>().is_err())
        {
            return Err(ConfigError::new(
                "http.trusted_proxies",
                "every entry must be an IP address",
            ));
        }
        if !(1..=300).contains(&self.request_timeout_secs) {
            return Err(ConfigError::new(
                "http.request_timeout_secs",
                "must be between 1 and 300",
            ));
        }
        Ok(())
    }
}
