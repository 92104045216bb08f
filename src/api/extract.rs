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
            let claims = state.tokens.verify(&token)?;
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
/// configured trusted proxy, in which case the last address in `X-Forwarded-For` (the one that
/// proxy appended; earlier entries are the client's own claims and are ignored).
pub fn client_ip(req: &actix_web::HttpRequest, settings: &crate::config::Settings) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    let trusted = peer.is_some_and(|p| {
        settings
            .http
            .trusted_proxies
            .iter()
            .any(|t| t.parse::<std::net::IpAddr>().is_ok_and(|t| t == p))
    });
    if trusted {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|last| last.trim().parse::<std::net::IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip.to_string();
        }
    }
    peer.map(|p| p.to_string()).unwrap_or_default()
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
        settings.http.trusted_proxies = vec!["10.0.0.5".into()];
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
}
