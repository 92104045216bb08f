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
//! leave a default in force.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Sections whose keys may be set as `FINCERT_<SECTION>_<KEY>`.
const SECTIONS: &[&str] = &[
    "http",
    "database",
    "log",
    "kms",
    "custody",
    "pki",
    "auth",
    "enrolment",
    "signing",
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
}

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

/// CA and certificate profile settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiSettings {
    /// Base URL under which CA certificates, the CRL and OCSP are published (goes into every
    /// certificate's CRL distribution point and AIA).
    pub public_base_url: String,
    /// Key algorithm of the CA keys: `rsa2048` or `p256`.
    pub ca_algorithm: String,
    /// Key algorithm of users' cloud keys: `rsa2048` or `p256`.
    pub user_key_algorithm: String,
    /// Create a development CA on first start if none exists.
    pub auto_init: bool,
    /// The CA's name (`O=` of every certificate).
    pub organization: String,
    /// The OID arc under which fincert's certificate policies sit. Policies are
    /// `<arc>.1.1` financial restricted-use, `<arc>.1.2` financial general-purpose,
    /// `<arc>.2.1` joint restricted-use, `<arc>.2.2` joint general-purpose.
    pub policy_arc: String,
    /// Renewal opens when this many days or fewer remain.
    pub renewal_window_days: u32,
    /// Hours a CRL is valid (its nextUpdate).
    pub crl_validity_hours: u32,
    /// Minutes an OCSP answer is valid (its nextUpdate).
    pub ocsp_validity_minutes: u32,
    /// Fee in KRW for general-purpose issuance and renewal.
    pub general_purpose_fee_krw: u32,
    /// Directory of trusted foreign CA certificates (PEM or DER) for registering certificates
    /// issued elsewhere; empty means `<data_dir>/trust-anchors`.
    pub trust_anchors_dir: String,
}

/// A configured secret: readable by the code that needs it, never by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"<redacted>\""
        })
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

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
}

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

/// Database connection settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://...` or `postgres://...`; empty means the SQLite file in `data_dir`.
    pub url: String,
    /// Largest number of pooled connections (PostgreSQL; SQLite always uses one writer).
    pub max_connections: u32,
    /// Seconds to wait for a connection before failing the request.
    pub connect_timeout_secs: u64,
    /// Milliseconds a statement waits for a row or table lock before the request fails with
    /// 503 (PostgreSQL `lock_timeout`; SQLite's busy timeout).
    pub lock_timeout_ms: u64,
    /// Milliseconds a statement may run before it is cancelled and the request fails with
    /// 503 (PostgreSQL `statement_timeout`).
    pub statement_timeout_ms: u64,
    /// Run pending migrations when `serve` starts.
    pub migrate_on_start: bool,
}

/// Logging settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `fincert=debug,actix_web=info`.
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("fincert-data"),
            http: HttpSettings {
                listen: "127.0.0.1:8080".into(),
                max_body_bytes: 64 * 1024,
                workers: 0,
                shutdown_timeout_secs: 30,
                request_timeout_secs: 10,
                trusted_proxies: Vec::new(),
            },
            database: DatabaseSettings {
                url: String::new(),
                max_connections: 10,
                connect_timeout_secs: 5,
                lock_timeout_ms: 2000,
                statement_timeout_ms: 5000,
                migrate_on_start: true,
            },
            log: LogSettings {
                format: LogFormat::Text,
                level: "info".into(),
            },
            kms: KmsSettings {
                backend: KmsBackend::Local,
                local_keyring: String::new(),
                aws_region: "ap-northeast-2".into(),
                aws_endpoint_url: String::new(),
                aws_key_id: String::new(),
                aws_mac_key_id: String::new(),
                aws_access_key_id: String::new(),
                aws_secret_access_key: Secret::default(),
                aws_timeout_ms: 3000,
            },
            custody: CustodySettings {
                activation_ttl_secs: 300,
                activation_max_signatures: 10,
                max_live_activations: 100_000,
                max_pin_failures: 5,
            },
            pki: PkiSettings {
                public_base_url: "http://127.0.0.1:8080".into(),
                ca_algorithm: "rsa2048".into(),
                user_key_algorithm: "rsa2048".into(),
                auto_init: true,
                organization: "fincert".into(),
                // Under 1.3.6.1.4.1.32473, the enterprise number IANA reserves for
                // documentation (RFC 5612): fine for development, obviously not a production
                // policy. Production sets the operator's registered arc.
                policy_arc: "1.3.6.1.4.1.32473.410".into(),
                renewal_window_days: 30,
                crl_validity_hours: 24,
                ocsp_validity_minutes: 60,
                general_purpose_fee_krw: 4400,
                trust_anchors_dir: String::new(),
            },
            enrolment: EnrolmentSettings {
                identity_verifier: Adapter::Dev,
                identity_url: String::new(),
                identity_secret: Secret::default(),
                message_sender: Adapter::Dev,
                message_url: String::new(),
                message_secret: Secret::default(),
                partner_timeout_ms: 3000,
                expose_dev_outbox: false,
            },
            signing: SigningSettings {
                requests_per_institution_per_minute: 600,
                token_requests_per_client_per_minute: 60,
                allow_http_webhooks: false,
                webhook_max_attempts: 8,
                webhook_backoff_secs: 10,
                webhook_timeout_ms: 5000,
                group_commit_max_batch: 64,
            },
            auth: AuthSettings {
                issuer: String::new(),
                audience: "fincert".into(),
                access_ttl_secs: 300,
                refresh_ttl_secs: 3600,
                token_key_rotation_days: 30,
                sign_in_per_ip_per_minute: 30,
                sign_in_per_certificate_per_minute: 10,
                webauthn_rp_id: "localhost".into(),
                webauthn_origin: "http://localhost:8080".into(),
            },
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

