//! How the `auth` errors read over HTTP: rate limits (429 with `Retry-After`), enrolment steps,
//! tokens, passkeys and sign-in.

use super::{ApiError, ErrorCode, Kind, custody::wrong_pin};

impl From<crate::auth::rate_limit::Limited> for ApiError {
    fn from(e: crate::auth::rate_limit::Limited) -> Self {
        Self::rule(
            Kind::TooMany,
            ErrorCode::RateLimited,
            "Too many requests",
            format!("too many attempts; retry in {} seconds", e.retry_after_secs),
        )
        // The header has always carried the digits of the number in the detail.
        .with_retry_after(e.retry_after_secs.unsigned_abs())
    }
}

impl From<crate::auth::enrolment::EnrolError> for ApiError {
    fn from(e: crate::auth::enrolment::EnrolError) -> Self {
        use crate::auth::enrolment::{EnrolError as E, StepError as S};
        match e {
            E::NotFound => Self::rule(
                Kind::NotFound,
                ErrorCode::EnrolmentNotFound,
                "Enrolment not found",
                "no such enrolment",
            ),
            E::Step(S::Expired) => Self::rule(
                Kind::Gone,
                ErrorCode::EnrolmentExpired,
                "Enrolment expired",
                "this enrolment has expired; start again",
            ),
            E::Step(s @ S::WrongStep { .. }) => Self::rule(
                Kind::Conflict,
                ErrorCode::WrongStep,
                "Wrong step",
                s.to_string(),
            ),
            E::Terms(t) => Self::rule(
                Kind::Unprocessable,
                ErrorCode::TermsNotAgreed,
                "Terms not agreed",
                format!("every current required terms document must be agreed to: {t}"),
            ),
            E::IdentityMismatch => Self::rule(
                Kind::Unprocessable,
                ErrorCode::IdentityMismatch,
                "Identity not verified",
                "the details do not match the institution's records",
            ),
            E::WrongCode => Self::rule(
                Kind::Unprocessable,
                ErrorCode::WrongCode,
                "Wrong code",
                "the code is wrong",
            ),
            E::CodeExpired => Self::rule(
                Kind::Gone,
                ErrorCode::CodeExpired,
                "Code expired",
                "the code has expired or was used up; request a new one",
            ),
            E::TooManyCodes => Self::rule(
                Kind::TooMany,
                ErrorCode::TooManyCodes,
                "Too many codes",
                "too many codes were sent for this enrolment; start again",
            ),
            E::Verifier(cause) => {
                tracing::error!(error = %cause, "identity verifier failed");
                Self::rule(
                    Kind::Unavailable,
                    ErrorCode::IdentityVerifierUnavailable,
                    "Identity verification unavailable",
                    "identity verification is unavailable; nothing was changed, retry later",
                )
            }
            E::Sender(cause) => {
                tracing::error!(error = %cause, "message sender failed");
                Self::rule(
                    Kind::Unavailable,
                    ErrorCode::MessageSenderUnavailable,
                    "Messaging unavailable",
                    "the code could not be sent; retry later",
                )
            }
            E::MediumNotRegistered => Self::rule(
                Kind::Unprocessable,
                ErrorCode::MediumNotRegistered,
                "No such security medium",
                "no security medium of this kind is registered for you",
            ),
            E::NoChallenge => Self::rule(
                Kind::Conflict,
                ErrorCode::NoOpenChallenge,
                "No open challenge",
                "there is no open security-card challenge; request one",
            ),
            E::WrongMediumAnswer => Self::rule(
                Kind::Unprocessable,
                ErrorCode::WrongMediumAnswer,
                "Wrong answer",
                "the security medium's answer is wrong",
            ),
            E::OtpReplayed => Self::rule(
                Kind::Unprocessable,
                ErrorCode::OtpReplayed,
                "One-time password already used",
                "this one-time password was already used; wait for the next one",
            ),
            E::MediumAttemptsExhausted => Self::rule(
                Kind::Gone,
                ErrorCode::MediumAttemptsExhausted,
                "Too many wrong answers",
                "too many wrong answers; start again",
            ),
            E::Pin(p) => Self::rule(
                Kind::Unprocessable,
                ErrorCode::WeakPin,
                "PIN not accepted",
                p.to_string(),
            ),
            E::Credential(why) => Self::rule(
                Kind::Unprocessable,
                ErrorCode::InvalidCredentialChoice,
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
            E::ReissuanceRequired { fee_krw } => Self::rule(
                Kind::Conflict,
                ErrorCode::ReissuanceRequired,
                "Reissuance required",
                format!(
                    "no passkey is bound to this certificate's key, so its PIN cannot be reset; \
                     reissue the certificate instead (a new key and certificate after the same \
                     identity checks; a general-purpose certificate is charged {fee_krw} KRW, \
                     a restricted-use one nothing; see GET /v1/fees)"
                ),
            ),
            E::PinChange(p) => p.into(),
            E::Passkey(p) => p.into(),
            E::Store(s) => s.into(),
        }
    }
}

impl From<crate::auth::pin::PinChangeError> for ApiError {
    fn from(e: crate::auth::pin::PinChangeError) -> Self {
        use crate::auth::pin::PinChangeError as P;
        match e {
            P::Pin(p) => Self::rule(
                Kind::Unprocessable,
                ErrorCode::WeakPin,
                "PIN not accepted",
                p.to_string(),
            ),
            P::Pki(p) => p.into(),
            P::Custody(c) => c.into(),
            P::Store(s) => s.into(),
        }
    }
}

impl From<crate::auth::tokens::TokenError> for ApiError {
    fn from(e: crate::auth::tokens::TokenError) -> Self {
        use crate::auth::tokens::TokenError as T;
        match e {
            T::Invalid => Self::rule(
                Kind::Unauthorized,
                ErrorCode::InvalidToken,
                "Invalid token",
                "the access token is missing, malformed, forged or expired",
            ),
            T::RefreshInvalid => Self::rule(
                Kind::Unauthorized,
                ErrorCode::InvalidRefreshToken,
                "Invalid refresh token",
                "the refresh token is unknown, expired or revoked",
            ),
            T::RefreshReused => Self::rule(
                Kind::Unauthorized,
                ErrorCode::RefreshTokenReused,
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
                Kind::Conflict,
                ErrorCode::WebauthnChallengeSpent,
                "Challenge used or expired",
                "this WebAuthn challenge is unknown, used or expired; start again",
            ),
            P::Rejected => Self::rule(
                Kind::Unauthorized,
                ErrorCode::PasskeyRejected,
                "Passkey not verified",
                "the passkey could not be verified",
            ),
            P::Altered => Self::rule(
                Kind::Conflict,
                ErrorCode::ApprovalMismatch,
                "Approval does not match",
                "the approval does not commit to this request's content",
            ),
            P::Prf => Self::InvalidJson(
                "prf must be the authenticator's PRF output: 32 bytes in base64url".into(),
            ),
            P::NoPasskey => Self::rule(
                Kind::Unprocessable,
                ErrorCode::NoPasskey,
                "No passkey",
                "no passkey is registered",
            ),
            P::NotFound => Self::rule(
                Kind::NotFound,
                ErrorCode::PasskeyNotFound,
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

impl From<crate::auth::login::LoginError> for ApiError {
    fn from(e: crate::auth::login::LoginError) -> Self {
        use crate::auth::login::LoginError as L;
        match e {
            L::Failed => wrong_pin("Sign-in failed", "the PIN does not unlock this certificate"),
            L::WrongPinChosen { tries_left } => {
                wrong_pin("Sign-in failed", "the PIN does not unlock this certificate")
                    .with_tries_left(Some(tries_left))
            }
            L::Custody(c) => c.into(),
            L::Token(t) => t.into(),
            L::Store(s) => s.into(),
            L::Passkey(p) => p.into(),
            L::SignIn(s) => s.into(),
            L::Pki(p) => p.into(),
            L::ChallengeSpent => Self::rule(
                Kind::Conflict,
                ErrorCode::DeviceChallengeSpent,
                "Challenge used or expired",
                "this sign-in challenge is unknown, used, expired or not for this certificate; \
                 request a new one",
            ),
            L::DeviceFailed => Self::rule(
                Kind::Unauthorized,
                ErrorCode::DeviceSignInFailed,
                "Sign-in failed",
                "the certificate is not an active device-held certificate, or the signature \
                 does not verify with its key",
            ),
            L::Random => {
                tracing::error!("random source failed");
                Self::Internal
            }
        }
    }
}

impl From<crate::auth::sign_in::SignInError> for ApiError {
    fn from(e: crate::auth::sign_in::SignInError) -> Self {
        use crate::auth::sign_in::SignInError as S;
        match e {
            S::NotFound => Self::rule(
                Kind::NotFound,
                ErrorCode::SignInNotFound,
                "Sign-in not found",
                "no such sign-in",
            ),
            S::Expired => Self::rule(
                Kind::Gone,
                ErrorCode::SignInExpired,
                "Sign-in expired",
                "this sign-in has expired; identify yourself again",
            ),
            S::WrongCode => Self::rule(
                Kind::Unprocessable,
                ErrorCode::WrongCode,
                "Wrong code",
                "the code is wrong",
            ),
            S::CodeExpired => Self::rule(
                Kind::Gone,
                ErrorCode::CodeExpired,
                "Code expired",
                "the code has expired or was used up; request a new one",
            ),
            S::TooManyCodes => Self::rule(
                Kind::TooMany,
                ErrorCode::TooManyCodes,
                "Too many codes",
                "too many codes were sent for this sign-in; start again",
            ),
            S::TicketRefused => Self::rule(
                Kind::Unauthorized,
                ErrorCode::InvalidTicket,
                "Invalid selection ticket",
                "the selection ticket is unknown, used, expired or not for this certificate; \
                 sign in again",
            ),
            S::Random => {
                tracing::error!("random source failed");
                Self::Internal
            }
            S::Kms(k) => crate::custody::CustodyError::Kms(k).into(),
            S::Store(s) => s.into(),
        }
    }
}

impl From<crate::auth::device_copy::CopyError> for ApiError {
    fn from(e: crate::auth::device_copy::CopyError) -> Self {
        use crate::auth::device_copy::CopyError as C;
        match e {
            C::Certificate => Self::rule(
                Kind::NotFound,
                ErrorCode::CertificateNotFound,
                "Certificate not found",
                "no such active certificate kept on a device",
            ),
            C::NotFound => Self::rule(
                Kind::NotFound,
                ErrorCode::CopyNotFound,
                "Copy not found",
                "no copy waits under this code: it is wrong, was fetched already or has expired",
            ),
            C::Package => Self::InvalidJson(e.to_string()),
            C::Store(s) => s.into(),
            C::Random => {
                tracing::error!("random source failed");
                Self::Internal
            }
        }
    }
}
