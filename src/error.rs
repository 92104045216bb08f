//! The one place where failures become HTTP: every error response is RFC 7807
//! `application/problem+json` with a stable machine-readable `code`.
//!
//! Domain modules return their own error enums; `From` impls here map them to an [`ApiError`].
//! Causes are logged (with the request id) and never returned: a problem body holds no stack
//! trace, no SQL, and no secret.

use std::fmt;

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use serde::Serialize;

use crate::request_id;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

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
    /// A domain rule refused the request; status, code and title from the mapping below.
    #[error("{detail}")]
    Rule {
        /// HTTP status.
        status: StatusCode,
        /// Stable code.
        code: &'static str,
        /// Title of the problem type.
        title: &'static str,
        /// What happened (never a secret).
        detail: String,
    },
}

impl ApiError {
    pub(crate) fn rule(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::Rule {
            status,
            code,
            title,
            detail: detail.into(),
        }
    }
}

impl ApiError {
    /// The stable code clients can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::InvalidJson(_) => "invalid_json",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::InvalidQuery(_) => "invalid_query",
            Self::InvalidPath(_) => "invalid_path",
            Self::InvalidHeader { .. } => "invalid_header",
            Self::Unavailable { .. } => "service_unavailable",
            Self::Internal => "internal_error",
            Self::Http(status) => http_code(*status),
            Self::Rule { code, .. } => code,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::RouteNotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::InvalidJson(_) => "Invalid request body",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge { .. } => "Request body too large",
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
        Problem::new(status, self.code(), self.title(), detail)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(cause) => {
                tracing::error!(error = %cause, "database operation failed");
                Self::Unavailable {
                    dependency: "database",
                }
            }
            other => {
                tracing::error!(error = %other, "storage invariant broken");
                Self::Internal
            }
        }
    }
}

impl From<crate::custody::CustodyError> for ApiError {
    fn from(e: crate::custody::CustodyError) -> Self {
        use crate::custody::{
            CustodyError as C, activation::ActivationError as A, kms::KmsError as K,
        };
        match e {
            C::InvalidOwner => Self::rule(
                StatusCode::BAD_REQUEST,
                "invalid_owner",
                "Invalid owner",
                "invalid owner id",
            ),
            C::KeyNotFound => Self::rule(
                StatusCode::NOT_FOUND,
                "key_not_found",
                "Key not found",
                "no such key",
            ),
            C::WrongPin => Self::rule(
                StatusCode::UNAUTHORIZED,
                "wrong_pin",
                "Wrong PIN",
                "the PIN does not unlock this key",
            ),
            C::PinLocked => Self::rule(
                StatusCode::LOCKED,
                "pin_locked",
                "PIN locked",
                "the PIN is locked after too many wrong attempts; reissue the certificate to set a new one",
            ),
            C::PasskeyNotBound => Self::rule(
                StatusCode::UNAUTHORIZED,
                "passkey_not_bound",
                "Passkey not bound",
                "this passkey is not bound to the key",
            ),
            C::PasskeyAlreadyBound => Self::rule(
                StatusCode::CONFLICT,
                "passkey_already_bound",
                "Passkey already bound",
                "this passkey is already bound to the key",
            ),
            C::Activation(A::NotFound) => Self::rule(
                StatusCode::UNAUTHORIZED,
                "activation_not_found",
                "No activation",
                "no live activation; authorise again",
            ),
            C::Activation(A::Expired) => Self::rule(
                StatusCode::UNAUTHORIZED,
                "activation_expired",
                "Activation expired",
                "the activation expired; authorise again",
            ),
            C::Activation(A::Exhausted) => Self::rule(
                StatusCode::UNAUTHORIZED,
                "activation_exhausted",
                "Activation used up",
                "the activation's signatures are used up; authorise again",
            ),
            C::Activation(A::Full) => {
                tracing::error!("activation table full");
                Self::rule(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "activations_full",
                    "Service busy",
                    "too many activated keys on this node; retry later",
                )
            }
            C::Activation(A::Key(k)) | C::Key(k) => match k {
                crate::custody::keys::KeyError::SchemeMismatch { .. }
                | crate::custody::keys::KeyError::DigestLength => Self::rule(
                    StatusCode::BAD_REQUEST,
                    "unsupported_signature_scheme",
                    "Unsupported scheme",
                    k.to_string(),
                ),
                other => {
                    tracing::error!(error = %other, "key operation failed");
                    Self::Internal
                }
            },
            C::Kms(K::InvalidCiphertext) | C::Integrity => {
                tracing::error!("key material failed its integrity check");
                Self::rule(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "key_integrity",
                    "Key integrity failure",
                    "stored key material failed its integrity check; nothing was changed",
                )
            }
            C::Kms(cause) => {
                tracing::error!(error = %cause, "KMS call failed");
                Self::rule(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "kms_unavailable",
                    "Key service unavailable",
                    "the key management service is unavailable; nothing was changed, retry later",
                )
            }
            C::Store(store) => store.into(),
            C::Seal => Self::Internal,
        }
    }
}

