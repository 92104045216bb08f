//! The PKI's one error type. Each variant wraps the error of the part that failed; the HTTP
//! mapping lives in `crate::error`, never here.

use super::{
    foreign, lifecycle::LifecycleError, profile::ProfileError, signer::SignerError, x509::X509Error,
};
use crate::{custody::CustodyError, store::StoreError};

/// PKI failures.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The request does not fit a profile.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A CSR or certificate given to us was refused.
    #[error(transparent)]
    Input(#[from] X509Error),
    /// The lifecycle does not allow this now.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// No such certificate for this owner.
    #[error("no such certificate")]
    NotFound,
    /// The CA has not been set up (`fincert ca init`).
    #[error("the CA is not initialised; run `fincert ca init`")]
    NotInitialized,
    /// A CA key named in the settings cannot be used (`ca init`): missing, not found, or not a
    /// signing key of the CA's algorithm.
    #[error("{setting}: {problem}")]
    CaKey {
        /// The setting naming the key.
        setting: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// `ca init` on an initialised CA.
    #[error("the CA is already initialised")]
    AlreadyInitialized,
    /// The root revoked the issuing CA (`fincert ca revoke-issuing`): nothing more is issued
    /// under it.
    #[error("the issuing CA is revoked; no certificate is issued under it")]
    IssuingCaRevoked,
    /// The certificate changed concurrently; nothing was done.
    #[error("the certificate changed concurrently; retry")]
    Concurrent,
    /// The storage choice needs another key source (CSR for device, PIN for cloud).
    #[error("{0}")]
    KeySource(&'static str),
    /// Key custody failed.
    #[error(transparent)]
    Custody(#[from] CustodyError),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A CA key could not sign (KMS down).
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// A foreign certificate or PKCS#12 file was refused.
    #[error(transparent)]
    Foreign(#[from] foreign::ForeignError),
    /// Encoding failed (a bug).
    #[error("encoding failed: {0}")]
    Encoding(String),
    /// A charge the request did not confirm: `fee_confirmed_krw` missing or not the current
    /// fee. Nothing was issued, renewed or charged.
    #[error("this charges {fee_krw} KRW; confirm it with fee_confirmed_krw: {fee_krw}")]
    FeeNotConfirmed {
        /// The current fee (KRW).
        fee_krw: u32,
        /// What the request confirmed, if anything.
        given: Option<u32>,
    },
    /// Automatic renewal needs a cloud key issued here (device-kept and imported certificates
    /// are renewed by hand).
    #[error(
        "this certificate cannot renew itself: its key is on a device or it was issued by another CA"
    )]
    AutoRenewalUnavailable,
    /// The node's pool for heavy work is full (503), or the work failed.
    #[error(transparent)]
    Heavy(#[from] crate::heavy::HeavyError),
}

/// An encoding failure (a bug): what every `map_err` of an encoder in this module uses.
pub(super) fn enc(e: impl std::fmt::Display) -> PkiError {
    PkiError::Encoding(e.to_string())
}