/// The database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded default.
    Sqlite,
    /// Production.
    Postgres,
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
        let env = env
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

    /// Checks every value that types alone do not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http.listen.parse::<SocketAddr>().map_err(|_| {
            ConfigError::new(
                "http.listen",
                format!(
                    "{:?} is not host:port (for example 127.0.0.1:8080)",
                    self.http.listen
                ),
            )
        })?;
        if !(1024..=16 * 1024 * 1024).contains(&self.http.max_body_bytes) {
            return Err(ConfigError::new(
                "http.max_body_bytes",
                "must be between 1024 and 16777216",
            ));
        }
        if self.http.workers > 256 {
            return Err(ConfigError::new("http.workers", "must be at most 256"));
        }
        if !(1..=600).contains(&self.http.shutdown_timeout_secs) {
            return Err(ConfigError::new(
                "http.shutdown_timeout_secs",
                "must be between 1 and 600",
            ));
        }
        if self
            .http
            .trusted_proxies
            .iter()
            .any(|p| p.parse::<std::net::IpAddr>().is_err())
        {
            return Err(ConfigError::new(
                "http.trusted_proxies",
                "every entry must be an IP address",
            ));
        }
        if !(1..=300).contains(&self.http.request_timeout_secs) {
            return Err(ConfigError::new(
                "http.request_timeout_secs",
                "must be between 1 and 300",
            ));
        }
        if !self.database.url.is_empty() {
            engine_of(&self.database.url)?;
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            return Err(ConfigError::new(
                "database.max_connections",
                "must be between 1 and 1000",
            ));
        }
        if !(1..=300).contains(&self.database.connect_timeout_secs) {
            return Err(ConfigError::new(
                "database.connect_timeout_secs",
                "must be between 1 and 300",
            ));
        }
        if !(10..=600_000).contains(&self.database.lock_timeout_ms) {
            return Err(ConfigError::new(
                "database.lock_timeout_ms",
                "must be between 10 and 600000",
            ));
        }
        if !(10..=3_600_000).contains(&self.database.statement_timeout_ms) {
            return Err(ConfigError::new(
                "database.statement_timeout_ms",
                "must be between 10 and 3600000",
            ));
        }
        if self.database.statement_timeout_ms < self.database.lock_timeout_ms {
            return Err(ConfigError::new(
                "database.statement_timeout_ms",
                "must not be shorter than database.lock_timeout_ms",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError::new("log.level", e.to_string()))?;
        if self.kms.backend == KmsBackend::Aws {
            if self.kms.aws_key_id.is_empty() {
                return Err(ConfigError::new(
                    "kms.aws_key_id",
                    "required when kms.backend = \"aws\"",
                ));
            }
            if self.kms.aws_mac_key_id.is_empty() {
                return Err(ConfigError::new(
                    "kms.aws_mac_key_id",
                    "required when kms.backend = \"aws\"",
                ));
            }
            if self.kms.aws_access_key_id.is_empty()
                != self.kms.aws_secret_access_key.expose().is_empty()
            {
                return Err(ConfigError::new(
                    "kms.aws_secret_access_key",
                    "set both static credentials or neither",
                ));
            }
        }
        if !(100..=60_000).contains(&self.kms.aws_timeout_ms) {
            return Err(ConfigError::new(
                "kms.aws_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        if !(1..=86_400).contains(&self.custody.activation_ttl_secs) {
            return Err(ConfigError::new(
                "custody.activation_ttl_secs",
                "must be between 1 and 86400",
            ));
        }
        if !(1..=10_000).contains(&self.custody.activation_max_signatures) {
            return Err(ConfigError::new(
                "custody.activation_max_signatures",
                "must be between 1 and 10000",
            ));
        }
        for (key, value) in [
            ("pki.ca_algorithm", &self.pki.ca_algorithm),
            ("pki.user_key_algorithm", &self.pki.user_key_algorithm),
        ] {
            if crate::custody::keys::KeyAlgorithm::parse(value).is_none() {
                return Err(ConfigError::new(key, "must be rsa2048 or p256"));
            }
        }
        if !(self.pki.public_base_url.starts_with("http://")
            || self.pki.public_base_url.starts_with("https://"))
            || self.pki.public_base_url.ends_with('/')
        {
            return Err(ConfigError::new(
                "pki.public_base_url",
                "must be an http(s) URL without a trailing slash",
            ));
        }
        if !is_dotted_oid(&self.pki.policy_arc) {
            return Err(ConfigError::new("pki.policy_arc", "must be a dotted OID"));
        }
        if self.pki.organization.is_empty() || self.pki.organization.len() > 64 {
            return Err(ConfigError::new(
                "pki.organization",
                "must be 1 to 64 characters",
            ));
        }
        if !(1..=365).contains(&self.pki.renewal_window_days) {
            return Err(ConfigError::new(
                "pki.renewal_window_days",
                "must be between 1 and 365",
            ));
        }
        if !(1..=24 * 30).contains(&self.pki.crl_validity_hours) {
            return Err(ConfigError::new(
                "pki.crl_validity_hours",
                "must be between 1 and 720",
            ));
        }
        if !(1..=24 * 60).contains(&self.pki.ocsp_validity_minutes) {
            return Err(ConfigError::new(
                "pki.ocsp_validity_minutes",
                "must be between 1 and 1440",
            ));
        }
        if !(30..=3600).contains(&self.auth.access_ttl_secs) {
            return Err(ConfigError::new(
                "auth.access_ttl_secs",
                "must be between 30 and 3600",
            ));
        }
        if !(60..=30 * 86_400).contains(&self.auth.refresh_ttl_secs) {
            return Err(ConfigError::new(
                "auth.refresh_ttl_secs",
                "must be between 60 and 2592000",
            ));
        }
        if !(1..=365).contains(&self.auth.token_key_rotation_days) {
            return Err(ConfigError::new(
                "auth.token_key_rotation_days",
                "must be between 1 and 365",
            ));
        }
        if !(1..=100_000).contains(&self.auth.sign_in_per_ip_per_minute) {
            return Err(ConfigError::new(
                "auth.sign_in_per_ip_per_minute",
                "must be between 1 and 100000",
            ));
        }
        if !(1..=1000).contains(&self.auth.sign_in_per_certificate_per_minute) {
            return Err(ConfigError::new(
                "auth.sign_in_per_certificate_per_minute",
                "must be between 1 and 1000",
            ));
        }
        if !(self.auth.webauthn_origin.starts_with("https://")
            || self.auth.webauthn_origin.starts_with("http://localhost"))
        {
            return Err(ConfigError::new(
                "auth.webauthn_origin",
                "must be https:// (or http://localhost in development)",
            ));
        }
        if self.auth.webauthn_rp_id.is_empty()
            || !self
                .auth
                .webauthn_origin
                .contains(&self.auth.webauthn_rp_id)
        {
            return Err(ConfigError::new(
                "auth.webauthn_rp_id",
                "must be the origin's domain or a parent of it",
            ));
        }
        if self.auth.audience.is_empty() || self.auth.audience.len() > 128 {
            return Err(ConfigError::new(
                "auth.audience",
                "must be 1 to 128 characters",
            ));
        }
        for (adapter, url, secret, name) in [
            (
                self.enrolment.identity_verifier,
                &self.enrolment.identity_url,
                &self.enrolment.identity_secret,
                "identity",
            ),
            (
                self.enrolment.message_sender,
                &self.enrolment.message_url,
                &self.enrolment.message_secret,
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
        if self.enrolment.expose_dev_outbox && self.enrolment.message_sender != Adapter::Dev {
            return Err(ConfigError::new(
                "enrolment.expose_dev_outbox",
                "only the dev message sender has an outbox to expose",
            ));
        }
        let sg = &self.signing;
        for (value, name, max) in [
            (
                sg.requests_per_institution_per_minute,
                "requests_per_institution_per_minute",
                1_000_000,
            ),
            (
                sg.token_requests_per_client_per_minute,
                "token_requests_per_client_per_minute",
                100_000,
            ),
            (sg.webhook_max_attempts, "webhook_max_attempts", 20),
            (sg.webhook_backoff_secs, "webhook_backoff_secs", 3600),
            (sg.group_commit_max_batch, "group_commit_max_batch", 1000),
        ] {
            if !(1..=max).contains(&value) {
                return Err(ConfigError::new(
                    &format!("signing.{name}"),
                    format!("must be between 1 and {max}"),
                ));
            }
        }
        if !(100..=60_000).contains(&sg.webhook_timeout_ms) {
            return Err(ConfigError::new(
                "signing.webhook_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        if !(100..=60_000).contains(&self.enrolment.partner_timeout_ms) {
            return Err(ConfigError::new(
                "enrolment.partner_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        if !(1..=10).contains(&self.custody.max_pin_failures) {
            return Err(ConfigError::new(
                "custody.max_pin_failures",
                "must be between 1 and 10",
            ));
        }
        if !(1..=10_000_000).contains(&self.custody.max_live_activations) {
            return Err(ConfigError::new(
                "custody.max_live_activations",
                "must be between 1 and 10000000",
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
        if self.kms.local_keyring.is_empty() {
            self.data_dir.join("kms").join("local-keyring.json")
        } else {
            PathBuf::from(&self.kms.local_keyring)
        }
    }

    /// Token settings in force.
    pub fn token_settings(&self) -> crate::auth::tokens::TokenSettings {
        let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(300));
        crate::auth::tokens::TokenSettings {
            issuer: if self.auth.issuer.is_empty() {
                self.pki.public_base_url.clone()
            } else {
                self.auth.issuer.clone()
            },
            audience: self.auth.audience.clone(),
            access_ttl: secs(self.auth.access_ttl_secs),
            refresh_ttl: secs(self.auth.refresh_ttl_secs),
            key_rotation: chrono::Duration::days(i64::from(self.auth.token_key_rotation_days)),
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

/// A dotted OID whose arcs each fit in 32 bits (the OID library's limit; it must never see
/// anything else, as it panics on overflow in debug builds) and that is short enough to leave
/// room for the policy suffixes.
pub fn is_dotted_oid(s: &str) -> bool {
    let arcs: Vec<&str> = s.split('.').collect();
    arcs.len() >= 2
        && arcs.len() <= 20
        && arcs.iter().all(|a| {
            !a.is_empty()
                && a.len() <= 10
                && a.bytes().all(|b| b.is_ascii_digit())
                && a.parse::<u32>().is_ok()
        })
        && arcs[0].parse::<u32>().is_ok_and(|first| first <= 2)
        && s.parse::<const_oid::ObjectIdentifier>().is_ok()
}

fn engine_of(url: &str) -> Result<Engine, ConfigError> {
    if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Engine::Postgres)
    } else {
        let scheme = url.split(':').next().unwrap_or_default();
        Err(ConfigError::new(
            "database.url",
            format!("unsupported scheme {scheme:?} (expected sqlite: or postgres://)"),
        ))
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
    fn policy_arcs_are_checked_without_panicking() {
        assert!(is_dotted_oid("1.3.6.1.4.1.32473.410"));
        assert!(is_dotted_oid("1.2.410.200005.1"));
        for bad in [
            "",
            "2",
            "2.25.311202852304066711612190233987197508619",
            "2.999.1",
            "1..2",
            "3.1",
            "1.2.x",
            "1.2.-3",
        ] {
            assert!(!is_dotted_oid(bad), "{bad}");
        }
    }

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
}