impl From<crate::pki::PkiError> for ApiError {
    fn from(e: crate::pki::PkiError) -> Self {
        use crate::pki::{PkiError as P, lifecycle::LifecycleError as L, x509::X509Error as X};
        match e {
            P::Profile(p) => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_profile",
                "Invalid certificate request",
                p.to_string(),
            ),
            P::Input(X::BadSignature) => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "csr_signature_invalid",
                "CSR signature invalid",
                X::BadSignature.to_string(),
            ),
            P::Input(X::WeakKey(why)) => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "weak_key",
                "Key not accepted",
                format!("key not accepted: {why}"),
            ),
            P::Input(X::Malformed(what)) => Self::rule(
                StatusCode::BAD_REQUEST,
                "malformed_input",
                "Malformed input",
                format!("not a well-formed {what}"),
            ),
            P::Input(X::Encode(_)) | P::Encoding(_) => {
                tracing::error!(error = %e, "PKI encoding failed");
                Self::Internal
            }
            P::Lifecycle(l @ L::RenewalNotOpen { .. }) => Self::rule(
                StatusCode::CONFLICT,
                "renewal_not_open",
                "Renewal not open",
                l.to_string(),
            ),
            P::Lifecycle(l @ L::AlreadyRenewed) => Self::rule(
                StatusCode::CONFLICT,
                "already_renewed",
                "Already renewed",
                l.to_string(),
            ),
            P::Lifecycle(l @ L::NotAllowed { .. }) => Self::rule(
                StatusCode::CONFLICT,
                "illegal_transition",
                "Not allowed in this status",
                l.to_string(),
            ),
            P::Concurrent => Self::rule(
                StatusCode::CONFLICT,
                "concurrent_change",
                "Changed concurrently",
                "the certificate changed concurrently; retry",
            ),
            P::KeySource(why) => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_key_source",
                "Invalid key source",
                why,
            ),
            P::NotFound => Self::rule(
                StatusCode::NOT_FOUND,
                "certificate_not_found",
                "Certificate not found",
                "no such certificate",
            ),
            P::NotInitialized | P::AlreadyInitialized => Self::rule(
                StatusCode::SERVICE_UNAVAILABLE,
                "ca_not_initialized",
                "CA not initialised",
                e.to_string(),
            ),
            P::Signer(cause) => {
                tracing::error!(error = %cause, "CA key could not sign");
                Self::rule(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ca_unavailable",
                    "CA unavailable",
                    "the CA's key could not sign; nothing was changed, retry later",
                )
            }
            P::Foreign(f) => {
                use crate::pki::foreign::ForeignError as F;
                let (status, code) = match f {
                    F::Malformed => (StatusCode::BAD_REQUEST, "malformed_input"),
                    F::Untrusted => (StatusCode::UNPROCESSABLE_ENTITY, "untrusted_chain"),
                    F::NotValidNow => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "certificate_not_valid_now",
                    ),
                    F::NotForSigning => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "not_a_signing_certificate",
                    ),
                    F::UnrecognizedPolicy => {
                        (StatusCode::UNPROCESSABLE_ENTITY, "unrecognized_policy")
                    }
                    F::Pkcs12Unreadable => (StatusCode::UNPROCESSABLE_ENTITY, "pkcs12_unreadable"),
                    F::Pkcs12NoKey => (StatusCode::UNPROCESSABLE_ENTITY, "pkcs12_no_key"),
                    F::KeyMismatch => (StatusCode::UNPROCESSABLE_ENTITY, "unsupported_key"),
                    F::AlreadyRegistered => (StatusCode::CONFLICT, "already_registered"),
                };
                Self::rule(status, code, "Certificate not accepted", f.to_string())
            }
            P::Custody(c) => c.into(),
            P::Store(s) => s.into(),
        }
    }
}

