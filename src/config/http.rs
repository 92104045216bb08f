//! The `[http]` section: the listener, the optional metrics listener, request limits,
//! shutdown grace and trusted proxies ([`TrustedProxy`]: an address or a CIDR network, parsed
//! when the settings load).

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
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
    /// Reverse proxies (load balancer, ingress) in front of fincert: single addresses
    /// (`10.0.0.5`, `fd00::1`) or CIDR networks (`10.0.0.0/8`, `fd00::/8`). A request whose TCP
    /// peer is one of them is attributed to the rightmost `X-Forwarded-For` entry that is not a
    /// trusted proxy itself (each proxy appends the address it saw; entries left of the first
    /// untrusted one are the client's own claims and are ignored). Empty: always the TCP peer.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// A separate listener for `GET /metrics` (`host:port`, e.g. `0.0.0.0:9090`), so the
    /// public port does not serve it and a network policy can open it to Prometheus only.
    /// Unset: `/metrics` is served on the public listener.
    pub metrics_listen: Option<String>,
}

/// One `http.trusted_proxies` entry: an address (a network of one) or a CIDR network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustedProxy(IpNet);

impl TrustedProxy {
    /// Parses `10.0.0.5`, `10.0.0.0/8`, `fd00::1` or `fd00::/8`. A network written with host
    /// bits set (`10.0.0.5/8`) is refused: it is most likely a typo for something else.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Self(IpNet::from(ip)));
        }
        let net = s.parse::<IpNet>().map_err(|_| {
            "every entry must be an IP address or a CIDR network (10.0.0.0/8, fd00::/8)".to_string()
        })?;
        if net.trunc() != net {
            return Err(
                "a network has host bits set (write its network address, e.g. 10.0.0.0/8)".into(),
            );
        }
        Ok(Self(net))
    }

    /// Whether `ip` is this proxy (or inside this network). An IPv4-mapped IPv6 peer
    /// (`::ffff:10.0.0.5`, what a dual-stack listener reports) matches its IPv4 form.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.contains(&ip)
    }
}

impl TryFrom<String> for TrustedProxy {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<TrustedProxy> for String {
    fn from(p: TrustedProxy) -> Self {
        // A network of one prints as the bare address, as it is usually written.
        if p.0.prefix_len() == p.0.max_prefix_len() {
            p.0.addr().to_string()
        } else {
            p.0.to_string()
        }
    }
}

impl std::fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from(*self))
    }
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
            metrics_listen: None,
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
        // Each trusted_proxies entry was parsed (and checked) when the settings loaded.
        if let Some(metrics) = &self.metrics_listen {
            let addr = metrics.parse::<SocketAddr>().map_err(|_| {
                ConfigError::new(
                    "http.metrics_listen",
                    format!("{metrics:?} is not host:port (for example 0.0.0.0:9090)"),
                )
            })?;
            if addr.port() != 0 && self.listen.parse::<SocketAddr>().ok() == Some(addr) {
                return Err(ConfigError::new(
                    "http.metrics_listen",
                    "must differ from http.listen",
                ));
            }
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

#[cfg(test)]
mod tests {
    use figment::providers::Env;

    use super::super::Settings;
    use super::*;

    #[test]
    fn proxies_are_addresses_or_networks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let one = TrustedProxy::parse("10.0.0.5").unwrap();
        assert!(one.contains(ip("10.0.0.5")));
        assert!(!one.contains(ip("10.0.0.6")));
        let net = TrustedProxy::parse("10.8.0.0/14").unwrap();
        assert!(net.contains(ip("10.8.0.1")));
        assert!(net.contains(ip("10.11.255.254")));
        assert!(!net.contains(ip("10.12.0.1")));
        assert!(
            net.contains(ip("::ffff:10.9.1.1")),
            "an IPv4-mapped peer matches"
        );
        let v6 = TrustedProxy::parse("fd00:ab::/32").unwrap();
        assert!(v6.contains(ip("fd00:ab:1::7")));
        assert!(!v6.contains(ip("fd00:ac::1")));
        assert!(!v6.contains(ip("10.8.0.1")));
        assert!(TrustedProxy::parse("::1").unwrap().contains(ip("::1")));
        assert_eq!(String::from(one), "10.0.0.5");
        assert_eq!(String::from(net), "10.8.0.0/14");
        for bad in [
            "",
            "ingress",
            "10.0.0.0/33",
            "10.0.0.300",
            "10.0.0.5/8",
            "fd00::/129",
            "10.0.0.0/",
        ] {
            assert!(TrustedProxy::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn proxies_load_from_file_and_env_and_bad_ones_name_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "fincert.toml",
                "[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\", \"fd00::/8\"]\n",
            )?;
            let s = Settings::load_from(
                Some(std::path::Path::new("fincert.toml")),
                Env::prefixed("FINCERT_"),
            )
            .unwrap();
            assert_eq!(s.http.trusted_proxies.len(), 3);
            assert!(s.http.trusted_proxies[0].contains("10.1.2.3".parse().unwrap()));
            jail.set_env("FINCERT_HTTP_TRUSTED_PROXIES", "[\"10.0.0.0/8\", \"nope\"]");
            let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
            assert!(e.key.starts_with("http.trusted_proxies"), "{e}");
            assert!(e.problem.contains("CIDR"), "{e}");
            assert!(
                !e.to_string().contains("nope"),
                "the bad value is not echoed: {e}"
            );
            Ok(())
        });
    }

    #[test]
    fn metrics_listener_is_a_separate_socket_address() {
        let mut s = HttpSettings::default();
        s.validate().unwrap();
        s.metrics_listen = Some("0.0.0.0:9090".into());
        s.validate().unwrap();
        s.metrics_listen = Some("9090".into());
        assert_eq!(s.validate().unwrap_err().key, "http.metrics_listen");
        s.metrics_listen = Some(s.listen.clone());
        assert_eq!(s.validate().unwrap_err().key, "http.metrics_listen");
    }
}
