//! What an operator is told about the settings in force: the effective configuration with
//! every secret redacted (`fincert config check`), and the development defaults still in
//! force on a node that looks deployed (a WARN line each at start, and listed by the check).
//!
//! **The rule.** A node is *deployed* when any of these holds: its database is PostgreSQL,
//! its listener is not a loopback address (`http.listen = 0.0.0.0:8080` serves the network),
//! or its KMS is AWS or a PKCS#11 HSM. The embedded default (SQLite, 127.0.0.1, local KMS) is a laptop and
//! stays quiet. On a deployed node, each of these is a warning: the development identity
//! verifier or message sender, the development outbox served over HTTP, the local KMS, HSM
//! keys created at first use, the CA created automatically at start (`pki.auto_init`), and a `pki.public_base_url` that is
//! `http://` or names a loopback host (it goes into every certificate's CRL and OCSP URLs).

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::{Adapter, Engine, KmsBackend, Settings, secret::REDACTED};

/// A development default in force on a deployed node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The dotted key to change.
    pub key: &'static str,
    /// What is wrong and what to do.
    pub message: &'static str,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl Settings {
    /// Whether the node looks deployed (see the module doc for the rule).
    pub fn is_deployed(&self) -> bool {
        let public_listener = self
            .http
            .listen
            .parse::<SocketAddr>()
            .is_ok_and(|a| !a.ip().is_loopback());
        self.engine() == Engine::Postgres
            || public_listener
            || self.kms.backend != KmsBackend::Local
    }

    /// The development defaults in force on a deployed node; none on the embedded default.
    pub fn development_warnings(&self) -> Vec<Warning> {
        if !self.is_deployed() {
            return Vec::new();
        }
        let e = &self.enrolment;
        let checks = [
            (
                e.identity_verifier == Adapter::Dev,
                "enrolment.identity_verifier",
                "the development identity verifier accepts anyone in the dev_customers table; \
                 use \"http\" with the identity service",
            ),
            (
                e.message_sender == Adapter::Dev,
                "enrolment.message_sender",
                "the development message sender delivers no SMS, codes stay in memory; use \
                 \"http\" with the telecom gateway",
            ),
            (
                e.expose_dev_outbox,
                "enrolment.expose_dev_outbox",
                "one-time codes are served over HTTP to anyone; turn it off",
            ),
            (
                self.kms.backend == KmsBackend::Local,
                "kms.backend",
                "the local KMS keeps its master key in a file beside the data; use \"aws\" or \
                 \"pkcs11\"",
            ),
            (
                self.kms.backend == KmsBackend::Pkcs11 && self.kms.pkcs11_create_keys,
                "kms.pkcs11_create_keys",
                "missing HSM keys are created at first use, so a wrong token or label starts \
                 with fresh keys; create them once with `fincert kms create-keys` and turn this \
                 off",
            ),
            (
                self.pki.auto_init,
                "pki.auto_init",
                "the CA is created automatically at start; set it to false and run `fincert ca \
                 init` once",
            ),
            (
                !public_url_is_deployable(&self.pki.public_base_url),
                "pki.public_base_url",
                "an http:// or loopback URL goes into every certificate's CRL and OCSP \
                 addresses; use the public https:// URL",
            ),
        ];
        checks
            .into_iter()
            .filter(|(on, _, _)| *on)
            .map(|(_, key, message)| Warning { key, message })
            .collect()
    }

    /// These settings with everything secret hidden: every [`super::Secret`] (by its
    /// serialization) and the password of the database URL, in its userinfo or its query.
    pub fn redacted(&self) -> Settings {
        let mut out = self.clone();
        out.database.url = redact_url(&self.database.url);
        out
    }

    /// The redacted settings as TOML (the file format fincert reads).
    pub fn to_redacted_toml(&self) -> Result<String, String> {
        toml::to_string(&self.redacted()).map_err(|e| e.to_string())
    }

    /// The redacted settings as JSON.
    pub fn to_redacted_json(&self) -> Result<String, String> {
        serde_json::to_string_pretty(&self.redacted()).map_err(|e| e.to_string())
    }
}

/// `https://` and not a loopback host.
fn public_url_is_deployable(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => true,
    };
    url.scheme() == "https" && !loopback
}

