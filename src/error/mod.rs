//! The one place where failures become HTTP (kanidm's `https/errors.rs`). Domain modules
//! return their own error enums; one file here per module error maps it to an [`ApiError`]:
//! its stable `code`, its coarse [`Kind`], a title and a safe detail. [`Kind::status`] is the
//! one table from kind to HTTP status. The renderings:
//!
//! - `problem.rs`: RFC 7807 `application/problem+json`, every native route;
//! - `oauth.rs`: RFC 6749 §5.2 `{error, error_description}`, the token endpoints;
//! - `csc.rs`: the Cloud Signature Consortium's `{error, error_description}`, the CSC routes.
//!
//! `Retry-After` is data (seconds on the error and the problem), never read back from text.
//! Causes are logged (with the request id) and never returned: an error body holds no stack
//! trace, no SQL, and no secret.

mod auth;
mod csc;
mod custody;
mod extractor;
mod kind;
mod oauth;
mod pki;
mod problem;
mod signing;
mod store;

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};

pub use csc::CscError;
pub use extractor::{json_error, parse_json, path_error, query_error};
/// The stable codes of problems and of OAuth2/CSC errors: the wire types' own enums.
pub use fincert_client::proto::{ErrorCode, OAuthErrorCode};
pub use kind::Kind;
pub use oauth::OAuthError;
pub use problem::{PROBLEM_JSON, Problem, ProblemCode, ProblemDocument, RETRY_AFTER_SECS};

/// A failure as the API reports it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No route has this path.
    #[error("no such route")]
    RouteNotFound,
    /// The path exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The body is not the JSON the route expects.
    #[error("invalid JSON body: {0}")]
    InvalidJson(String),
    /// The body is not JSON at all (wrong content type).
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The body exceeds the configured limit.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The request target is longer than [`crate::transport::MAX_URI_BYTES`].
    #[error("the request target is longer than {limit} bytes")]
    UriTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The header fields add up to more than [`crate::transport::MAX_HEADER_BYTES`].
    #[error("the request's header fields are larger than {limit} bytes")]
    HeadersTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A query string parameter is malformed.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// A path parameter is malformed.
    #[error("invalid path parameter: {0}")]
    InvalidPath(String),
    /// A header is missing or malformed.
    #[error("invalid header {name}: {problem}")]
    InvalidHeader {
        /// Header name.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A dependency (database, KMS) is unavailable; nothing was changed.
    #[error("{dependency} unavailable")]
    Unavailable {
        /// Which dependency failed.
        dependency: &'static str,
    },
    /// Anything else; the cause was logged under the request id.
    #[error("internal error")]
    Internal,
    /// Any other status the framework produced without a body of ours.
    #[error("{0}")]
    Http(StatusCode),
    /// A domain rule refused the request; kind, code and title from the module's mapping.
    #[error("{detail}")]
    Rule {
        /// What sort of failure (the status comes from [`Kind::status`]).
        kind: Kind,
        /// Stable code.
        code: ErrorCode,
        /// Title of the problem type.
        title: &'static str,
        /// What happened (never a secret).
        detail: String,
        /// Seconds after which a retry may succeed (`Retry-After`), when the rule knows.
        retry_after: Option<u64>,
        /// A wrong PIN's wrong PINs left before the lock (the `tries_left` extension member),
        /// only where the caller is the certificate's identified holder.
        tries_left: Option<u32>,
    },
}

impl ApiError {
    pub(crate) fn rule(
        kind: Kind,
        code: ErrorCode,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::Rule {
            kind,
            code,
            title,
            detail: detail.into(),
            retry_after: None,
            tries_left: None,
        }
    }

    /// The same error, saying when to retry.
    pub(crate) fn with_retry_after(self, secs: u64) -> Self {
        match self {
            Self::Rule {
                kind,
                code,
                title,
                detail,
                tries_left,
                ..
            } => Self::Rule {
                kind,
                code,
                title,
                detail,
                retry_after: Some(secs),
                tries_left,
            },
            other => other,
        }
    }

    /// The same error, saying how many wrong PINs are left before the lock.
    pub(crate) fn with_tries_left(mut self, left: Option<u32>) -> Self {
        if let Self::Rule { tries_left, .. } = &mut self {
            *tries_left = left;
        }
        self
    }

    /// Wrong PINs left before the lock, for a wrong PIN told to its holder.
    pub fn tries_left(&self) -> Option<u32> {
        match self {
            Self::Rule { tries_left, .. } => *tries_left,
            _ => None,
        }
    }
}

