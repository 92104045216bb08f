//! Typed settings: built-in defaults, then an optional TOML file, then `FINCERT_*` variables.
//!
//! The embedded default needs no configuration at all: a data directory `./fincert-data`, a
//! SQLite database inside it, and a listener on 127.0.0.1:8080.
//!
//! Environment variables name a key as `FINCERT_<SECTION>_<KEY>` for the known sections
//! (`FINCERT_DATABASE_URL` → `database.url`, `FINCERT_HTTP_LISTEN` → `http.listen`) and
//! `FINCERT_<KEY>` for top-level keys (`FINCERT_DATA_DIR` → `data_dir`). Settings are validated
//! once, here; a bad value stops start-up with one line naming the key and the problem. Unknown
//! keys, in the file or as `FINCERT_*` variables, are refused too: a typo must not silently
//! leave a default in force. The one exception is the variables Kubernetes injects for a
//! Service named `fincert` (`FINCERT_SERVICE_HOST`, `FINCERT_PORT_8080_TCP`…), matched exactly
//! by key and value shape in `service_links`.
//!
//! One file per section holds its struct(s), their defaults and the section's own `validate`
//! (`http`, `database`, `log`, `kms`, `custody`, `pki`, `auth`, `enrolment`, `signing`);
//! [`Secret`] has its own, and `check` what `fincert config check` shows (redaction and
//! the development-default warnings). This file keeps [`Settings`], loading (figment layering, the
//! environment mapping) and [`ConfigError`]. Config is a leaf: it must never import anything
//! from the rest of the crate (other modules build their own settings from these).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

mod audit;
mod auth;
mod check;
mod custody;
mod database;
mod enrolment;
mod http;
mod kms;
mod log;
mod pki;
mod secret;
mod service_links;
mod signing;

pub use audit::{AuditSettings, RetentionMode, WitnessKind};
pub use auth::AuthSettings;
pub use check::Warning;
pub use custody::CustodySettings;
pub use database::{DatabaseSettings, Engine};
pub use enrolment::{Adapter, EnrolmentSettings};
pub use http::{HttpSettings, TrustedProxy};
pub use kms::{KmsBackend, KmsSettings};
pub use log::{LogFormat, LogSettings};
pub use pki::{KEY_ALGORITHMS, PkiSettings, is_dotted_oid};
pub use secret::Secret;
pub use signing::SigningSettings;

use database::engine_of;

/// Sections whose keys may be set as `FINCERT_<SECTION>_<KEY>`.
const SECTIONS: &[&str] = &[
    "http",
    "database",
    "log",
    // Before `kms`: the longer prefix must be tried first.
    "kms_previous",
    "kms",
    "custody",
    "pki",
    "auth",
    "enrolment",
    "signing",
    "audit",
];

/// Every setting fincert reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded SQLite database and local key files live; created on start.
    pub data_dir: PathBuf,
    /// The HTTP listener and request limits.
    pub http: HttpSettings,
    /// The database connection.
    pub database: DatabaseSettings,
    /// Logging.
    pub log: LogSettings,
    /// The key management service.
    pub kms: KmsSettings,
    /// The backend fincert is moving away from, while `kms rewrap` moves its blobs to `kms`
    /// (absent otherwise): blobs it wrapped still open, and the MAC key of secrets only their
    /// holders know (PINs) stays reachable until each is re-bound at its holder's next use.
    pub kms_previous: Option<KmsSettings>,
    /// Key custody: activation limits, key algorithm.
    pub custody: CustodySettings,
    /// The certificate authority and certificate profiles.
    pub pki: PkiSettings,
    /// Sessions and tokens.
    pub auth: AuthSettings,
    /// The issuance procedure's partners.
    pub enrolment: EnrolmentSettings,
    /// Remote signing for institutions.
    pub signing: SigningSettings,
    /// Signed audit checkpoints and their witness.
    pub audit: AuditSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("fincert-data"),
            http: HttpSettings::default(),
            database: DatabaseSettings::default(),
            log: LogSettings::default(),
            kms: KmsSettings::default(),
            kms_previous: None,
            custody: CustodySettings::default(),
            pki: PkiSettings::default(),
            enrolment: EnrolmentSettings::default(),
            signing: SigningSettings::default(),
            auth: AuthSettings::default(),
            audit: AuditSettings::default(),
        }
    }
}

