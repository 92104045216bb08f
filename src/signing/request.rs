//! Signature requests as a domain: what an institution may ask for, parsed and checked at the
//! edge. The **canonical digest** every approval commits to (dynamic linking) is in the
//! `canonical` submodule; the digest type itself in `domain::digest`.
//!
//! ```text
//!             approve (PIN or passkey over the canonical digest)
//!   pending ───────────────────────────────────────────────▶ signed
//!      │  └──── reject ─────────────────────────────────────▶ rejected
//!      └─────── expires_at passes ──────────────────────────▶ expired
//! ```
//! A request leaves `pending` exactly once: the change is a conditional update that only one
//! approval or rejection can win.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::Duration;

use uuid::Uuid;

use crate::custody::keys::SignatureScheme;
use crate::domain::display_text::{DisplayText, DisplayTextError};
pub use crate::domain::usage::usage_allows;

/// Most digests one request (one approval) may cover.
pub const MAX_DIGESTS: usize = 50;
/// Largest content a request may carry (for attached CMS or signing data directly).
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;
/// Longest display text, in characters.
pub const MAX_DISPLAY_CHARS: usize = crate::domain::display_text::MAX_CHARS;
/// Default and bounds of a request's lifetime.
pub const DEFAULT_EXPIRY_SECS: i64 = 300;
const MIN_EXPIRY_SECS: i64 = 30;
const MAX_EXPIRY_SECS: i64 = 900;

/// Why a request was refused as malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A field is missing, malformed or out of bounds; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// The display text holds a character that could make it look other than it is.
    #[error("{0}")]
    DisplayText(DisplayTextError),
}

fn invalid(msg: impl Into<String>) -> RequestError {
    RequestError::Invalid(msg.into())
}

pub use fincert_client::proto::institutions::{Algorithm, Format, NewRequestBody, Purpose, Status};

pub use self::canonical::{Canonical, approval_challenge};
pub use crate::domain::digest::{Digest, DigestError};

mod canonical;

impl From<DigestError> for RequestError {
    fn from(e: DigestError) -> Self {
        invalid(e.to_string())
    }
}

impl From<DigestError> for super::SigningError {
    fn from(e: DigestError) -> Self {
        Self::Invalid(e.into())
    }
}

/// The custody side of a wire [`Algorithm`].
pub trait AlgorithmExt {
    /// The custody signature scheme.
    fn scheme(self) -> SignatureScheme;
}

impl AlgorithmExt for Algorithm {
    fn scheme(self) -> SignatureScheme {
        match self {
            Self::RsaPkcs1Sha256 => SignatureScheme::RsaPkcs1Sha256,
            Self::RsaPssSha256 => SignatureScheme::RsaPssSha256,
            Self::EcdsaP256Sha256 => SignatureScheme::EcdsaP256Sha256,
        }
    }
}

/// The default algorithm for a key.
pub fn default_algorithm(key: crate::custody::keys::KeyAlgorithm) -> Algorithm {
    match key {
        crate::custody::keys::KeyAlgorithm::Rsa2048 => Algorithm::RsaPkcs1Sha256,
        crate::custody::keys::KeyAlgorithm::P256 => Algorithm::EcdsaP256Sha256,
    }
}

/// Which certificate a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This certificate.
    Certificate(Uuid),
    /// The user's newest active certificate consented to this institution.
    User(String),
}

/// A parsed, valid new request.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// Which certificate.
    pub target: Target,
    /// Sign or login.
    pub purpose: Purpose,
    /// Content, when sent.
    pub content: Option<Vec<u8>>,
    /// The digests to sign (the content's, when content was sent).
    pub digests: Vec<Digest>,
    /// Display text.
    pub display_text: String,
    /// Output.
    pub format: Format,
    /// Algorithm, if chosen.
    pub algorithm: Option<Algorithm>,
    /// Lifetime.
    pub expires_in: Duration,
    /// Webhook target.
    pub webhook_url: Option<String>,
}

