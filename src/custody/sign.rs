//! Signing with a live activation of this node (counted for native approvals, uncounted for a
//! CSC SAD's cached copy). The activation itself enforces its window and count
//! (see [`super::activation`]); no key material passes through here.

use uuid::Uuid;

use super::{Custody, CustodyError, OwnerId, keys::SignatureScheme};

impl Custody {
    /// Signs a message with a live activation.
    pub fn sign(
        &self,
        owner: &OwnerId,
        activation: Uuid,
        scheme: SignatureScheme,
        message: &[u8],
    ) -> Result<Vec<u8>, CustodyError> {
        Ok(self.activations.sign(
            activation,
            owner.as_str(),
            self.clock.now(),
            scheme,
            message,
        )?)
    }

    /// Signs a SHA-256 digest with a live activation.
    pub fn sign_digest(
        &self,
        owner: &OwnerId,
        activation: Uuid,
        scheme: SignatureScheme,
        sha256: &[u8],
    ) -> Result<Vec<u8>, CustodyError> {
        Ok(self.activations.sign_digest(
            activation,
            owner.as_str(),
            self.clock.now(),
            scheme,
            sha256,
        )?)
    }
}