/// A configuration problem, displayed as one line naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {key}: {problem}")]
pub struct ConfigError {
    /// The dotted key, e.g. `database.url`.
    pub key: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    fn new(key: &str, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

impl Settings {
    /// Defaults, then `file` (if given, it must exist), then the process environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, Env::prefixed("FINCERT_"))
    }

    fn load_from(file: Option<&std::path::Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::new(
                    "config",
                    format!("file {} does not exist", path.display()),
                ));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // FINCERT_CONFIG names the file itself; FINCERT_OTP_SECRET_HEX and the API client's
        // FINCERT_API_URL, FINCERT_CLIENT_ID, FINCERT_CLIENT_SECRET and FINCERT_PIN are commands'
        // arguments given by environment (to keep secrets out of shell history and `ps`): none
        // is a setting.
        // kubelet's service-link variables for a Service named `fincert` (see
        // `service_links`): exactly those keys with values of kubelet's shape.
        let links: Vec<String> = env
            .iter()
            .filter(|(key, value)| service_links::is_service_link(key.as_str(), value))
            .map(|(key, _)| key.as_str().to_owned())
            .collect();
        let env = env
            .filter(move |key| !links.iter().any(|l| l.as_str() == key))
            .ignore(&[
                "CONFIG",
                "OTP_SECRET_HEX",
                "API_URL",
                "CLIENT_ID",
                "CLIENT_SECRET",
                "PIN",
            ])
            .map(|key| {
                let lower = key.as_str().to_ascii_lowercase();
                SECTIONS
                    .iter()
                    .find_map(|s| {
                        lower
                            .strip_prefix(s)
                            .and_then(|rest| rest.strip_prefix('_'))
                            .map(|rest| format!("{s}.{rest}"))
                    })
                    .unwrap_or(lower)
                    .into()
            });
        let settings: Settings = figment.merge(env).extract().map_err(|e| from_figment(&e))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every value that types alone do not, section by section (the first problem
    /// found is the one reported).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http.validate()?;
        self.database.validate()?;
        self.log.validate()?;
        self.kms.validate("kms")?;
        if let Some(previous) = &self.kms_previous {
            previous.validate("kms_previous")?;
            if previous.backend == self.kms.backend {
                // Within one backend a new key is a rotation: the backend itself opens blobs
                // under its old keys, and `kms rewrap` moves them.
                return Err(ConfigError::new(
                    "kms_previous.backend",
                    "must differ from kms.backend (a new key within one backend needs no previous backend: rotate and run kms rewrap)",
                ));
            }
        }
        self.custody.validate()?;
        self.pki.validate()?;
        self.auth.validate()?;
        self.enrolment.validate()?;
        self.signing.validate()?;
        self.audit.validate()?;
        if self.kms.backend != KmsBackend::Aws && !self.audit.aws_key_id.is_empty() {
            return Err(ConfigError::new(
                "audit.aws_key_id",
                "a checkpoint key in KMS needs kms.backend = \"aws\"",
            ));
        }
        if self.kms.backend != KmsBackend::Pkcs11 && self.pki.pkcs11_ca_keys {
            return Err(ConfigError::new(
                "pki.pkcs11_ca_keys",
                "CA keys in an HSM need kms.backend = \"pkcs11\"",
            ));
        }
        if self.kms.backend != KmsBackend::Aws && !self.pki.aws_root_key_id.is_empty() {
            // Named CA keys with the local backend would be silently unused.
            return Err(ConfigError::new(
                "pki.aws_root_key_id",
                "CA keys in KMS need kms.backend = \"aws\"",
            ));
        }
        Ok(())
    }

    /// The database URL in force: the configured one, or the SQLite file in `data_dir`.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("fincert.sqlite3").display()
            )
        } else {
            self.database.url.clone()
        }
    }

    /// The local keyring file in force.
    pub fn local_keyring_path(&self) -> PathBuf {
        self.keyring_path_of(&self.kms)
    }

    /// The local keyring file `kms` (the `kms` or `kms_previous` section) names.
    pub fn keyring_path_of(&self, kms: &KmsSettings) -> PathBuf {
        if kms.local_keyring.is_empty() {
            self.data_dir.join("kms").join("local-keyring.json")
        } else {
            PathBuf::from(&kms.local_keyring)
        }
    }

    /// The audit witness directory in force.
    pub fn audit_witness_path(&self) -> PathBuf {
        if self.audit.witness_dir.is_empty() {
            self.data_dir.join("audit-witness")
        } else {
            PathBuf::from(&self.audit.witness_dir)
        }
    }

    /// The trust-anchor directory in force.
    pub fn trust_anchors_path(&self) -> PathBuf {
        if self.pki.trust_anchors_dir.is_empty() {
            self.data_dir.join("trust-anchors")
        } else {
            PathBuf::from(&self.pki.trust_anchors_dir)
        }
    }

    /// The engine the database URL in force selects.
    pub fn engine(&self) -> Engine {
        // validate() has checked any configured URL; the default is SQLite.
        engine_of(&self.database_url()).unwrap_or(Engine::Sqlite)
    }

    /// The listen address (validated).
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.http
            .listen
            .parse()
            .map_err(|_| ConfigError::new("http.listen", "is not host:port"))
    }

    /// Time in-flight requests get after a stop signal.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.http.shutdown_timeout_secs)
    }
}

