//! The Cloud Signature Consortium rendering: CSC errors are `{error, error_description}` (the
//! OAuth2 body, see `oauth.rs`) with the descriptions the specification gives, so standard CSC
//! clients work unchanged. A [`SigningError`] becomes a CSC answer through its problem code
//! where CSC only renames it; CSC names the *parameter* at fault (`Invalid parameter
//! credentialID`) where the problem names the rule, and a CSC client can only retry a
//! dependency failure, so every store or custody failure but the PIN's (and a corrupt row,
//! which no retry mends: a 500 `server_error`) is one 503.

use super::{ApiError, ErrorCode, Kind, OAuthError, OAuthErrorCode};
use crate::{custody::CustodyError, signing::SigningError, store::StoreError};

/// A CSC error answer.
#[derive(Debug)]
pub struct CscError(OAuthError);

impl CscError {
    /// An answer of `kind` with CSC's `error` code and description.
    pub fn new(kind: Kind, error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self(OAuthError::new(kind, error, description))
    }

    /// `invalid_request` (400), CSC's answer to most things.
    pub fn bad(description: impl Into<String>) -> Self {
        Self(OAuthError::invalid_request(description))
    }

    /// Renders as an HTTP response.
    pub fn into_response(self) -> actix_web::HttpResponse {
        self.0.into_response()
    }
}

impl From<SigningError> for CscError {
    fn from(e: SigningError) -> Self {
        use SigningError as S;
        match e {
            S::CertificateNotUsable(status) => Self::bad(format!(
                "The credential identified by credentialID is disabled (certificate {status})"
            )),
            // A corrupt row is no outage: it is answered below as the internal error it is.
            S::Store(_) | S::Custody(_)
                if !matches!(
                    e,
                    S::Custody(CustodyError::WrongPin { .. } | CustodyError::PinLocked)
                        | S::Store(StoreError::Corrupt { .. })
                        | S::Custody(CustodyError::Store(StoreError::Corrupt { .. }))
                ) =>
            {
                tracing::warn!(error = %e, "CSC request failed on a dependency");
                Self::new(
                    Kind::Unavailable,
                    OAuthErrorCode::TemporarilyUnavailable,
                    "Retry later",
                )
            }
            // A passkey failure has no CSC meaning (the CSC routes take PINs).
            S::Passkey(_) => internal(&e),
            other => {
                let problem = ApiError::from(other);
                match problem.code() {
                    ErrorCode::NotFound | ErrorCode::KeyOnDevice => {
                        Self::bad("Invalid parameter credentialID")
                    }
                    ErrorCode::AlgorithmMismatch => Self::bad("Invalid parameter signAlgo"),
                    ErrorCode::WrongPin => Self::bad("The PIN is invalid"),
                    ErrorCode::PinLocked => Self::bad("PIN locked"),
                    ErrorCode::UsageNotPermitted => Self::bad(
                        "The credential identified by credentialID is disabled for this client (restricted-use certificate)",
                    ),
                    ErrorCode::InsufficientScope => Self::new(
                        Kind::Unauthorized,
                        OAuthErrorCode::AccessDenied,
                        "The access token lacks the sign scope",
                    ),
                    ErrorCode::RateLimited => Self::new(
                        Kind::TooMany,
                        OAuthErrorCode::TemporarilyUnavailable,
                        "Too many requests",
                    ),
                    _ => internal(&problem),
                }
            }
        }
    }
}

fn internal(e: &dyn std::fmt::Display) -> CscError {
    tracing::error!(error = %e, "CSC request failed");
    CscError::new(
        Kind::Internal,
        OAuthErrorCode::ServerError,
        "Internal error",
    )
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;

    use super::*;

    fn answer(e: SigningError) -> (u16, serde_json::Value) {
        let resp = CscError::from(e).into_response();
        let status = resp.status().as_u16();
        let body = resp.into_body().try_into_bytes().unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn an_outage_is_retryable_and_a_corrupt_row_is_not() {
        let down = StoreError::Unavailable(sea_orm::DbErr::Custom("x".into()));
        let (status, body) = answer(SigningError::Store(down));
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("temporarily_unavailable"))
        );
        let corrupt = || crate::store::columns::corrupt("certificates", "status", "bad");
        for e in [
            SigningError::Store(corrupt()),
            SigningError::Custody(CustodyError::Store(corrupt())),
        ] {
            let (status, body) = answer(e);
            assert_eq!(
                (status, body["error"].as_str()),
                (500, Some("server_error"))
            );
            assert!(!body.to_string().contains("certificates"), "{body}");
        }
    }
}
