//! The `[kms]` section: which KMS backend holds the keys, and how to reach AWS KMS. AWS keys
//! are flat (`kms.aws_key_id` ↔ `FINCERT_KMS_AWS_KEY_ID`).

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// Which KMS backend holds the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KmsBackend {
    /// A keyring file in the data directory (development, embedded default).
    Local,
    /// AWS KMS (or moto in tests).
    Aws,
}

/// KMS settings. AWS keys are flat (`kms.aws_key_id` ↔ `FINCERT_KMS_AWS_KEY_ID`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsSettings {
    /// `local` or `aws`.
    pub backend: KmsBackend,
    /// Local keyring file; empty means `<data_dir>/kms/local-keyring.json`.
    pub local_keyring: String,
    /// AWS region.
    pub aws_region: String,
    /// Endpoint override (moto, VPC endpoint); empty for the default.
    pub aws_endpoint_url: String,
    /// Symmetric key (id, ARN or alias) that wraps data keys.
    pub aws_key_id: String,
    /// HMAC_256 key (id, ARN or alias) for PIN binding.
    pub aws_mac_key_id: String,
    /// Static credentials, for moto or local development only; empty uses the default chain.
    pub aws_access_key_id: String,
    /// Static secret key, with `aws_access_key_id`.
    pub aws_secret_access_key: Secret,
    /// Per-call timeout in milliseconds.
    pub aws_timeout_ms: u64,
}

impl Default for KmsSettings {
    fn default() -> Self {
        Self {
            backend: KmsBackend::Local,
            local_keyring: String::new(),
            aws_region: "ap-northeast-2".into(),
            aws_endpoint_url: String::new(),
            aws_key_id: String::new(),
            aws_mac_key_id: String::new(),
            aws_access_key_id: String::new(),
            aws_secret_access_key: Secret::default(),
            aws_timeout_ms: 3000,
        }
    }
}

impl KmsSettings {
    /// Checks every value of the section that types alone do not: the AWS backend needs its
    /// two keys, and static credentials come as a pair.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.backend == KmsBackend::Aws {
            if self.aws_key_id.is_empty() {
                return Err(ConfigError::new(
                    "kms.aws_key_id",
                    "required when kms.backend = \"aws\"",
                ));
            }
            if self.aws_mac_key_id.is_empty() {
                return Err(ConfigError::new(
                    "kms.aws_mac_key_id",
                    "required when kms.backend = \"aws\"",
                ));
            }
            if self.aws_access_key_id.is_empty() != self.aws_secret_access_key.expose().is_empty() {
                return Err(ConfigError::new(
                    "kms.aws_secret_access_key",
                    "set both static credentials or neither",
                ));
            }
        }
        if !(100..=60_000).contains(&self.aws_timeout_ms) {
            return Err(ConfigError::new(
                "kms.aws_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use figment::providers::Env;

    use super::super::Settings;

    #[test]
    fn aws_backend_needs_its_keys_and_hides_its_secret() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FINCERT_KMS_BACKEND", "aws");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "kms.aws_key_id");
            jail.set_env("FINCERT_KMS_AWS_KEY_ID", "alias/fincert");
            jail.set_env("FINCERT_KMS_AWS_MAC_KEY_ID", "alias/fincert-mac");
            jail.set_env("FINCERT_KMS_AWS_ACCESS_KEY_ID", "test");
            jail.set_env("FINCERT_KMS_AWS_SECRET_ACCESS_KEY", "very-secret-value");
            let s = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap();
            assert_eq!(s.kms.aws_secret_access_key.expose(), "very-secret-value");
            assert!(!format!("{s:?}").contains("very-secret-value"));
            Ok(())
        });
    }

    #[test]
    fn ca_keys_in_kms_need_the_aws_backend() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FINCERT_PKI_AWS_ROOT_KEY_ID", "alias/fincert-root-ca");
            jail.set_env("FINCERT_PKI_AWS_ISSUING_KEY_ID", "alias/fincert-issuing-ca");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "pki.aws_root_key_id");
            jail.set_env("FINCERT_KMS_BACKEND", "aws");
            jail.set_env("FINCERT_KMS_AWS_KEY_ID", "alias/fincert");
            jail.set_env("FINCERT_KMS_AWS_MAC_KEY_ID", "alias/fincert-mac");
            let s = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap();
            assert_eq!(s.pki.aws_issuing_key_id, "alias/fincert-issuing-ca");
            Ok(())
        });
    }
}