impl From<crate::auth::rate_limit::Limited> for ApiError {
    fn from(e: crate::auth::rate_limit::Limited) -> Self {
        Self::rule(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
            format!("too many attempts; retry in {} seconds", e.retry_after_secs),
        )
    }
}

impl From<crate::auth::enrol::EnrolError> for ApiError {
    fn from(e: crate::auth::enrol::EnrolError) -> Self {
        use crate::auth::{enrol::EnrolError as E, enrolment::StepError as S};
        match e {
            E::NotFound => Self::rule(
                StatusCode::NOT_FOUND,
                "enrolment_not_found",
                "Enrolment not found",
                "no such enrolment",
            ),
            E::Step(S::Expired) => Self::rule(
                StatusCode::GONE,
                "enrolment_expired",
                "Enrolment expired",
                "this enrolment has expired; start again",
            ),
            E::Step(s @ S::WrongStep { .. }) => Self::rule(
                StatusCode::CONFLICT,
                "wrong_step",
                "Wrong step",
                s.to_string(),
            ),
            E::Terms(t) => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "terms_not_agreed",
                "Terms not agreed",
                format!("every current required terms document must be agreed to: {t}"),
            ),
            E::IdentityMismatch => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "identity_mismatch",
                "Identity not verified",
                "the details do not match the institution's records",
            ),
            E::WrongCode => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wrong_code",
                "Wrong code",
                "the code is wrong",
            ),
            E::CodeExpired => Self::rule(
                StatusCode::GONE,
                "code_expired",
                "Code expired",
                "the code has expired or was used up; request a new one",
            ),
            E::TooManyCodes => Self::rule(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_codes",
                "Too many codes",
                "too many codes were sent for this enrolment; start again",
            ),
            E::Verifier(cause) => {
                tracing::error!(error = %cause, "identity verifier failed");
                Self::rule(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "identity_verifier_unavailable",
                    "Identity verification unavailable",
                    "identity verification is unavailable; nothing was changed, retry later",
                )
            }
            E::Sender(cause) => {
                tracing::error!(error = %cause, "message sender failed");
                Self::rule(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "message_sender_unavailable",
                    "Messaging unavailable",
                    "the code could not be sent; retry later",
                )
            }
            E::MediumNotRegistered => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "medium_not_registered",
                "No such security medium",
                "no security medium of this kind is registered for you",
            ),
            E::NoChallenge => Self::rule(
                StatusCode::CONFLICT,
                "no_open_challenge",
                "No open challenge",
                "there is no open security-card challenge; request one",
            ),
            E::WrongMediumAnswer => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wrong_medium_answer",
                "Wrong answer",
                "the security medium's answer is wrong",
            ),
            E::OtpReplayed => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "otp_replayed",
                "One-time password already used",
                "this one-time password was already used; wait for the next one",
            ),
            E::MediumAttemptsExhausted => Self::rule(
                StatusCode::GONE,
                "medium_attempts_exhausted",
                "Too many wrong answers",
                "too many wrong answers; start again",
            ),
            E::Pin(p) => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "weak_pin",
                "PIN not accepted",
                p.to_string(),
            ),
            E::Credential(why) => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_credential_choice",
                "Invalid choice",
                why,
            ),
            E::Pki(p) => p.into(),
            E::Token(t) => t.into(),
            E::Media(m) => match m {
                crate::auth::media::MediaError::Kms(k) => {
                    crate::custody::CustodyError::Kms(k).into()
                }
                crate::auth::media::MediaError::Store(s) => s.into(),
                other => {
                    tracing::error!(error = %other, "security medium failed");
                    Self::Internal
                }
            },
            E::Kms(k) => crate::custody::CustodyError::Kms(k).into(),
            E::Store(s) => s.into(),
        }
    }
}

