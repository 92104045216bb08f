//! What an `oauth2/authorize` request asks, read from its query (pure: no database), and the
//! rules of its parts: redirect URIs (registration and exact match), PKCE S256 (RFC 7636),
//! the credential scope's parameters (CSC 2.0.0.2 §8.4.2, 1.0.4.0 §8.3.2) or
//! `authorization_details` (RFC 9396 as CSC 2.0 words it), and the redirect back.

use std::collections::HashMap;

use aws_lc_rs::{constant_time, digest};
use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64URL},
};
use uuid::Uuid;

use crate::signing::request::Digest;

/// SHA-256, the only hash algorithm a credential authorization names.
pub const SHA256_OID: &str = "2.16.840.1.101.3.4.2.1";

/// Longest redirect URI, state and description accepted.
const MAX_URI: usize = 512;
const MAX_STATE: usize = 512;
const MAX_DESCRIPTION: usize = 500;

/// Why a redirect URI cannot be registered.
pub fn parse_redirect_uri(raw: &str) -> Result<String, &'static str> {
    if raw.is_empty() || raw.len() > MAX_URI || raw.chars().any(char::is_control) {
        return Err("a redirect URI is 1 to 512 characters without control characters");
    }
    let url = url::Url::parse(raw).map_err(|_| "the redirect URI is not an absolute URI")?;
    if url.fragment().is_some() {
        return Err("a redirect URI has no fragment (RFC 6749 §3.1.2)");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a redirect URI carries no user information");
    }
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" if url.host().is_some() => Ok(raw.to_owned()),
        "http" if loopback => Ok(raw.to_owned()),
        _ => Err("a redirect URI is https (http only on a loopback host, for development)"),
    }
}

/// `code_challenge` of S256: base64url (no padding) of a SHA-256, 43 characters.
fn valid_challenge(c: &str) -> bool {
    c.len() == 43 && B64URL.decode(c).is_ok_and(|b| b.len() == 32)
}

/// Whether `verifier` has the shape RFC 7636 §4.1 gives a verifier: 43–128 unreserved
/// characters.
pub fn is_pkce_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Whether `verifier` is an RFC 7636 §4.1 verifier whose S256 is `challenge`, compared in
/// constant time.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let shape = is_pkce_verifier(verifier);
    let computed = B64URL.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    let equal = constant_time::verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes());
    shape & equal.is_ok()
}

/// Which CSC version's parameter names a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// 1.0.4.0: `hash`.
    V1,
    /// 2.0.0.2: `hashes`, `hashAlgorithmOID`, `authorization_details`.
    V2,
}

/// A refusal that goes back to the client's redirect URI (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `error`.
    pub error: &'static str,
    /// `error_description`.
    pub description: String,
}

impl Refusal {
    fn invalid(description: impl Into<String>) -> Self {
        Self {
            error: "invalid_request",
            description: description.into(),
        }
    }
}

/// What a client asks the holder for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// `scope=credential` (or `authorization_details`): signatures of one credential.
    Credential {
        /// The credential.
        credential_id: Uuid,
        /// The distinct hashes to sign (as many as `numSignatures`).
        hashes: Vec<Digest>,
    },
    /// `scope=service`: acting for the holder in the CSC service (listing and reading their
    /// credentials, asking for authorizations, each with its PIN).
    Service,
}

/// The authorization a client asks for, checked.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// The client's state, echoed.
    pub state: Option<String>,
    /// What is asked.
    pub asked: Asked,
    /// What the client says is signed (or why it asks).
    pub description: Option<String>,
}

/// The client's `state`, if it is one we can echo (checked before anything else is refused,
/// so refusals carry it too).
pub fn state_of(q: &HashMap<String, String>) -> Option<String> {
    q.get("state")
        .filter(|s| s.len() <= MAX_STATE && !s.chars().any(char::is_control))
        .cloned()
}

fn hash_list(raw: &str) -> Result<Vec<Digest>, Refusal> {
    raw.split(',')
        .map(|h| {
            let h = h.trim();
            let bytes = B64URL
                .decode(h.trim_end_matches('='))
                .or_else(|_| STANDARD.decode(h))
                .map_err(|_| Refusal::invalid("Invalid Base64 hash string parameter"))?;
            Digest::from_slice(&bytes).map_err(|_| Refusal::invalid("Invalid digest value length"))
        })
        .collect()
}

