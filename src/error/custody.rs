//! How a [`CustodyError`] reads over HTTP, and the one place the two PIN outcomes every route
//! shares come from: [`wrong_pin`] (401 `wrong_pin`) and [`pin_locked`] (423 `pin_locked`).
//! KMS causes are logged, never returned.

use super::{ApiError, ErrorCode, Kind};
use crate::custody::CustodyError;

/// A PIN that does not unlock. Signing in and unlocking a key have always had their own
/// title and detail; the code and the kind are the same.
pub(super) fn wrong_pin(title: &'static str, detail: &'static str) -> ApiError {
    ApiError::rule(Kind::Unauthorized, ErrorCode::WrongPin, title, detail)
}

/// A PIN locked after too many wrong attempts; `detail` says what the holder can do.
pub(super) fn pin_locked(detail: &'static str) -> ApiError {
    ApiError::rule(Kind::Locked, ErrorCode::PinLocked, "PIN locked", detail)
}

impl From<CustodyError> for ApiError {
    fn from(e: CustodyError) -> Self {
        use crate::custody::{
            CustodyError as C, activation::ActivationError as A, kms::KmsError as K,
        };
        match e {
            C::InvalidOwner => Self::rule(
                Kind::BadRequest,
                ErrorCode::InvalidOwner,
                "Invalid owner",
                "invalid owner id",
            ),
            C::KeyNotFound => Self::rule(
                Kind::NotFound,
                ErrorCode::KeyNotFound,
                "Key not found",
                "no such key",
            ),
            C::WrongPin { tries_left } => {
                wrong_pin("Wrong PIN", "the PIN does not unlock this key")
                    .with_tries_left(tries_left)
            }
            C::PinLocked => pin_locked(
                "the PIN is locked after too many wrong attempts; reset it with a passkey bound to the certificate (an enrolment of purpose pin_reset) or reissue the certificate",
            ),
            C::PasskeyNotBound => Self::rule(
                Kind::Unauthorized,
                ErrorCode::PasskeyNotBound,
                "Passkey not bound",
                "this passkey is not bound to the key",
            ),
            C::PasskeyAlreadyBound => Self::rule(
                Kind::Conflict,
                ErrorCode::PasskeyAlreadyBound,
                "Passkey already bound",
                "this passkey is already bound to the key",
            ),
            C::Activation(A::NotFound) => Self::rule(
                Kind::Unauthorized,
                ErrorCode::ActivationNotFound,
                "No activation",
                "no live activation; authorise again",
            ),
            C::Activation(A::Expired) => Self::rule(
                Kind::Unauthorized,
                ErrorCode::ActivationExpired,
                "Activation expired",
                "the activation expired; authorise again",
            ),
            C::Activation(A::Exhausted) => Self::rule(
                Kind::Unauthorized,
                ErrorCode::ActivationExhausted,
                "Activation used up",
                "the activation's signatures are used up; authorise again",
            ),
            C::Activation(A::Full) => {
                tracing::error!("activation table full");
                Self::rule(
                    Kind::Unavailable,
                    ErrorCode::ActivationsFull,
                    "Service busy",
                    "too many activated keys on this node; retry later",
                )
            }
            C::Activation(A::Key(k)) | C::Key(k) => match k {
                crate::custody::keys::KeyError::SchemeMismatch { .. }
                | crate::custody::keys::KeyError::DigestLength => Self::rule(
                    Kind::BadRequest,
                    ErrorCode::UnsupportedSignatureScheme,
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
                    Kind::Internal,
                    ErrorCode::KeyIntegrity,
                    "Key integrity failure",
                    "stored key material failed its integrity check; nothing was changed",
                )
            }
            C::Kms(cause) => {
                tracing::error!(error = %cause, "KMS call failed");
                Self::rule(
                    Kind::Unavailable,
                    ErrorCode::KmsUnavailable,
                    "Key service unavailable",
                    "the key management service is unavailable; nothing was changed, retry later",
                )
            }
            C::Store(store) => store.into(),
            C::Seal => Self::Internal,
            C::Heavy(h) => h.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                ErrorCode::KmsUnavailable,
            ),
            (
                C::Kms(K::Rejected("AccessDeniedException".into())),
                503,
                ErrorCode::KmsUnavailable,
            ),
            (C::WrongPin { tries_left: None }, 401, ErrorCode::WrongPin),
            (C::Integrity, 500, ErrorCode::KeyIntegrity),
            (C::Activation(A::Expired), 401, ErrorCode::ActivationExpired),
            (C::KeyNotFound, 404, ErrorCode::KeyNotFound),
        ];
        for (err, status, code) in cases {
            let p = ApiError::from(err).problem();
            assert_eq!((p.status, &p.code), (status, &code));
            assert!(
                !p.detail.contains("AccessDenied") && !p.detail.contains("timeout"),
                "causes stay in the log"
            );
        }
    }

    #[test]
    fn a_counted_wrong_pin_says_the_tries_left_and_an_uncounted_one_does_not() {
        use crate::custody::CustodyError as C;
        let counted = ApiError::from(C::WrongPin {
            tries_left: Some(2),
        })
        .problem();
        assert_eq!((counted.status, counted.tries_left), (401, Some(2)));
        let body: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&counted.document).unwrap()).unwrap();
        assert_eq!(body["tries_left"], 2);
        let plain = ApiError::from(C::WrongPin { tries_left: None }).problem();
        let body: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&plain.document).unwrap()).unwrap();
        assert!(body.get("tries_left").is_none(), "{body}");
    }
}