impl ApiError {
    /// The stable code clients can switch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::RouteNotFound => ErrorCode::RouteNotFound,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::InvalidJson(_) => ErrorCode::InvalidJson,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            Self::UriTooLong { .. } => ErrorCode::UriTooLong,
            Self::HeadersTooLarge { .. } => ErrorCode::HeadersTooLarge,
            Self::InvalidQuery(_) => ErrorCode::InvalidQuery,
            Self::InvalidPath(_) => ErrorCode::InvalidPath,
            Self::InvalidHeader { .. } => ErrorCode::InvalidHeader,
            Self::Unavailable { .. } => ErrorCode::ServiceUnavailable,
            Self::Internal => ErrorCode::InternalError,
            Self::Http(status) => http_code(*status),
            Self::Rule { code, .. } => code.clone(),
        }
    }

    /// The coarse kind; `None` for a status the framework made without us.
    pub fn kind(&self) -> Option<Kind> {
        Some(match self {
            Self::RouteNotFound => Kind::NotFound,
            Self::MethodNotAllowed => Kind::MethodNotAllowed,
            Self::InvalidJson(_)
            | Self::InvalidQuery(_)
            | Self::InvalidPath(_)
            | Self::InvalidHeader { .. } => Kind::BadRequest,
            Self::UnsupportedMediaType => Kind::UnsupportedMediaType,
            Self::PayloadTooLarge { .. } => Kind::PayloadTooLarge,
            Self::UriTooLong { .. } => Kind::UriTooLong,
            Self::HeadersTooLarge { .. } => Kind::HeadersTooLarge,
            Self::Unavailable { .. } => Kind::Unavailable,
            Self::Internal => Kind::Internal,
            Self::Http(_) => return None,
            Self::Rule { kind, .. } => *kind,
        })
    }

    /// Seconds after which a retry may succeed: what the rule says, else [`RETRY_AFTER_SECS`]
    /// for every outage (503).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Rule {
                retry_after: Some(secs),
                ..
            } => Some(*secs),
            _ => {
                (self.status_code() == StatusCode::SERVICE_UNAVAILABLE).then_some(RETRY_AFTER_SECS)
            }
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::RouteNotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::InvalidJson(_) => "Invalid request body",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge { .. } => "Request body too large",
            Self::UriTooLong { .. } => "Request target too long",
            Self::HeadersTooLarge { .. } => "Request header fields too large",
            Self::InvalidQuery(_) => "Invalid query",
            Self::InvalidPath(_) => "Invalid path",
            Self::InvalidHeader { .. } => "Invalid header",
            Self::Unavailable { .. } => "Service unavailable",
            Self::Internal => "Internal error",
            Self::Http(status) => status.canonical_reason().unwrap_or("Error"),
            Self::Rule { title, .. } => title,
        }
    }

    /// The problem body for this error.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let detail = match self {
            Self::Internal => "The request failed; quote the request id to support.".to_string(),
            Self::Unavailable { .. } => {
                format!("{self}; nothing was changed, retry later")
            }
            other => other.to_string(),
        };
        let mut problem = Problem::new(status, self.code(), self.title(), detail)
            .with_retry_after(self.retry_after());
        problem.document.tries_left = self.tries_left();
        problem
    }
}

impl From<crate::heavy::HeavyError> for ApiError {
    fn from(e: crate::heavy::HeavyError) -> Self {
        match e {
            crate::heavy::HeavyError::Busy => Self::rule(
                Kind::Unavailable,
                ErrorCode::ServiceUnavailable,
                "Service busy",
                "the node is busy with other key and certificate work; nothing was changed, retry later",
            )
            .with_retry_after(RETRY_AFTER_SECS),
            crate::heavy::HeavyError::Failed => Self::Internal,
        }
    }
}

/// Stable codes for framework-made statuses.
fn http_code(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        400 => ErrorCode::BadRequest,
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::RouteNotFound,
        405 => ErrorCode::MethodNotAllowed,
        406 => ErrorCode::NotAcceptable,
        408 => ErrorCode::RequestTimeout,
        411 => ErrorCode::LengthRequired,
        413 => ErrorCode::PayloadTooLarge,
        414 => ErrorCode::UriTooLong,
        415 => ErrorCode::UnsupportedMediaType,
        431 => ErrorCode::HeadersTooLarge,
        503 => ErrorCode::ServiceUnavailable,
        504 => ErrorCode::GatewayTimeout,
        s if s >= 500 => ErrorCode::InternalError,
        _ => ErrorCode::BadRequest,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match (self, self.kind()) {
            (Self::Http(status), _) => *status,
            (_, Some(kind)) => kind.status(),
            (_, None) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = self.problem().into_response();
        if self.status_code() == StatusCode::UNAUTHORIZED && self.code() == ErrorCode::InvalidToken
        {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn every_error_is_problem_json_with_a_code() {
        let cases = [
            (ApiError::RouteNotFound, 404, "route_not_found"),
            (ApiError::MethodNotAllowed, 405, "method_not_allowed"),
            (ApiError::InvalidJson("x".into()), 400, "invalid_json"),
            (
                ApiError::PayloadTooLarge { limit: 10 },
                413,
                "payload_too_large",
            ),
            (
                ApiError::Unavailable {
                    dependency: "database",
                },
                503,
                "service_unavailable",
            ),
            (ApiError::Internal, 500, "internal_error"),
            (
                ApiError::Http(StatusCode::URI_TOO_LONG),
                414,
                "uri_too_long",
            ),
        ];
        for (err, status, code) in cases {
            let resp = err.error_response();
            assert_eq!(resp.status().as_u16(), status);
            assert_eq!(
                resp.headers().get(header::CONTENT_TYPE).unwrap(),
                PROBLEM_JSON
            );
            let body = resp.into_body().try_into_bytes().unwrap();
            let p: ProblemDocument = serde_json::from_slice(&body).unwrap();
            assert_eq!(p.code, code);
            assert_eq!(p.status, status);
            assert_eq!(p.kind, format!("urn:fincert:problem:{code}"));
        }
    }

    #[test]
    fn internal_errors_say_nothing_of_the_cause() {
        let p = ApiError::Internal.problem();
        assert!(!p.detail.to_lowercase().contains("sql"));
        assert!(p.detail.contains("request id"));
    }
}
