//! The `[kms]` section: which KMS backend holds the keys, and how to reach AWS KMS or a
//! PKCS#11 HSM. Keys are flat (`kms.aws_key_id` ↔ `FINCERT_KMS_AWS_KEY_ID`,
//! `kms.pkcs11_module` ↔ `FINCERT_KMS_PKCS11_MODULE`).
//!
//! The HSM's user PIN is a secret: `kms.pkcs11_pin` (from `FINCERT_KMS_PKCS11_PIN` or the
//! configuration file) or `kms.pkcs11_pin_file` (a file holding it, e.g. a mounted Kubernetes
//! Secret), never a command-line argument.

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
    /// A PKCS#11 HSM (Thales Luna, Entrust nShield, AWS CloudHSM…; SoftHSM2 in tests).
    Pkcs11,
}

/// KMS settings. Keys are flat (`kms.aws_key_id` ↔ `FINCERT_KMS_AWS_KEY_ID`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KmsSettings {
    /// `local`, `aws` or `pkcs11`.
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
    /// The HSM vendor's PKCS#11 module (a shared library path).
    pub pkcs11_module: String,
    /// The token holding fincert's keys, by label (this or `pkcs11_slot`).
    pub pkcs11_token_label: String,
    /// The token holding fincert's keys, by slot id (this or `pkcs11_token_label`).
    pub pkcs11_slot: Option<u64>,
    /// Label of the AES-256 key that wraps data keys (`CKM_AES_GCM`).
    pub pkcs11_wrap_key_label: String,
    /// Label of the generic secret key for PIN binding (`CKM_SHA256_HMAC`).
    pub pkcs11_mac_key_label: String,
    /// Sessions kept open to the token (each call takes one).
    pub pkcs11_pool_size: u32,
    /// The user (CKU_USER) PIN: set this or `pkcs11_pin_file`.
    pub pkcs11_pin: Secret,
    /// A file holding the user PIN (one line): set this or `pkcs11_pin`.
    pub pkcs11_pin_file: String,
    /// Per-call timeout in milliseconds (waiting for a session included).
    pub pkcs11_timeout_ms: u64,
    /// Create the two keys on the token when they are missing (development, tests); off, a
    /// missing key stops start-up and `fincert kms create-keys` makes them.
    pub pkcs11_create_keys: bool,
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
            pkcs11_module: String::new(),
            pkcs11_token_label: String::new(),
            pkcs11_slot: None,
            pkcs11_wrap_key_label: "fincert-wrap".into(),
            pkcs11_mac_key_label: "fincert-mac".into(),
            pkcs11_pool_size: 4,
            pkcs11_pin: Secret::default(),
            pkcs11_pin_file: String::new(),
            pkcs11_timeout_ms: 3000,
            pkcs11_create_keys: false,
        }
    }
}