impl NewRequest {
    /// Checks every field of a body. `allow_http_webhooks` admits `http://` webhooks to
    /// loopback hosts (development and tests); otherwise only `https://` is accepted.
    pub fn parse(body: NewRequestBody, allow_http_webhooks: bool) -> Result<Self, RequestError> {
        let target = match (body.certificate_id, body.user_ref) {
            (Some(id), None) => Target::Certificate(id),
            (None, Some(r)) if !r.is_empty() && r.len() <= 128 => Target::User(r),
            (None, Some(_)) => return Err(invalid("user_ref must be 1 to 128 characters")),
            _ => return Err(invalid("give exactly one of certificate_id and user_ref")),
        };
        let format = body.format.unwrap_or(Format::Raw);
        let (content, digests) = match (body.content, body.digests) {
            (Some(c), None) => {
                let bytes = STANDARD
                    .decode(&c)
                    .map_err(|_| invalid("content is not valid base64"))?;
                if bytes.is_empty() || bytes.len() > MAX_CONTENT_BYTES {
                    return Err(invalid(format!(
                        "content must be 1 to {MAX_CONTENT_BYTES} bytes"
                    )));
                }
                let d = Digest::of(&bytes);
                (Some(bytes), vec![d])
            }
            (None, Some(ds)) => {
                if ds.is_empty() || ds.len() > MAX_DIGESTS {
                    return Err(invalid(format!(
                        "digests must hold 1 to {MAX_DIGESTS} items"
                    )));
                }
                let ds = ds
                    .iter()
                    .map(|d| Digest::parse_b64(d))
                    .collect::<Result<Vec<_>, _>>()?;
                (None, ds)
            }
            _ => return Err(invalid("give exactly one of content and digests")),
        };
        if format == Format::CmsAttached && content.is_none() {
            return Err(invalid("format cms-attached needs content"));
        }
        let display_text = parse_display_text(&body.display_text)?;
        let secs = body.expires_in.unwrap_or(DEFAULT_EXPIRY_SECS);
        if !(MIN_EXPIRY_SECS..=MAX_EXPIRY_SECS).contains(&secs) {
            return Err(invalid(format!(
                "expires_in must be {MIN_EXPIRY_SECS} to {MAX_EXPIRY_SECS} seconds"
            )));
        }
        let webhook_url = body
            .webhook_url
            .map(|u| parse_webhook_url(&u, allow_http_webhooks))
            .transpose()?;
        Ok(Self {
            target,
            purpose: Purpose::Sign,
            content,
            digests,
            display_text,
            format,
            algorithm: body.algorithm,
            expires_in: Duration::seconds(secs),
            webhook_url,
        })
    }
}

/// Display text: trimmed, NFC-normalised, 1..=500 characters, no format (bidi, zero-width),
/// control (but line feed) or separator characters (`domain::display_text`).
pub fn parse_display_text(raw: &str) -> Result<String, RequestError> {
    match DisplayText::parse(raw) {
        Ok(text) => Ok(text.into_string()),
        Err(DisplayTextError::Length) => Err(invalid(DisplayTextError::Length.to_string())),
        Err(e) => Err(RequestError::DisplayText(e)),
    }
}

