//! The RFC 7807 rendering: every error of the native API is `application/problem+json` with a
//! stable `code` and the request id; `Retry-After` comes from the problem's data, never from
//! its text.

use std::fmt;

use super::ErrorCode;
use crate::request_id;
use actix_web::{
    HttpResponse,
    http::{StatusCode, header},
};

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The `Retry-After` every 503 carries, in seconds (a held lock or a slow dependency is given
/// up on within about two seconds).
pub const RETRY_AFTER_SECS: u64 = 1;

/// The wire document of a problem: one type, shared with the client crate.
pub use fincert_client::proto::Problem as ProblemDocument;

/// The stable code of an error response, kept in the response's extensions so the access log
/// names it without reading the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemCode(pub String);

/// An RFC 7807 problem: the document sent, and when a retry may succeed (sent as
/// `Retry-After`, never in the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What the body says.
    pub document: ProblemDocument,
    /// Seconds after which a retry may succeed.
    pub retry_after: Option<u64>,
}

impl std::ops::Deref for Problem {
    type Target = ProblemDocument;
    fn deref(&self) -> &ProblemDocument {
        &self.document
    }
}

impl Problem {
    /// A problem with the current request's id filled in.
    pub fn new(status: StatusCode, code: ErrorCode, title: &str, detail: String) -> Self {
        Self {
            document: ProblemDocument {
                kind: format!("urn:fincert:problem:{code}"),
                title: title.into(),
                status: status.as_u16(),
                detail,
                code,
                request_id: request_id::current_request_id(),
                tries_left: None,
            },
            retry_after: None,
        }
    }

    /// The same problem, saying when to retry.
    pub fn with_retry_after(mut self, secs: Option<u64>) -> Self {
        self.retry_after = secs;
        self
    }

    /// Renders as an HTTP response.
    pub fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = HttpResponse::build(status);
        builder.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::SERVICE_UNAVAILABLE {
            builder.insert_header((header::CACHE_CONTROL, "no-store"));
        }
        if let Some(secs) = self.retry_after {
            builder.insert_header((header::RETRY_AFTER, secs));
        }
        let code = ProblemCode(self.document.code.as_str().to_owned());
        let mut resp = builder.body(serde_json::to_string(&self.document).unwrap_or_default());
        resp.extensions_mut().insert(code);
        resp
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.detail)
    }
}