impl From<crate::auth::tokens::TokenError> for ApiError {
    fn from(e: crate::auth::tokens::TokenError) -> Self {
        use crate::auth::tokens::TokenError as T;
        match e {
            T::Invalid => Self::rule(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Invalid token",
                "the access token is missing, malformed, forged or expired",
            ),
            T::RefreshInvalid => Self::rule(
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                "Invalid refresh token",
                "the refresh token is unknown, expired or revoked",
            ),
            T::RefreshReused => Self::rule(
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "Refresh token reused",
                "this refresh token was already used; the session was revoked, sign in again",
            ),
            T::Custody(c) => c.into(),
            T::Store(s) => s.into(),
            T::Signing => {
                tracing::error!("token signing failed");
                Self::Internal
            }
        }
    }
}

impl From<crate::auth::passkeys::PasskeyError> for ApiError {
    fn from(e: crate::auth::passkeys::PasskeyError) -> Self {
        use crate::auth::passkeys::PasskeyError as P;
        match e {
            P::Ceremony => Self::rule(
                StatusCode::CONFLICT,
                "webauthn_challenge_spent",
                "Challenge used or expired",
                "this WebAuthn challenge is unknown, used or expired; start again",
            ),
            P::Rejected => Self::rule(
                StatusCode::UNAUTHORIZED,
                "passkey_rejected",
                "Passkey not verified",
                "the passkey could not be verified",
            ),
            P::Altered => Self::rule(
                StatusCode::CONFLICT,
                "approval_mismatch",
                "Approval does not match",
                "the approval does not commit to this request's content",
            ),
            P::NoPasskey => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_passkey",
                "No passkey",
                "no passkey is registered",
            ),
            P::NotFound => Self::rule(
                StatusCode::NOT_FOUND,
                "passkey_not_found",
                "Passkey not found",
                "no such passkey",
            ),
            P::Custody(c) => c.into(),
            P::Store(s) => s.into(),
            P::Config(why) => {
                tracing::error!(error = %why, "WebAuthn configuration");
                Self::Internal
            }
        }
    }
}

