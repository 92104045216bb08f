//! The coarse kinds of failure, and the one table that turns a kind into an HTTP status. Every
//! rendering (problem+json, CSC, OAuth) takes its status from [`Kind::status`]; nothing else in
//! the crate names a 4xx or 5xx for an error.

use actix_web::http::StatusCode;

/// What sort of failure an error is, independent of how it is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request is malformed.
    BadRequest,
    /// The caller is not authenticated (or the credential is wrong).
    Unauthorized,
    /// The caller is authenticated but may not do this.
    Forbidden,
    /// Nothing of that name is visible to the caller.
    NotFound,
    /// The path exists but not with this method.
    MethodNotAllowed,
    /// The resource is not in a state that allows this.
    Conflict,
    /// The resource existed but is gone for good (expired).
    Gone,
    /// The body exceeds the configured limit.
    PayloadTooLarge,
    /// The body is not of a media type the route reads.
    UnsupportedMediaType,
    /// The request target (path and query) is longer than the service reads.
    UriTooLong,
    /// The request's header fields are larger than the service reads.
    HeadersTooLarge,
    /// The request is well-formed but a rule refuses its content.
    Unprocessable,
    /// Locked until something else happens (a PIN after too many wrong attempts).
    Locked,
    /// Too many requests; retry later.
    TooMany,
    /// Our fault; the cause was logged.
    Internal,
    /// A dependency is unavailable; nothing was changed, retry.
    Unavailable,
}

impl Kind {
    /// The HTTP status of this kind: the one table.
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::Gone => StatusCode::GONE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Locked => StatusCode::LOCKED,
            Self::TooMany => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}