/// Turns figment's error into one line naming the key and where the bad value came from.
fn from_figment(error: &figment::Error) -> ConfigError {
    let key = if error.path.is_empty() {
        "config".to_string()
    } else {
        error.path.join(".")
    };
    let source = error
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    // Never echo the bad value itself: it may be a secret in the wrong key.
    let problem = match &error.kind {
        figment::error::Kind::InvalidType(_, expected) => format!("expected {expected}"),
        figment::error::Kind::InvalidValue(_, expected) => format!("expected {expected}"),
        figment::error::Kind::UnknownField(field, _) => format!("unknown key {field:?}"),
        figment::error::Kind::UnknownVariant(_, expected) => {
            format!("expected one of {}", expected.join(", "))
        }
        other => other.to_string(),
    };
    let key = match &error.kind {
        figment::error::Kind::UnknownField(field, _) if !key.ends_with(field.as_str()) => {
            if key == "config" {
                field.clone()
            } else {
                format!("{key}.{field}")
            }
        }
        _ => key,
    };
    ConfigError::new(&key, format!("{problem}{source}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_mode() {
        let s = Settings::default();
        s.validate().unwrap();
        assert_eq!(s.engine(), Engine::Sqlite);
        assert!(s.database_url().starts_with("sqlite://fincert-data/"));
        assert_eq!(s.listen_addr().unwrap().to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn env_keys_map_to_sections() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FINCERT_DATABASE_URL", "postgres://u@127.0.0.1/db");
            jail.set_env("FINCERT_HTTP_LISTEN", "127.0.0.1:9999");
            jail.set_env("FINCERT_DATA_DIR", "/tmp/x");
            jail.set_env("FINCERT_LOG_FORMAT", "json");
            let s = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap();
            assert_eq!(s.engine(), Engine::Postgres);
            assert_eq!(s.http.listen, "127.0.0.1:9999");
            assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
            assert_eq!(s.log.format, LogFormat::Json);
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FINCERT_DATABASE_URL", "mysql://x");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "database.url");
            assert!(
                e.to_string()
                    .starts_with("configuration error: database.url: unsupported scheme")
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("FINCERT_HTTP_MAX_BODY_BYTES", "lots");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "http.max_body_bytes");
            assert!(
                !e.to_string().contains("lots"),
                "the bad value is not echoed: {e}"
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("FINCERT_HTTP_LISTEN", "nowhere");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert_eq!(e.key, "http.listen");
            Ok(())
        });
    }

    #[test]
    fn toml_file_is_layered_under_env() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "fincert.toml",
                "data_dir = \"/srv/fincert\"\n[http]\nlisten = \"0.0.0.0:8443\"\n",
            )?;
            jail.set_env("FINCERT_HTTP_LISTEN", "127.0.0.1:7000");
            let s = Settings::load_from(
                Some(std::path::Path::new("fincert.toml")),
                Env::prefixed("FINCERT_"),
            )
            .unwrap();
            assert_eq!(s.data_dir, PathBuf::from("/srv/fincert"));
            assert_eq!(s.http.listen, "127.0.0.1:7000");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("fincert.toml", "[http]\nlisten_port = 80\n")?;
            let e = Settings::load_from(
                Some(std::path::Path::new("fincert.toml")),
                Env::prefixed("FINCERT_"),
            )
            .unwrap_err();
            assert_eq!(e.key, "http.listen_port");
            Ok(())
        });
    }

    #[test]
    fn the_tests_ocsp_poll_trust_cannot_be_set_from_a_file_or_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("fincert.toml", "[pki]\nocsp_poll_trust_for_tests = 3600\n")?;
            let e = Settings::load_from(
                Some(std::path::Path::new("fincert.toml")),
                Env::prefixed("FINCERT_"),
            )
            .unwrap_err();
            assert_eq!(e.key, "pki.ocsp_poll_trust_for_tests");
            jail.create_file("fincert.toml", "")?;
            jail.set_env("FINCERT_PKI_OCSP_POLL_TRUST_FOR_TESTS", "3600");
            let e = Settings::load_from(
                Some(std::path::Path::new("fincert.toml")),
                Env::prefixed("FINCERT_"),
            )
            .unwrap_err();
            assert_eq!(e.key, "pki.ocsp_poll_trust_for_tests");
            Ok(())
        });
    }
}