impl From<crate::signing::SigningError> for ApiError {
    fn from(e: crate::signing::SigningError) -> Self {
        use crate::signing::SigningError as S;
        let detail = e.to_string();
        match e {
            S::Invalid(_) => Self::rule(
                StatusCode::BAD_REQUEST,
                "invalid_signature_request",
                "Invalid signature request",
                detail,
            ),
            S::NotFound => Self::rule(
                StatusCode::NOT_FOUND,
                "not_found",
                "Not found",
                "no such resource is visible to you",
            ),
            S::InstitutionNotFound => Self::rule(
                StatusCode::NOT_FOUND,
                "institution_not_found",
                "Institution not found",
                detail,
            ),
            S::InstitutionDisabled => Self::rule(
                StatusCode::FORBIDDEN,
                "institution_disabled",
                "Institution disabled",
                detail,
            ),
            S::Scope(_) => Self::rule(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "Insufficient scope",
                detail,
            ),
            S::Usage(_) => Self::rule(
                StatusCode::FORBIDDEN,
                "usage_not_permitted",
                "Usage not permitted",
                detail,
            ),
            S::CertificateNotUsable(_) => Self::rule(
                StatusCode::CONFLICT,
                "certificate_not_usable",
                "Certificate not usable",
                detail,
            ),
            S::PinLocked => Self::rule(
                StatusCode::LOCKED,
                "pin_locked",
                "PIN locked",
                "the certificate's PIN is locked after too many wrong attempts; it cannot sign until reissued",
            ),
            S::DeviceKey => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "key_on_device",
                "Key on device",
                detail,
            ),
            S::Algorithm(_) => Self::rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "algorithm_mismatch",
                "Algorithm does not fit the key",
                detail,
            ),
            S::NotPending(_) => Self::rule(
                StatusCode::CONFLICT,
                "request_not_pending",
                "Request not pending",
                detail,
            ),
            S::Mismatch => Self::rule(
                StatusCode::CONFLICT,
                "approval_mismatch",
                "Approval does not match",
                detail,
            ),
            S::ConsentExists => Self::rule(
                StatusCode::CONFLICT,
                "consent_exists",
                "Already registered",
                detail,
            ),
            S::Custody(c) => c.into(),
            S::Passkey(p) => p.into(),
            S::Limited(l) => l.into(),
            S::Store(s) => s.into(),
            S::Cms(c) => {
                tracing::error!(error = %c, "CMS assembly failed");
                Self::Internal
            }
            S::Random => {
                tracing::error!("randomness or encoding failed");
                Self::Internal
            }
        }
    }
}

impl From<crate::auth::login::LoginError> for ApiError {
    fn from(e: crate::auth::login::LoginError) -> Self {
        use crate::auth::login::LoginError as L;
        match e {
            L::Failed => Self::rule(
                StatusCode::UNAUTHORIZED,
                "wrong_pin",
                "Sign-in failed",
                "the PIN does not unlock this certificate",
            ),
            L::Custody(c) => c.into(),
            L::Token(t) => t.into(),
            L::Store(s) => s.into(),
            L::Passkey(p) => p.into(),
        }
    }
}

/// Stable codes for framework-made statuses.
fn http_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "route_not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        408 => "request_timeout",
        411 => "length_required",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        431 => "headers_too_large",
        503 => "service_unavailable",
        504 => "gateway_timeout",
        s if s >= 500 => "internal_error",
        _ => "bad_request",
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::InvalidJson(_) | Self::InvalidQuery(_) | Self::InvalidPath(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::InvalidHeader { .. } => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Http(status) => *status,
            Self::Rule { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = self.problem().into_response();
        if let Self::Rule {
            code: "rate_limited",
            detail,
            ..
        } = self
        {
            let secs: String = detail.chars().filter(char::is_ascii_digit).collect();
            if let Ok(value) = header::HeaderValue::from_str(&secs) {
                resp.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if self.status_code() == StatusCode::UNAUTHORIZED && self.code() == "invalid_token" {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        resp
    }
}

/// The `Retry-After` every 503 carries, in seconds.
pub const RETRY_AFTER_SECS: &str = "1";

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
        }
    }

    /// Renders as an HTTP response.
    pub fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = HttpResponse::build(status);
        builder.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::SERVICE_UNAVAILABLE {
            builder.insert_header((header::CACHE_CONTROL, "no-store"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Every outage answer says when to try again (a held lock or a slow dependency is
            // given up on within about two seconds).
            builder.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS));
        }
        builder.body(serde_json::to_string(&self).unwrap_or_default())
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.detail)
    }
}

/// Maps extractor failures (bad JSON, oversized bodies) to problems; installed on every
/// extractor config in `startup`.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match err {
        E::OverflowKnownLength { limit, .. } | E::Overflow { limit } => {
            ApiError::PayloadTooLarge { limit }
        }
        E::ContentType => ApiError::UnsupportedMediaType,
        E::Deserialize(e) => ApiError::InvalidJson(describe_serde(&e)),
        E::Payload(actix_web::error::PayloadError::Overflow) => {
            ApiError::PayloadTooLarge { limit: 0 }
        }
        other => ApiError::InvalidJson(other.to_string()),
    };
    api.into()
}

