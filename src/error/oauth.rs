//! The RFC 6749 §5.2 rendering, `{"error": ..., "error_description": ...}`, which OAuth2 and
//! CSC clients expect from a token endpoint (and CSC from every route). The status comes from
//! the same [`Kind`] table as every other error; a 401 names the Basic realm and a 503 says
//! when to retry, as problem+json does.

use actix_web::{HttpResponse, http::StatusCode};
use fincert_client::proto::OAuthErrorBody;

use super::{Kind, OAuthErrorCode, RETRY_AFTER_SECS};
use crate::signing::SigningError;

/// An OAuth2 error answer.
#[derive(Debug)]
pub struct OAuthError {
    kind: Kind,
    error: OAuthErrorCode,
    description: String,
}

impl OAuthError {
    /// An answer of `kind` with the protocol's `error` code and a description.
    pub fn new(kind: Kind, error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            kind,
            error,
            description: description.into(),
        }
    }

    /// `invalid_request` (400).
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(
            Kind::BadRequest,
            OAuthErrorCode::InvalidRequest,
            description,
        )
    }

    /// Renders as an HTTP response.
    pub fn into_response(self) -> HttpResponse {
        let status = self.kind.status();
        let mut resp = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            resp.insert_header(("WWW-Authenticate", "Basic realm=\"fincert\""));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.insert_header(("Retry-After", RETRY_AFTER_SECS));
        }
        let code = self.error.as_str().to_owned();
        let mut resp = resp
            .insert_header(("Cache-Control", "no-store"))
            .json(OAuthErrorBody {
                error: self.error,
                error_description: self.description,
            });
        resp.extensions_mut().insert(super::ProblemCode(code));
        resp
    }
}

/// How the token endpoint reports a failure to authenticate a client: a rate limit is
/// `slow_down` (without `Retry-After`, unlike the problem+json 429), anything else an outage.
impl From<SigningError> for OAuthError {
    fn from(e: SigningError) -> Self {
        match e {
            SigningError::Limited(l) => Self::new(
                Kind::TooMany,
                OAuthErrorCode::SlowDown,
                format!(
                    "too many token requests; retry in {} seconds",
                    l.retry_after_secs
                ),
            ),
            e => {
                tracing::warn!(error = %e, "token endpoint failed");
                Self::new(
                    Kind::Unavailable,
                    OAuthErrorCode::TemporarilyUnavailable,
                    "retry later",
                )
            }
        }
    }
}