/// `authorization_details` (CSC 2.0): `[{"type": "credential", "credentialID",
/// "documentDigests": [{"hash", "label"}], "hashAlgorithmOID"}]`.
fn details(raw: &str) -> Result<(String, Vec<Digest>, Option<String>), Refusal> {
    let bad = || Refusal::invalid("Invalid parameter authorization_details");
    let v: serde_json::Value = serde_json::from_str(raw).map_err(|_| bad())?;
    let items = match &v {
        serde_json::Value::Array(a) if a.len() == 1 => &a[0],
        serde_json::Value::Object(_) => &v,
        _ => return Err(bad()),
    };
    if items.get("type").and_then(|t| t.as_str()) != Some("credential") {
        return Err(bad());
    }
    let id = items
        .get("credentialID")
        .and_then(|t| t.as_str())
        .ok_or_else(bad)?;
    if items.get("hashAlgorithmOID").and_then(|t| t.as_str()) != Some(SHA256_OID) {
        return Err(Refusal::invalid("Invalid parameter hashAlgorithmOID"));
    }
    let digests = items
        .get("documentDigests")
        .and_then(|d| d.as_array())
        .filter(|d| !d.is_empty())
        .ok_or_else(bad)?;
    let mut hashes = Vec::with_capacity(digests.len());
    let mut labels = Vec::new();
    for d in digests {
        let h = d.get("hash").and_then(|h| h.as_str()).ok_or_else(bad)?;
        hashes.extend(hash_list(h)?);
        if let Some(l) = d.get("label").and_then(|l| l.as_str()) {
            labels.push(l.to_owned());
        }
    }
    let label = (!labels.is_empty()).then(|| labels.join(", "));
    Ok((id.to_owned(), hashes, label))
}

/// Reads the rest of an authorize query once its client and redirect URI are known good:
/// `response_type`, PKCE, scope and the credential's parameters. `max_batch` bounds
/// `numSignatures`.
pub fn parse_ask(
    q: &HashMap<String, String>,
    dialect: Dialect,
    max_batch: u32,
) -> Result<Ask, Refusal> {
    match q.get("response_type").map(String::as_str) {
        Some("code") => {}
        None => return Err(Refusal::invalid("Missing parameter response_type")),
        Some(_) => {
            return Err(Refusal {
                error: "unsupported_response_type",
                description: "Only response_type=code is supported".into(),
            });
        }
    }
    match q.get("code_challenge_method").map(String::as_str) {
        Some("S256") => {}
        None => return Err(Refusal::invalid("code_challenge_method=S256 is required")),
        Some(_) => {
            return Err(Refusal::invalid(
                "Only code_challenge_method=S256 is supported",
            ));
        }
    }
    let code_challenge = q
        .get("code_challenge")
        .filter(|c| valid_challenge(c))
        .ok_or_else(|| Refusal::invalid("Missing or invalid parameter code_challenge"))?
        .clone();
    let state = state_of(q);
    if q.contains_key("state") && state.is_none() {
        return Err(Refusal::invalid("Invalid parameter state"));
    }
    let description = q.get("description").cloned();
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION || d.chars().any(char::is_control))
    {
        return Err(Refusal::invalid("Invalid parameter description"));
    }
    let scope = q.get("scope").map(String::as_str);
    let from_details = match (dialect, q.get("authorization_details")) {
        (Dialect::V2, Some(raw)) if scope.is_none() || scope == Some("credential") => {
            Some(details(raw)?)
        }
        _ => None,
    };
    let (id, hashes, label) = match from_details {
        Some(d) => d,
        None => {
            match scope {
                Some("credential") => {}
                Some("service") => {
                    // The service scope names no credential and no hash.
                    for p in [
                        "credentialID",
                        "numSignatures",
                        "hash",
                        "hashes",
                        "authorization_details",
                    ] {
                        if q.contains_key(p) {
                            return Err(Refusal::invalid(format!("Invalid parameter {p}")));
                        }
                    }
                    return Ok(Ask {
                        code_challenge,
                        state,
                        asked: Asked::Service,
                        description,
                    });
                }
                None => return Err(Refusal::invalid("Missing parameter scope")),
                Some(_) => {
                    return Err(Refusal {
                        error: "invalid_scope",
                        description: "Unknown scope".into(),
                    });
                }
            }
            let id = q
                .get("credentialID")
                .ok_or_else(|| Refusal::invalid("Missing parameter credentialID"))?;
            let (field, oid) = match dialect {
                Dialect::V1 => ("hash", None),
                Dialect::V2 => ("hashes", q.get("hashAlgorithmOID")),
            };
            if dialect == Dialect::V2 && oid.map(String::as_str) != Some(SHA256_OID) {
                return Err(Refusal::invalid(
                    "Missing or invalid parameter hashAlgorithmOID",
                ));
            }
            let raw = q
                .get(field)
                .ok_or_else(|| Refusal::invalid(format!("Missing parameter {field}")))?;
            let hashes = hash_list(raw)?;
            let num: u32 = q
                .get("numSignatures")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| Refusal::invalid("Missing or invalid parameter numSignatures"))?;
            if num as usize != hashes.len() {
                return Err(Refusal::invalid(
                    "Invalid value for parameter numSignatures",
                ));
            }
            (id.clone(), hashes, None)
        }
    };
    let credential_id =
        Uuid::parse_str(&id).map_err(|_| Refusal::invalid("Invalid parameter credentialID"))?;
    if hashes.len() > max_batch as usize {
        return Err(Refusal::invalid("Numbers of signatures is too high"));
    }
    if hashes
        .iter()
        .enumerate()
        .any(|(i, h)| hashes[..i].contains(h))
    {
        return Err(Refusal::invalid("A hash appears more than once"));
    }
    Ok(Ask {
        code_challenge,
        state,
        asked: Asked::Credential {
            credential_id,
            hashes,
        },
        description: description.or(label),
    })
}