/// Parses a JSON body read as bytes (routes that also fingerprint the raw body), with the
/// same safe error messages as the JSON extractor.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    req: &actix_web::HttpRequest,
    body: &[u8],
) -> Result<T, ApiError> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim() == "application/json")
        });
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(describe_serde(&e)))
}

/// serde_json's message without echoing input. Its data errors quote the offending value
/// (`invalid type: string "482915", expected ...`), which could be a PIN or an OTP: keep only
/// field names (from missing/unknown/duplicate-field messages) and the position.
fn describe_serde(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {} column {}", e.line(), e.column());
    match e.classify() {
        Category::Syntax | Category::Eof => format!("malformed JSON at {at}"),
        Category::Data => {
            let msg = e.to_string();
            let field = ["missing field `", "unknown field `", "duplicate field `"]
                .iter()
                .find_map(|prefix| {
                    let rest = msg.strip_prefix(prefix)?;
                    let name = rest.split('`').next()?;
                    let ok = !name.is_empty()
                        && name.len() <= 64
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                    ok.then(|| format!("{prefix}{name}`"))
                });
            match field {
                Some(f) => format!("{f} at {at}"),
                None => format!("a value has the wrong type or is out of range at {at}"),
            }
        }
        Category::Io => "could not read the body".into(),
    }
}

/// Maps query-string failures to problems.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::InvalidQuery(err.to_string()).into()
}

/// Maps path-parameter failures to problems.
pub fn path_error(
    err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::InvalidPath(err.to_string()).into()
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
            let p: Problem = serde_json::from_slice(&body).unwrap();
            assert_eq!(p.code, code);
            assert_eq!(p.status, status);
            assert_eq!(p.kind, format!("urn:fincert:problem:{code}"));
        }
    }

    /// A KMS outage is a 503 problem with a stable code, whatever the backend said.
    #[test]
    fn custody_failures_map_to_stable_problems() {
        use crate::custody::{
            CustodyError as C, activation::ActivationError as A, kms::KmsError as K,
        };
        let cases = [
            (
                C::Kms(K::Unavailable("timeout".into())),
                503,
                "kms_unavailable",
            ),
            (
                C::Kms(K::Rejected("AccessDeniedException".into())),
                503,
                "kms_unavailable",
            ),
            (C::WrongPin, 401, "wrong_pin"),
            (C::Integrity, 500, "key_integrity"),
            (C::Activation(A::Expired), 401, "activation_expired"),
            (C::KeyNotFound, 404, "key_not_found"),
        ];
        for (err, status, code) in cases {
            let p = ApiError::from(err).problem();
            assert_eq!((p.status, p.code.as_str()), (status, code));
            assert!(
                !p.detail.contains("AccessDenied") && !p.detail.contains("timeout"),
                "causes stay in the log"
            );
        }
    }

    /// A secret sent with the wrong JSON type is never echoed back.
    #[test]
    fn json_errors_do_not_echo_values() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            pin: u32,
        }
        let err = serde_json::from_str::<Body>(r#"{"pin": "482915"}"#).unwrap_err();
        assert!(err.to_string().contains("482915"), "serde does quote it");
        let described = describe_serde(&err);
        assert!(!described.contains("482915"), "{described}");
        let missing = serde_json::from_str::<Body>("{}").unwrap_err();
        assert_eq!(
            describe_serde(&missing),
            "missing field `pin` at line 1 column 2"
        );
    }

    #[test]
    fn internal_errors_say_nothing_of_the_cause() {
        let p = ApiError::Internal.problem();
        assert!(!p.detail.to_lowercase().contains("sql"));
        assert!(p.detail.contains("request id"));
    }
}
