//! How a [`SigningError`] reads over the native API (problem+json). The CSC routes render the
//! same errors their own way, in `error/csc.rs`.

use super::{ApiError, ErrorCode, Kind, custody::pin_locked};
use crate::signing::SigningError;

impl From<SigningError> for ApiError {
    fn from(e: SigningError) -> Self {
        use SigningError as S;
        let detail = e.to_string();
        match e {
            S::Invalid(crate::signing::request::RequestError::DisplayText(_)) => Self::rule(
                Kind::Unprocessable,
                ErrorCode::DisplayTextNotAllowed,
                "Display text not allowed",
                detail,
            ),
            S::Invalid(_) => Self::rule(
                Kind::BadRequest,
                ErrorCode::InvalidSignatureRequest,
                "Invalid signature request",
                detail,
            ),
            S::NotFound => Self::rule(
                Kind::NotFound,
                ErrorCode::NotFound,
                "Not found",
                "no such resource is visible to you",
            ),
            S::InstitutionNotFound => Self::rule(
                Kind::NotFound,
                ErrorCode::InstitutionNotFound,
                "Institution not found",
                detail,
            ),
            S::InstitutionDisabled => Self::rule(
                Kind::Forbidden,
                ErrorCode::InstitutionDisabled,
                "Institution disabled",
                detail,
            ),
            S::Scope(_) => Self::rule(
                Kind::Forbidden,
                ErrorCode::InsufficientScope,
                "Insufficient scope",
                detail,
            ),
            S::Usage(_) => Self::rule(
                Kind::Forbidden,
                ErrorCode::UsageNotPermitted,
                "Usage not permitted",
                detail,
            ),
            S::CertificateNotUsable(_) => Self::rule(
                Kind::Conflict,
                ErrorCode::CertificateNotUsable,
                "Certificate not usable",
                detail,
            ),
            S::PinLocked => pin_locked(
                "the certificate's PIN is locked after too many wrong attempts; it cannot sign until reissued",
            ),
            S::DeviceKey => Self::rule(
                Kind::Unprocessable,
                ErrorCode::KeyOnDevice,
                "Key on device",
                detail,
            ),
            S::DeviceSignature => Self::rule(
                Kind::Unprocessable,
                ErrorCode::DeviceSignatureInvalid,
                "Device signature invalid",
                detail,
            ),
            S::DeviceNeedsContent => Self::rule(
                Kind::Unprocessable,
                ErrorCode::DeviceNeedsContent,
                "Content needed for a device-kept certificate",
                detail,
            ),
            S::NotDeviceKept => Self::rule(
                Kind::Unprocessable,
                ErrorCode::KeyNotOnDevice,
                "Key not on a device",
                detail,
            ),
            S::Algorithm(_) => Self::rule(
                Kind::Unprocessable,
                ErrorCode::AlgorithmMismatch,
                "Algorithm does not fit the key",
                detail,
            ),
            S::NotPending(_) => Self::rule(
                Kind::Conflict,
                ErrorCode::RequestNotPending,
                "Request not pending",
                detail,
            ),
            S::Mismatch => Self::rule(
                Kind::Conflict,
                ErrorCode::ApprovalMismatch,
                "Approval does not match",
                detail,
            ),
            S::ConsentExists => Self::rule(
                Kind::Conflict,
                ErrorCode::ConsentExists,
                "Already registered",
                detail,
            ),
            S::ClaimLost => Self::rule(
                Kind::Conflict,
                ErrorCode::IdempotencyInProgress,
                "Request in progress",
                "a retry with this Idempotency-Key is being processed; retry shortly",
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
