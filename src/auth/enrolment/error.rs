//! [`EnrolError`]: every way an enrolment step is refused or fails. The HTTP mapping lives in
//! `crate::error`, never here.

use super::StepError;
use crate::{
    auth::{identity::VerifierError, messaging::SendError},
    custody::kms::KmsError,
    store::StoreError,
};

/// Enrolment failures.
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// No such enrolment.
    #[error("no such enrolment")]
    NotFound,
    /// Wrong step or expired.
    #[error(transparent)]
    Step(#[from] StepError),
    /// A required terms document was not agreed to (or an unknown/old version was sent).
    #[error("every current required terms document must be agreed to: {0}")]
    Terms(String),
    /// The identity did not match the institution's records.
    #[error("the details do not match the institution's records")]
    IdentityMismatch,
    /// The code is wrong.
    #[error("wrong code")]
    WrongCode,
    /// The code expired, was used up, or none was sent.
    #[error("the code has expired or was used up; request a new one")]
    CodeExpired,
    /// Too many codes sent for this enrolment.
    #[error("too many codes sent; start again")]
    TooManyCodes,
    /// Identity verifier unavailable.
    #[error(transparent)]
    Verifier(#[from] VerifierError),
    /// Message sender unavailable.
    #[error(transparent)]
    Sender(#[from] SendError),
    /// KMS unavailable.
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// The customer has no registered medium of that kind.
    #[error("no security medium of this kind is registered for you")]
    MediumNotRegistered,
    /// No open card challenge (ask for one first; each is single-use).
    #[error("there is no open security-card challenge; request one")]
    NoChallenge,
    /// The medium's answer is wrong.
    #[error("the security medium's answer is wrong")]
    WrongMediumAnswer,
    /// The OTP was already used.
    #[error("this one-time password was already used")]
    OtpReplayed,
    /// Too many wrong medium answers: the enrolment is over.
    #[error("too many wrong answers; start again")]
    MediumAttemptsExhausted,
    /// The PIN was refused (format, or too easy to guess).
    #[error(transparent)]
    Pin(#[from] crate::domain::pin::PinError),
    /// The credential choice is inconsistent (e.g. reissue without the old certificate).
    #[error("{0}")]
    Credential(&'static str),
    /// Issuance failed.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// Session tokens failed.
    #[error(transparent)]
    Token(#[from] crate::auth::tokens::TokenError),
    /// Security media failed.
    #[error(transparent)]
    Media(#[from] crate::auth::media::MediaError),
    /// A PIN reset without a passkey bound to the key: reissuance is the way.
    #[error("no passkey is bound to this certificate's key; reissue it")]
    ReissuanceRequired {
        /// The fee of a general-purpose certificate's reissuance (KRW).
        fee_krw: u32,
    },
    /// The PIN change or reset was refused or failed.
    #[error(transparent)]
    PinChange(#[from] crate::auth::pin::PinChangeError),
    /// The passkey ceremony failed.
    #[error(transparent)]
    Passkey(#[from] crate::auth::passkeys::PasskeyError),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
