//! How a [`SigningError`] reads over the native API (problem+json). The CSC routes render the
//! same errors their own way, in `error/csc.rs`.

use super::{ApiError, Kind, custody::pin_locked};
use crate::signing::SigningError;

impl From<SigningError> for ApiError {
    fn from(e: SigningError) -> Self {
        use SigningError as S;
        let detail = e.to_string();
        match e {
            S::Invalid(_) => Self::rule(
                Kind::BadRequest,
                "invalid_signature_request",
                "Invalid signature request",
                detail,
            ),
            S::NotFound => Self::rule(
                Kind::NotFound,
                "not_found",
                "Not found",
                "no such resource is visible to you",
            ),
            S::InstitutionNotFound => Self::rule(
                Kind::NotFound,
                "institution_not_found",
                "Institution not found",
                detail,
            ),
            S::InstitutionDisabled => Self::rule(
                Kind::Forbidden,
                "institution_disabled",
                "Institution disabled",
                detail,
            ),
            S::Scope(_) => Self::rule(
                Kind::Forbidden,
                "insufficient_scope",
                "Insufficient scope",
                detail,
            ),
            S::Usage(_) => Self::rule(
                Kind::Forbidden,
                "usage_not_permitted",
                "Usage not permitted",
                detail,
            ),
            S::CertificateNotUsable(_) => Self::rule(
                Kind::Conflict,
                "certificate_not_usable",
                "Certificate not usable",
                detail,
            ),
            S::PinLocked => pin_locked(
                "the certificate's PIN is locked after too many wrong attempts; it cannot sign until reissued",
            ),
            S::DeviceKey => Self::rule(
                Kind::Unprocessable,
                "key_on_device",
                "Key on device",
                detail,
            ),
            S::Algorithm(_) => Self::rule(
                Kind::Unprocessable,
                "algorithm_mismatch",
                "Algorithm does not fit the key",
                detail,
            ),
            S::NotPending(_) => Self::rule(
                Kind::Conflict,
                "request_not_pending",
                "Request not pending",
                detail,
            ),
            S::Mismatch => Self::rule(
                Kind::Conflict,
                "approval_mismatch",
                "Approval does not match",
                detail,
            ),
            S::ConsentExists => Self::rule(
                Kind::Conflict,
                "consent_exists",
                "Already registered",
                detail,
            ),
            S::ClaimLost => Self::rule(
                Kind::Conflict,
                "idempotency_in_progress",
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
