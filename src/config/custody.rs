//! The `[custody]` section: how long and how often an activated key may sign, how many
//! activations a node holds, and the PIN lockout threshold.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Key custody settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodySettings {
    /// Seconds an activated key stays usable.
    pub activation_ttl_secs: u64,
    /// Signatures an activation allows before it is wiped.
    pub activation_max_signatures: u32,
    /// Activations a node holds at once; more are refused (503) rather than growing memory.
    pub max_live_activations: usize,
    /// Consecutive wrong PINs after which a key's PIN locks (until reissuance).
    pub max_pin_failures: u32,
    /// Heavy CPU work (RSA key generation, key-file KDFs, checks of uploaded CSRs and
    /// certificates) a node runs at once, on blocking threads (`crate::heavy`).
    pub heavy_concurrency: usize,
    /// Heavy work that may wait for a slot; more is refused with 503 and `Retry-After`.
    pub heavy_queue: usize,
}

impl Default for CustodySettings {
    fn default() -> Self {
        Self {
            activation_ttl_secs: 300,
            activation_max_signatures: 10,
            max_live_activations: 100_000,
            max_pin_failures: 5,
            heavy_concurrency: 2,
            heavy_queue: 32,
        }
    }
}

impl CustodySettings {
    /// Checks every value of the section that types alone do not.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=86_400).contains(&self.activation_ttl_secs) {
            return Err(ConfigError::new(
                "custody.activation_ttl_secs",
                "must be between 1 and 86400",
            ));
        }
        if !(1..=10_000).contains(&self.activation_max_signatures) {
            return Err(ConfigError::new(
                "custody.activation_max_signatures",
                "must be between 1 and 10000",
            ));
        }
        if !(1..=10).contains(&self.max_pin_failures) {
            return Err(ConfigError::new(
                "custody.max_pin_failures",
                "must be between 1 and 10",
            ));
        }
        if !(1..=10_000_000).contains(&self.max_live_activations) {
            return Err(ConfigError::new(
                "custody.max_live_activations",
                "must be between 1 and 10000000",
            ));
        }
        if !(1..=256).contains(&self.heavy_concurrency) {
            return Err(ConfigError::new(
                "custody.heavy_concurrency",
                "must be between 1 and 256",
            ));
        }
        if self.heavy_queue > 100_000 {
            return Err(ConfigError::new(
                "custody.heavy_queue",
                "must be between 0 and 100000",
            ));
        }
        Ok(())
    }
}