/// A webhook URL: `https://`, or `http://` to a loopback host when allowed; no credentials or
/// fragment; at most 2,048 characters.
pub fn parse_webhook_url(raw: &str, allow_http: bool) -> Result<String, RequestError> {
    let url = reqwest::Url::parse(raw).map_err(|_| invalid("webhook_url is not a URL"))?;
    if raw.len() > 2048 || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "webhook_url must be at most 2048 characters, without credentials",
        ));
    }
    if url.fragment().is_some() || url.host_str().is_none() {
        return Err(invalid("webhook_url must name a host and have no fragment"));
    }
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if allow_http && loopback {
        return match url.scheme() {
            "http" | "https" => Ok(url.to_string()),
            _ => Err(invalid("webhook_url must use https")),
        };
    }
    if url.scheme() != "https" {
        return Err(invalid("webhook_url must use https"));
    }
    // Not a way into the service's own network: no loopback, private, shared, link-local or
    // unspecified address literals, no `localhost` or `.internal` names.
    let internal = match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || (ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64)
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
                || ip.to_ipv4_mapped().is_some()
        }
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal")
        }
        None => true,
    };
    if internal {
        return Err(invalid("webhook_url must name a public host"));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> NewRequestBody {
        NewRequestBody {
            certificate_id: Some(Uuid::nil()),
            user_ref: None,
            content: None,
            digests: Some(vec![STANDARD.encode([7u8; 32])]),
            display_text: "Transfer 10,000 KRW to Kim".into(),
            format: None,
            algorithm: None,
            expires_in: None,
            webhook_url: None,
        }
    }

    #[test]
    fn parses_defaults() {
        let r = NewRequest::parse(body(), false).unwrap();
        assert_eq!(r.format, Format::Raw);
        assert_eq!(r.expires_in, Duration::seconds(300));
        assert_eq!(r.digests, vec![Digest::from_bytes([7u8; 32])]);
        assert_eq!(r.target, Target::Certificate(Uuid::nil()));
    }

    #[test]
    fn refuses_bad_fields() {
        let cases: Vec<(fn(&mut NewRequestBody), &str)> = vec![
            (
                |b| b.user_ref = Some("u".into()),
                "exactly one of certificate_id",
            ),
            (|b| b.certificate_id = None, "exactly one of certificate_id"),
            (
                |b| b.content = Some("AA==".into()),
                "exactly one of content",
            ),
            (|b| b.digests = Some(vec![]), "1 to 50"),
            (|b| b.digests = Some(vec!["AAAA".into()]), "32 bytes"),
            (|b| b.digests = Some(vec!["!!".into()]), "base64"),
            (|b| b.display_text = "  ".into(), "display_text"),
            (|b| b.display_text = "a\u{7}b".into(), "control"),
            (
                |b| b.display_text = "pay 100\u{202e}0000001 KRW".into(),
                "bidi",
            ),
            (|b| b.display_text = "x".repeat(501), "display_text"),
            (|b| b.expires_in = Some(5), "expires_in"),
            (|b| b.expires_in = Some(3600), "expires_in"),
            (|b| b.format = Some(Format::CmsAttached), "needs content"),
            (
                |b| b.webhook_url = Some("http://example.com/hook".into()),
                "https",
            ),
            (
                |b| b.webhook_url = Some("https://u:p@example.com/".into()),
                "credentials",
            ),
            (
                |b| b.webhook_url = Some("ftp://example.com/".into()),
                "https",
            ),
            (
                |b| b.webhook_url = Some("https://10.1.2.3/h".into()),
                "public host",
            ),
            (
                |b| b.webhook_url = Some("https://169.254.169.254/x".into()),
                "public host",
            ),
            (
                |b| b.webhook_url = Some("https://[::1]/h".into()),
                "public host",
            ),
            (
                |b| b.webhook_url = Some("https://[fd00::1]/h".into()),
                "public host",
            ),
            (
                |b| b.webhook_url = Some("https://localhost/h".into()),
                "public host",
            ),
            (
                |b| b.webhook_url = Some("https://db.internal/".into()),
                "public host",
            ),
        ];
        for (mutate, expected) in cases {
            let mut b = body();
            mutate(&mut b);
            let err = NewRequest::parse(b, false).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
    }

    #[test]
    fn content_yields_its_digest_and_http_loopback_only_when_allowed() {
        let mut b = body();
        b.digests = None;
        b.content = Some(STANDARD.encode(b"hello"));
        b.format = Some(Format::CmsAttached);
        b.webhook_url = Some("http://127.0.0.1:9/hook".into());
        assert!(NewRequest::parse(b.clone(), false).is_err());
        let r = NewRequest::parse(b, true).unwrap();
        assert_eq!(r.digests, vec![Digest::of(b"hello")]);
        assert!(parse_webhook_url("https://hooks.bank.example/fincert", false).is_ok());
        assert!(parse_webhook_url("https://203.0.113.10/fincert", false).is_ok());
    }
}
