//! What handlers share to read a request: the signed-in [`User`], the calling
//! [`Institution`], the bearer token, the client address and the `Idempotency-Key`. Each
//! answers with an [`ApiError`] when the request does not carry what it needs; none of them
//! touches the database beyond resolving the caller.

use std::future::Future;
use std::pin::Pin as StdPin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};

use crate::{
    auth::tokens::{Audience, TokenError},
    custody::OwnerId,
    domain::{idempotency::IdempotencyKey, pin::Pin},
    error::ApiError,
    signing::{Caller, SigningError},
    state::AppState,
};

/// A PIN from a JSON body; a malformed one is a 400 `invalid_json` naming the rule it broke.
pub(super) fn parse_pin(raw: &str) -> Result<Pin, ApiError> {
    Pin::parse(raw).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The signed-in user of a request (a valid access token in `Authorization: Bearer`).
#[derive(Debug, Clone)]
pub struct User(pub OwnerId);

impl FromRequest for User {
    type Error = ApiError;
    type Future = StdPin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticated(req, |state, token| async move {
            let claims = state.tokens.verify_session(&state.db, &token).await?;
            let owner = OwnerId::parse(&claims.sub).map_err(|_| TokenError::Invalid)?;
            Ok(User(owner))
        })
    }
}

/// The institution calling (a valid institution access token in `Authorization: Bearer`).
#[derive(Debug, Clone)]
pub struct Institution(pub Caller);

impl FromRequest for Institution {
    type Error = ApiError;
    type Future = StdPin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticated(req, |state, token| async move {
            let claims = state.tokens.verify_for(&token, Audience::Institution)?;
            if state.signing.access_token_revoked(&claims.jti).await? {
                return Err(TokenError::Invalid.into());
            }
            let caller = state
                .signing
                .caller(&claims.sub, &claims.scope)
                .await
                .map_err(|e| match e {
                    SigningError::InstitutionNotFound => ApiError::from(TokenError::Invalid),
                    other => other.into(),
                })?;
            Ok(Institution(caller))
        })
    }
}

/// The future of a token extractor: the app state (a 500 when missing) and the bearer token (a
/// 401 when missing) go to `verify`, which turns them into the extracted value.
fn authenticated<T, F, Fut>(
    req: &HttpRequest,
    verify: F,
) -> StdPin<Box<dyn Future<Output = Result<T, ApiError>>>>
where
    F: FnOnce(web::Data<AppState>, String) -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let token = bearer_token(req);
    Box::pin(async move {
        let state = state.ok_or(ApiError::Internal)?;
        let token = token.ok_or(TokenError::Invalid)?;
        verify(state, token).await
    })
}

/// The token of an `Authorization: Bearer …` header, if the request has one.
pub fn bearer_token(req: &actix_web::HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

/// The client's address for rate limits and logs: the TCP peer, unless the peer is a
/// configured trusted proxy (an address or inside a CIDR network, see
/// `http.trusted_proxies`). Then `X-Forwarded-For` is walked from the right: each trusted hop
/// appended the address it saw, so the first entry that is not itself a trusted proxy is the
/// client; entries left of it are the client's own claims and are ignored. An entry that does
/// not parse ends the walk at the last trusted hop (never at a claim left of it).
pub fn client_ip(req: &actix_web::HttpRequest, settings: &crate::config::Settings) -> String {
    let proxies = &settings.http.trusted_proxies;
    let trusted = |ip: std::net::IpAddr| proxies.iter().any(|p| p.contains(ip));
    let Some(mut client) = req.peer_addr().map(|a| a.ip()) else {
        return String::new();
    };
    if trusted(client) {
        // Several headers are one list, in order (RFC 9110 §5.3).
        let hops = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<std::net::IpAddr>() else {
                break;
            };
            client = ip;
            if !trusted(ip) {
                break;
            }
        }
    }
    client.to_string()
}

/// The `Idempotency-Key` header, required and well-formed.
pub fn idempotency_key(req: &HttpRequest) -> Result<IdempotencyKey, ApiError> {
    let raw = req
        .headers()
        .get(IDEMPOTENCY_KEY)
        .ok_or(ApiError::InvalidHeader {
            name: "Idempotency-Key",
            problem: "is required on this request".into(),
        })?
        .to_str()
        .map_err(|_| ApiError::InvalidHeader {
            name: "Idempotency-Key",
            problem: "must be visible ASCII".into(),
        })?;
    IdempotencyKey::parse(raw).map_err(|e| ApiError::InvalidHeader {
        name: "Idempotency-Key",
        problem: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrustedProxy;
    use actix_web::test::TestRequest;

    #[test]
    fn client_ip_trusts_only_configured_proxies() {
        let mut settings = crate::config::Settings::default();
        let from_proxy = || {
            TestRequest::default()
                .peer_addr("10.0.0.5:4000".parse().unwrap())
                .insert_header(("x-forwarded-for", "1.1.1.1, 203.0.113.7"))
                .to_http_request()
        };
        assert_eq!(
            client_ip(&from_proxy(), &settings),
            "10.0.0.5",
            "untrusted peer: the header is ignored"
        );
        settings.http.trusted_proxies = vec![TrustedProxy::parse("10.0.0.5").unwrap()];
        assert_eq!(
            client_ip(&from_proxy(), &settings),
            "203.0.113.7",
            "the address the proxy appended, not the client's claim"
        );
        let direct = TestRequest::default()
            .peer_addr("198.51.100.9:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "1.2.3.4"))
            .to_http_request();
        assert_eq!(client_ip(&direct, &settings), "198.51.100.9");
    }

    #[test]
    fn client_ip_walks_trusted_networks_from_the_right() {
        let mut settings = crate::config::Settings::default();
        settings.http.trusted_proxies = ["10.0.0.0/8", "fd00::/8"]
            .iter()
            .map(|p| TrustedProxy::parse(p).unwrap())
            .collect();
        let via = |peer: &str, xff: &[&str]| {
            let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
            for h in xff {
                req = req.append_header(("x-forwarded-for", *h));
            }
            client_ip(&req.to_http_request(), &settings)
        };
        // ingress (10.1.2.3) behind a load balancer (10.9.9.9): both trusted, the client is
        // the address the load balancer saw.
        assert_eq!(
            via("10.1.2.3:80", &["6.6.6.6, 203.0.113.7, 10.9.9.9"]),
            "203.0.113.7"
        );
        assert_eq!(via("10.1.2.3:80", &["203.0.113.8"]), "203.0.113.8");
        assert_eq!(
            via("[fd00::5]:80", &["2001:db8::1"]),
            "2001:db8::1",
            "IPv6 proxy and client"
        );
        assert_eq!(
            via("10.1.2.3:80", &["6.6.6.6", "203.0.113.9"]),
            "203.0.113.9",
            "repeated headers are one list"
        );
        assert_eq!(
            via("10.1.2.3:80", &["203.0.113.7, garbage, 10.9.9.9"]),
            "10.9.9.9",
            "an unreadable hop stops the walk at the last trusted one"
        );
        assert_eq!(
            via("10.1.2.3:80", &["10.2.2.2, 10.9.9.9"]),
            "10.2.2.2",
            "all trusted: the leftmost hop"
        );
        assert_eq!(via("10.1.2.3:80", &[]), "10.1.2.3", "no header: the peer");
        assert_eq!(
            via("198.51.100.9:80", &["10.0.0.1"]),
            "198.51.100.9",
            "an untrusted peer's header is ignored"
        );
    }
}
