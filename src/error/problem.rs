//! The RFC 7807 rendering: every error of the native API is `application/problem+json` with a
//! stable `code` and the request id; `Retry-After` comes from the problem's data, never from
//! its text.

use std::fmt;

use actix_web::{
    HttpResponse,
    http::{StatusCode, header},
};
use serde::Serialize;

use crate::request_id;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The `Retry-After` every 503 carries, in seconds (a held lock or a slow dependency is given
/// up on within about two seconds).
pub const RETRY_AFTER_SECS: u64 = 1;

/// An RFC 7807 problem document.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Problem {
    /// A URI naming the problem type: `urn:fincert:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short human-readable summary of the type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened in this instance.
    pub detail: String,
    /// The stable code.
    pub code: String,
    /// The request id, to quote to support and find in the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Seconds after which a retry may succeed, sent as `Retry-After` (never in the body).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with the current request's id filled in.
    pub fn new(status: StatusCode, code: &str, title: &str, detail: String) -> Self {
        Self {
            kind: format!("urn:fincert:problem:{code}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            code: code.into(),
            request_id: request_id::current_request_id(),
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
        builder.body(serde_json::to_string(&self).unwrap_or_default())
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.detail)
    }
}
