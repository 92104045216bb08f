//! Kubernetes service links: the variables kubelet injects into every pod created after a
//! Service named `fincert` exists (unless the pod says `enableServiceLinks: false`), which look
//! like `FINCERT_*` settings but are not.
//!
//! For a Service `fincert` with cluster IP `10.0.0.7` and a port `http` 80/TCP, kubelet sets:
//!
//! ```text
//! FINCERT_SERVICE_HOST=10.0.0.7             FINCERT_PORT=tcp://10.0.0.7:80
//! FINCERT_SERVICE_PORT=80                   FINCERT_PORT_80_TCP=tcp://10.0.0.7:80
//! FINCERT_SERVICE_PORT_HTTP=80              FINCERT_PORT_80_TCP_PROTO=tcp
//!                                           FINCERT_PORT_80_TCP_PORT=80
//!                                           FINCERT_PORT_80_TCP_ADDR=10.0.0.7
//! ```
//!
//! (one `SERVICE_PORT_<NAME>` per named port and one `PORT_<port>_<PROTO>` group per port;
//! protocols TCP, UDP, SCTP; IPv6 addresses in brackets inside the URLs). [`is_service_link`]
//! matches exactly these: the key's shape *and* a value of the shape kubelet writes. Anything
//! else stays an unknown key and is refused, so `FINCERT_PORT=8080` (someone expecting a listen
//! port) or `FINCERT_DATABASE_URLL` still stop start-up.

use std::net::IpAddr;

/// Whether `key` (without the `FINCERT_` prefix, any case) with `value` is a variable kubelet
/// injects for the Service `fincert`.
pub(super) fn is_service_link(key: &str, value: &str) -> bool {
    let key = key.to_ascii_uppercase();
    if key == "SERVICE_HOST" {
        return is_ip(value);
    }
    if key == "SERVICE_PORT" {
        return port(value).is_some();
    }
    if let Some(name) = key.strip_prefix("SERVICE_PORT_") {
        return is_port_name(name) && port(value).is_some();
    }
    if key == "PORT" {
        return url(value).is_some();
    }
    let Some(rest) = key.strip_prefix("PORT_") else {
        return false;
    };
    let mut parts = rest.splitn(3, '_');
    let (Some(number), Some(proto)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Some(number) = port(number) else {
        return false;
    };
    if !matches!(proto, "TCP" | "UDP" | "SCTP") {
        return false;
    }
    let proto = proto.to_ascii_lowercase();
    match parts.next() {
        None => url(value).is_some_and(|(p, _, n)| p == proto && n == number),
        Some("PROTO") => value == proto,
        Some("PORT") => port(value) == Some(number),
        Some("ADDR") => is_ip(value),
        Some(_) => false,
    }
}

fn is_ip(value: &str) -> bool {
    value.parse::<IpAddr>().is_ok()
}

/// A port number as kubelet writes it: 1 to 65535, decimal, no sign or leading zero.
fn port(value: &str) -> Option<u16> {
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u16>().ok().filter(|p| *p > 0)
}

/// A Service port name as kubelet writes it in a variable: the IANA service name (1 to 15
/// characters, letters, digits and `-`, at least one letter) upper-cased, `-` as `_`.
fn is_port_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && name.bytes().any(|b| b.is_ascii_uppercase())
        && !name.starts_with('_')
        && !name.ends_with('_')
}

/// `<proto>://<ip>:<port>` (IPv6 in brackets): protocol, address, port.
fn url(value: &str) -> Option<(&str, IpAddr, u16)> {
    let (proto, rest) = value.split_once("://")?;
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return None;
    }
    let (host, number) = rest.rsplit_once(':')?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6
            .strip_suffix(']')?
            .parse::<std::net::Ipv6Addr>()
            .ok()?
            .into(),
        None => host.parse::<std::net::Ipv4Addr>().ok()?.into(),
    };
    Some((proto, host, port(number)?))
}

#[cfg(test)]
mod tests {
    use figment::providers::Env;

    use super::{super::Settings, is_service_link};