/// A database URL with its password replaced (userinfo and `password`/`sslpassword` query
/// parameters); an unparsable URL is hidden whole rather than risk printing it.
fn redact_url(raw: &str) -> String {
    if raw.is_empty() || raw.starts_with("sqlite:") {
        return raw.to_owned();
    }
    let Ok(mut url) = url::Url::parse(raw) else {
        return REDACTED.to_owned();
    };
    if url.password().is_some() && url.set_password(Some(REDACTED)).is_err() {
        return REDACTED.to_owned();
    }
    let secret_param = |k: &str| matches!(k, "password" | "sslpassword" | "sslkey_password");
    if url.query_pairs().any(|(k, _)| secret_param(&k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_param(&k) {
                    REDACTED.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_is_quiet() {
        let s = Settings::default();
        assert!(!s.is_deployed());
        assert!(s.development_warnings().is_empty());
    }

    #[test]
    fn a_deployed_node_with_development_defaults_is_warned() {
        for deploy in [
            |s: &mut Settings| s.database.url = "postgres://fincert@db/fincert".into(),
            |s: &mut Settings| s.http.listen = "0.0.0.0:8080".into(),
            |s: &mut Settings| s.kms.backend = KmsBackend::Aws,
        ] {
            let mut s = Settings::default();
            deploy(&mut s);
            assert!(s.is_deployed());
            let keys: Vec<_> = s.development_warnings().iter().map(|w| w.key).collect();
            let mut expected = vec![
                "enrolment.identity_verifier",
                "enrolment.message_sender",
                "kms.backend",
                "pki.auto_init",
                "pki.public_base_url",
            ];
            if s.kms.backend == KmsBackend::Aws {
                expected.retain(|k| *k != "kms.backend");
            }
            assert_eq!(keys, expected);
        }
    }

    #[test]
    fn a_production_configuration_is_quiet() {
        let mut s = Settings::default();
        s.database.url = "postgres://fincert@db/fincert".into();
        s.enrolment.identity_verifier = Adapter::Http;
        s.enrolment.message_sender = Adapter::Http;
        s.kms.backend = KmsBackend::Aws;
        s.pki.auto_init = false;
        s.pki.public_base_url = "https://cert.bank.example".into();
        assert!(s.development_warnings().is_empty());
        for url in [
            "http://cert.bank.example",
            "https://127.0.0.1:8443",
            "https://localhost",
            "https://[::1]",
        ] {
            s.pki.public_base_url = url.into();
            assert_eq!(
                s.development_warnings()
                    .iter()
                    .map(|w| w.key)
                    .collect::<Vec<_>>(),
                ["pki.public_base_url"],
                "{url}"
            );
        }
    }

    #[test]
    fn an_hsm_node_is_deployed_and_warned_about_keys_made_at_first_use() {
        let mut s = Settings::default();
        s.kms.backend = KmsBackend::Pkcs11;
        assert!(s.is_deployed());
        let keys = |s: &Settings| -> Vec<&str> {
            s.development_warnings().iter().map(|w| w.key).collect()
        };
        assert!(!keys(&s).contains(&"kms.backend"));
        assert!(!keys(&s).contains(&"kms.pkcs11_create_keys"));
        s.kms.pkcs11_create_keys = true;
        assert!(keys(&s).contains(&"kms.pkcs11_create_keys"));
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://fincert:s3cr%21t@db:5432/fincert?sslmode=require"),
            "postgres://fincert:%3Credacted%3E@db:5432/fincert?sslmode=require"
        );
        let r = redact_url("postgres://db/fincert?user=u&password=s3cret&sslmode=verify-full");
        assert!(!r.contains("s3cret"), "{r}");
        assert!(
            r.contains("sslmode=verify-full") && r.contains("user=u"),
            "{r}"
        );
        assert_eq!(
            redact_url("postgres://fincert@db/fincert"),
            "postgres://fincert@db/fincert"
        );
        assert_eq!(
            redact_url("sqlite://x.db?mode=rwc"),
            "sqlite://x.db?mode=rwc"
        );
        assert_eq!(redact_url("postgres://u:p@[bad"), REDACTED);
    }

    #[test]
    fn the_printed_configuration_holds_no_secret_and_reads_back() {
        let mut s = Settings::default();
        s.database.url = "postgres://fincert:pg-pass-123@db/fincert".into();
        s.kms.aws_secret_access_key = "aws-secret-456".into();
        s.enrolment.identity_secret = "identity-secret-789".into();
        s.http.trusted_proxies = vec![super::super::TrustedProxy::parse("10.0.0.0/8").unwrap()];
        s.http.metrics_listen = Some("0.0.0.0:9090".into());
        let text = s.to_redacted_toml().unwrap();
        let json = s.to_redacted_json().unwrap();
        for secret in ["pg-pass-123", "aws-secret-456", "identity-secret-789"] {
            assert!(!text.contains(secret), "{text}");
            assert!(!json.contains(secret), "{json}");
        }
        assert!(text.contains("<redacted>"));
        // The output is a configuration file fincert reads.
        let back: Settings = toml::from_str(&text).unwrap();
        assert_eq!(back.http.trusted_proxies, s.http.trusted_proxies);
        assert_eq!(back.http.metrics_listen, s.http.metrics_listen);
        let back: Settings = serde_json::from_str(&json).unwrap();
        assert_eq!(back.data_dir, s.data_dir);
    }
}