impl KmsSettings {
    /// Checks every value of the section that types alone do not: the AWS backend needs its
    /// two keys, and static credentials come as a pair; the PKCS#11 backend needs its module,
    /// one way to name the token, two distinct key labels and exactly one source of the PIN.
    pub(super) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        if self.backend == KmsBackend::Pkcs11 {
            self.validate_pkcs11(section)?;
        }
        if self.backend == KmsBackend::Aws {
            if self.aws_key_id.is_empty() {
                return Err(ConfigError::new(
                    &format!("{section}.aws_key_id"),
                    format!("required when {section}.backend = \"aws\""),
                ));
            }
            if self.aws_mac_key_id.is_empty() {
                return Err(ConfigError::new(
                    &format!("{section}.aws_mac_key_id"),
                    format!("required when {section}.backend = \"aws\""),
                ));
            }
            if self.aws_access_key_id.is_empty() != self.aws_secret_access_key.expose().is_empty() {
                return Err(ConfigError::new(
                    &format!("{section}.aws_secret_access_key"),
                    "set both static credentials or neither",
                ));
            }
        }
        if !(100..=60_000).contains(&self.aws_timeout_ms) {
            return Err(ConfigError::new(
                &format!("{section}.aws_timeout_ms"),
                "must be between 100 and 60000",
            ));
        }
        Ok(())
    }

    fn validate_pkcs11(&self, section: &str) -> Result<(), ConfigError> {
        let required = |key: &str| {
            ConfigError::new(
                &format!("{section}.{key}"),
                format!("required when {section}.backend = \"pkcs11\""),
            )
        };
        if self.pkcs11_module.is_empty() {
            return Err(required("pkcs11_module"));
        }
        if !std::path::Path::new(&self.pkcs11_module).is_absolute() {
            // A bare name would be searched for on the loader's path: name the vendor's file.
            return Err(ConfigError::new(
                &format!("{section}.pkcs11_module"),
                "must be an absolute path to the vendor's PKCS#11 library",
            ));
        }
        match (self.pkcs11_token_label.is_empty(), self.pkcs11_slot) {
            (true, None) => {
                return Err(ConfigError::new(
                    &format!("{section}.pkcs11_token_label"),
                    format!(
                        "set the token label or {section}.pkcs11_slot when {section}.backend = \"pkcs11\""
                    ),
                ));
            }
            (false, Some(_)) => {
                return Err(ConfigError::new(
                    &format!("{section}.pkcs11_slot"),
                    "set the token label or the slot, not both",
                ));
            }
            _ => {}
        }
        if self.pkcs11_token_label.chars().count() > 32 {
            return Err(ConfigError::new(
                &format!("{section}.pkcs11_token_label"),
                "a PKCS#11 token label has at most 32 characters",
            ));
        }
        for (key, label) in [
            ("pkcs11_wrap_key_label", &self.pkcs11_wrap_key_label),
            ("pkcs11_mac_key_label", &self.pkcs11_mac_key_label),
        ] {
            if label.is_empty() || label.len() > 128 || label.chars().any(char::is_control) {
                return Err(ConfigError::new(
                    &format!("{section}.{key}"),
                    "must be 1 to 128 bytes without control characters",
                ));
            }
        }
        if self.pkcs11_wrap_key_label == self.pkcs11_mac_key_label {
            return Err(ConfigError::new(
                &format!("{section}.pkcs11_mac_key_label"),
                format!("must differ from {section}.pkcs11_wrap_key_label"),
            ));
        }
        if !(1..=64).contains(&self.pkcs11_pool_size) {
            return Err(ConfigError::new(
                &format!("{section}.pkcs11_pool_size"),
                "must be between 1 and 64",
            ));
        }
        match (
            self.pkcs11_pin.expose().is_empty(),
            self.pkcs11_pin_file.is_empty(),
        ) {
            (true, true) => {
                return Err(ConfigError::new(
                    &format!("{section}.pkcs11_pin"),
                    format!(
                        "the token's user PIN is required: set {section}.pkcs11_pin \
                         (FINCERT_{}_PKCS11_PIN) or {section}.pkcs11_pin_file",
                        section.to_ascii_uppercase()
                    ),
                ));
            }
            (false, false) => {
                return Err(ConfigError::new(
                    &format!("{section}.pkcs11_pin_file"),
                    format!("set {section}.pkcs11_pin or {section}.pkcs11_pin_file, not both"),
                ));
            }
            _ => {}
        }
        if !(100..=60_000).contains(&self.pkcs11_timeout_ms) {
            return Err(ConfigError::new(
                &format!("{section}.pkcs11_timeout_ms"),
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

    #[test]
    fn pkcs11_backend_needs_its_module_token_and_pin_and_hides_the_pin() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FINCERT_KMS_BACKEND", "pkcs11");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "kms.pkcs11_module");
            jail.set_env("FINCERT_KMS_PKCS11_MODULE", "libsofthsm2.so");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "kms.pkcs11_module", "a relative module is refused");
            jail.set_env(
                "FINCERT_KMS_PKCS11_MODULE",
                "/usr/lib/softhsm/libsofthsm2.so",
            );
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "kms.pkcs11_token_label");
            jail.set_env("FINCERT_KMS_PKCS11_TOKEN_LABEL", "fincert");
            jail.set_env("FINCERT_KMS_PKCS11_SLOT", "3");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "kms.pkcs11_slot", "label or slot, not both");
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("FINCERT_KMS_BACKEND", "pkcs11");
            jail.set_env(
                "FINCERT_KMS_PKCS11_MODULE",
                "/usr/lib/softhsm/libsofthsm2.so",
            );
            jail.set_env("FINCERT_KMS_PKCS11_TOKEN_LABEL", "fincert");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "kms.pkcs11_pin", "the PIN is required");
            jail.set_env("FINCERT_KMS_PKCS11_PIN", "hsm-user-pin-7731");
            jail.set_env("FINCERT_KMS_PKCS11_PIN_FILE", "/run/secrets/hsm-pin");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "kms.pkcs11_pin_file", "one source of the PIN");
            jail.set_env("FINCERT_KMS_PKCS11_PIN_FILE", "");
            jail.set_env("FINCERT_KMS_PKCS11_MAC_KEY_LABEL", "fincert-wrap");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "kms.pkcs11_mac_key_label", "two distinct keys");
            jail.set_env("FINCERT_KMS_PKCS11_MAC_KEY_LABEL", "fincert-mac");
            jail.set_env("FINCERT_KMS_PKCS11_POOL_SIZE", "0");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "kms.pkcs11_pool_size");
            jail.set_env("FINCERT_KMS_PKCS11_POOL_SIZE", "8");
            let s = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap();
            assert_eq!(s.kms.pkcs11_pool_size, 8);
            assert_eq!(s.kms.pkcs11_pin.expose(), "hsm-user-pin-7731");
            assert!(!format!("{s:?}").contains("hsm-user-pin-7731"));
            assert!(!s.to_redacted_toml().unwrap().contains("hsm-user-pin-7731"));
            Ok(())
        });
    }

    /// `kms_previous`: a whole second section with its own checks and key names, never the
    /// same backend as `kms`, its secrets hidden like the first section's; absent by default.
    #[test]
    fn a_previous_backend_is_checked_as_its_own_section() {
        figment::Jail::expect_with(|jail| {
            assert!(
                Settings::load_from(None, Env::prefixed("FINCERT_"))
                    .unwrap()
                    .kms_previous
                    .is_none()
            );
            jail.set_env("FINCERT_KMS_PREVIOUS_BACKEND", "local");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "kms_previous.backend", "local twice is a rotation");
            jail.set_env("FINCERT_KMS_PREVIOUS_BACKEND", "aws");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "kms_previous.aws_key_id");
            assert!(e.problem.contains("kms_previous.backend"), "{}", e.problem);
            jail.set_env("FINCERT_KMS_PREVIOUS_AWS_KEY_ID", "alias/fincert");
            jail.set_env("FINCERT_KMS_PREVIOUS_AWS_MAC_KEY_ID", "alias/fincert-mac");
            jail.set_env("FINCERT_KMS_PREVIOUS_AWS_ACCESS_KEY_ID", "AKIAEXAMPLE");
            jail.set_env(
                "FINCERT_KMS_PREVIOUS_AWS_SECRET_ACCESS_KEY",
                "previous-secret-91",
            );
            let s = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap();
            let previous = s.kms_previous.as_ref().unwrap();
            assert_eq!(previous.backend, super::KmsBackend::Aws);
            assert_eq!(previous.aws_key_id, "alias/fincert");
            assert_eq!(
                previous.aws_timeout_ms, 3000,
                "unset keys take the defaults"
            );
            assert_eq!(s.kms.backend, super::KmsBackend::Local);
            assert!(!format!("{s:?}").contains("previous-secret-91"));
            assert!(!s.to_redacted_toml().unwrap().contains("previous-secret-91"));
            jail.set_env("FINCERT_KMS_PREVIOUS_SURPRISE", "1");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "kms_previous.surprise");
            Ok(())
        });
    }
}