    /// What kubelet injects for `Service fincert` with ports `http` 80→8080 and `metrics` 9090.
    const KUBELET: &[(&str, &str)] = &[
        ("FINCERT_SERVICE_HOST", "10.96.12.7"),
        ("FINCERT_SERVICE_PORT", "80"),
        ("FINCERT_SERVICE_PORT_HTTP", "80"),
        ("FINCERT_SERVICE_PORT_METRICS", "9090"),
        ("FINCERT_PORT", "tcp://10.96.12.7:80"),
        ("FINCERT_PORT_80_TCP", "tcp://10.96.12.7:80"),
        ("FINCERT_PORT_80_TCP_PROTO", "tcp"),
        ("FINCERT_PORT_80_TCP_PORT", "80"),
        ("FINCERT_PORT_80_TCP_ADDR", "10.96.12.7"),
        ("FINCERT_PORT_9090_TCP", "tcp://10.96.12.7:9090"),
        ("FINCERT_PORT_9090_TCP_PROTO", "tcp"),
        ("FINCERT_PORT_9090_TCP_PORT", "9090"),
        ("FINCERT_PORT_9090_TCP_ADDR", "10.96.12.7"),
    ];

    #[test]
    fn kubelet_variables_for_the_service_are_ignored() {
        figment::Jail::expect_with(|jail| {
            for (k, v) in KUBELET {
                jail.set_env(k, v);
            }
            jail.set_env("FINCERT_HTTP_LISTEN", "0.0.0.0:8080");
            let s = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap();
            assert_eq!(s.http.listen, "0.0.0.0:8080", "real settings still apply");
            Ok(())
        });
    }

    #[test]
    fn every_kubelet_shape_matches_ipv4_ipv6_and_protocols() {
        for (k, v) in KUBELET {
            assert!(
                is_service_link(k.strip_prefix("FINCERT_").unwrap(), v),
                "{k}={v}"
            );
        }
        for (k, v) in [
            ("SERVICE_HOST", "fd00:10:96::7"),
            ("PORT", "tcp://[fd00:10:96::7]:443"),
            ("PORT_443_TCP", "tcp://[fd00:10:96::7]:443"),
            ("PORT_443_TCP_ADDR", "fd00:10:96::7"),
            ("PORT_53_UDP", "udp://10.0.0.1:53"),
            ("PORT_53_UDP_PROTO", "udp"),
            ("PORT_9_SCTP_PORT", "9"),
            ("SERVICE_PORT_GRPC_WEB", "8081"),
            ("service_port_http", "80"),
        ] {
            assert!(is_service_link(k, v), "{k}={v}");
        }
    }

    #[test]
    fn near_misses_are_not_service_links() {
        for (k, v) in [
            // A port setting someone expected, not kubelet's URL.
            ("PORT", "8080"),
            ("SERVICE_HOST", "fincert.internal"),
            ("SERVICE_PORT", "http"),
            ("SERVICE_PORT", "0"),
            ("SERVICE_PORT", "65536"),
            ("SERVICE_PORT", "080"),
            ("SERVICE_PORT_", "80"),
            ("SERVICE_PORT_TOO_LONG_A_PORT_NAME", "80"),
            ("SERVICE_PORT_8080", "80"),
            ("SERVICE_HOSTS", "10.0.0.1"),
            ("PORT_8080", "tcp://10.0.0.1:8080"),
            ("PORT_8080_HTTP", "tcp://10.0.0.1:8080"),
            ("PORT_8080_TCP", "tcp://10.0.0.1:9090"),
            ("PORT_8080_TCP", "http://10.0.0.1:8080"),
            ("PORT_8080_TCP", "tcp://fincert:8080"),
            ("PORT_8080_TCP_PROTO", "udp"),
            ("PORT_8080_TCP_PORT", "9090"),
            ("PORT_8080_TCP_ADDR", "localhost"),
            ("PORT_8080_TCP_HOST", "10.0.0.1"),
            ("DATABASE_URLL", "postgres://x"),
        ] {
            assert!(!is_service_link(k, v), "{k}={v}");
        }
    }

    #[test]
    fn typos_and_look_alikes_are_still_refused() {
        for (k, v, key) in [
            (
                "FINCERT_DATABASE_URLL",
                "postgres://u@db/fincert",
                "database.urll",
            ),
            ("FINCERT_PORT", "8080", "port"),
            (
                "FINCERT_PORT_8080_TCP",
                "tcp://10.0.0.1:9090",
                "port_8080_tcp",
            ),
            ("FINCERT_SERVICE_HOST", "fincert", "service_host"),
        ] {
            figment::Jail::expect_with(|jail| {
                for (k, v) in KUBELET {
                    jail.set_env(k, v);
                }
                jail.set_env(k, v);
                let e = Settings::load_from(None, Env::prefixed("FINCERT_")).unwrap_err();
                assert_eq!(e.key, key, "{k}={v}");
                assert!(e.problem.starts_with("unknown key"), "{e}");
                Ok(())
            });
        }
    }
}
