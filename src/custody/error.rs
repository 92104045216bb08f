//! The one error enum of custody. Every failure a caller can see is one of these variants;
//! KMS and database outages stay distinct from wrong secrets, so an outage is never counted as
//! a wrong PIN (see [`super::unlock`]).

use super::{activation::ActivationError, keys::KeyError, kms::KmsError, sealed::SealError};
use crate::store::StoreError;

/// Custody failures.
#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    /// Malformed owner id.
    #[error("invalid owner id")]
    InvalidOwner,
    /// No such key for this owner.
    #[error("no such key")]
    KeyNotFound,
    /// The PIN did not open the key. `tries_left` is how many wrong PINs remain before the
    /// lock, when the attempt was counted (0: this one locked the PIN).
    #[error("wrong PIN")]
    WrongPin {
        /// Wrong PINs left before the lock, for a counted attempt.
        tries_left: Option<u32>,
    },
    /// Too many consecutive wrong PINs: the PIN is locked until the certificate is reissued.
    #[error("the PIN is locked")]
    PinLocked,
    /// The passkey is not bound to this key.
    #[error("this passkey is not bound to the key")]
    PasskeyNotBound,
    /// The passkey is already bound to this key.
    #[error("this passkey is already bound to the key")]
    PasskeyAlreadyBound,
    /// The sealed key or a slot does not belong where it is stored (tampering or a blob swap).
    #[error("key material failed its integrity check")]
    Integrity,
    /// KMS unavailable or refusing; nothing was changed.
    #[error(transparent)]
    Kms(KmsError),
    /// Database unavailable; nothing was changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key generation or signing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Signing with an activation was refused.
    #[error(transparent)]
    Activation(#[from] ActivationError),
    /// aws-lc failed to seal.
    #[error("sealing failed")]
    Seal,
    /// The node's pool for heavy work (key generation) is full, or the work failed.
    #[error(transparent)]
    Heavy(#[from] crate::heavy::HeavyError),
}

impl From<SealError> for CustodyError {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Open => Self::Integrity,
            SealError::Seal => Self::Seal,
        }
    }
}

impl From<crate::domain::owner::InvalidOwnerId> for CustodyError {
    fn from(_: crate::domain::owner::InvalidOwnerId) -> Self {
        Self::InvalidOwner
    }
}