/// `redirect_uri` with `params` (and `state`, when there is one) added to its query.
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)], state: Option<&str>) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
                if let Some(s) = state {
                    q.append_pair("state", s);
                }
            }
            url.to_string()
        }
        // Registered URIs parse (they were checked when registered).
        Err(_) => redirect_uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_verifies() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_s256_matches(verifier, challenge));
        assert!(!pkce_s256_matches(challenge, challenge));
        assert!(!pkce_s256_matches("short", challenge));
        assert!(valid_challenge(challenge));
        assert!(!valid_challenge("plain-text-verifier"));
    }

    #[test]
    fn redirect_uris_are_https_or_loopback_http() {
        assert!(parse_redirect_uri("https://bank.example/cb").is_ok());
        assert!(parse_redirect_uri("http://127.0.0.1:8443/cb").is_ok());
        assert!(parse_redirect_uri("http://localhost/cb").is_ok());
        assert!(parse_redirect_uri("http://[::1]:9/cb").is_ok());
        for bad in [
            "http://bank.example/cb",
            "https://bank.example/cb#frag",
            "https://user:pw@bank.example/cb",
            "javascript:alert(1)",
            "/relative",
            "",
        ] {
            assert!(parse_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn pkce_plain_and_missing_are_refused() {
        let h = B64URL.encode([7u8; 32]);
        let id = Uuid::new_v4().to_string();
        let mut q = query(&[
            ("response_type", "code"),
            ("scope", "credential"),
            ("credentialID", &id),
            ("numSignatures", "1"),
            ("hashes", &h),
            ("hashAlgorithmOID", SHA256_OID),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ]);
        let ask = parse_ask(&q, Dialect::V2, 10).unwrap();
        assert!(matches!(ask.asked, Asked::Credential { ref hashes, .. } if hashes.len() == 1));
        q.insert("code_challenge_method".into(), "plain".into());
        assert_eq!(
            parse_ask(&q, Dialect::V2, 10).unwrap_err().error,
            "invalid_request"
        );
        q.remove("code_challenge_method");
        assert_eq!(
            parse_ask(&q, Dialect::V2, 10).unwrap_err().error,
            "invalid_request"
        );
        q.insert("code_challenge_method".into(), "S256".into());
        q.insert("numSignatures".into(), "2".into());
        assert!(parse_ask(&q, Dialect::V2, 10).is_err());
        q.insert("numSignatures".into(), "1".into());
        q.insert("scope".into(), "other".into());
        assert_eq!(
            parse_ask(&q, Dialect::V2, 10).unwrap_err().error,
            "invalid_scope"
        );
        // The service scope names no credential or hash; PKCE S256 still required.
        q.insert("scope".into(), "service".into());
        assert_eq!(
            parse_ask(&q, Dialect::V2, 10).unwrap_err().description,
            "Invalid parameter credentialID"
        );
        for p in [
            "credentialID",
            "numSignatures",
            "hashes",
            "hashAlgorithmOID",
        ] {
            q.remove(p);
        }
        assert_eq!(
            parse_ask(&q, Dialect::V2, 10).unwrap().asked,
            Asked::Service
        );
        q.insert("code_challenge_method".into(), "plain".into());
        assert!(parse_ask(&q, Dialect::V2, 10).is_err());
    }

    #[test]
    fn the_redirect_keeps_the_registered_query_and_adds_state() {
        let u = redirect_with("https://b.example/cb?x=1", &[("code", "abc")], Some("s t"));
        assert_eq!(u, "https://b.example/cb?x=1&code=abc&state=s+t");
    }
}
