//! [`KmsPair`]: two backends at once while fincert moves from one to another (local → AWS,
//! AWS → PKCS#11 …; `kms_previous` names the one being left).
//!
//! - New data keys and wraps go to the current backend.
//! - A blob opens with the backend that made it, read off its key id ([`super::backend_of`]),
//!   so nothing needs moving before the switch.
//! - `re_encrypt` of a previous blob is the previous backend's Decrypt and the current one's
//!   Encrypt: no KMS can re-encrypt into another vendor's key, so the blob's plaintext (an
//!   inner-sealed slot or a medium's secret) passes through this process's memory for the
//!   moment between the two calls, zeroized on drop. A PIN slot's inner layer is still sealed
//!   under a key derived from the PIN, which fincert does not hold.
//! - MAC keys cannot move. [`Kms::mac_by`] reaches the previous backend's for secrets bound
//!   with it (PIN and passkey slots, webhook secrets) until each is bound again; codes of the
//!   last minutes (`verify_mac`) are checked under either key.
//!
//! Threat model while both are configured: a node holds credentials for both backends, so the
//! move widens nothing a node could already do; a copy of the database still opens nothing
//! without one of the two KMSs. Retire the previous backend (drop `kms_previous`) once
//! `fincert kms status` shows nothing depends on it.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{DataKey, EncryptionContext, Kms, KmsError, WrappedKey, backend_of, not_configured};

/// The current backend and the one being moved away from.
#[derive(Debug, Clone)]
pub struct KmsPair {
    current: Arc<dyn Kms>,
    previous: Arc<dyn Kms>,
}

impl KmsPair {
    /// `current` takes every new wrap; `previous` opens what it wrapped. They must be different
    /// backends (a new key within one backend is a rotation, which the backend handles itself).
    pub fn new(current: Arc<dyn Kms>, previous: Arc<dyn Kms>) -> Result<Self, String> {
        if current.backend() == previous.backend() {
            return Err(format!(
                "kms_previous: the {} backend cannot be its own previous backend",
                current.backend()
            ));
        }
        Ok(Self { current, previous })
    }

    fn of(&self, wrapped: &WrappedKey) -> &dyn Kms {
        if backend_of(&wrapped.kms_key_id) == self.previous.backend() {
            self.previous.as_ref()
        } else {
            self.current.as_ref()
        }
    }
}

#[async_trait::async_trait]
impl Kms for KmsPair {
    fn backend(&self) -> &'static str {
        self.current.backend()
    }

    fn current_key_id(&self) -> String {
        self.current.current_key_id()
    }

    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KmsError> {
        self.current.generate_data_key(context).await
    }

    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        self.current.encrypt(plaintext, context).await
    }

    async fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        self.of(wrapped).decrypt(wrapped, context).await
    }

    async fn re_encrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        if backend_of(&wrapped.kms_key_id) == self.previous.backend() {
            let plaintext = self.previous.decrypt(wrapped, context).await?;
            self.current.encrypt(&plaintext, context).await
        } else {
            self.current.re_encrypt(wrapped, context).await
        }
    }

    async fn mac(&self, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        self.current.mac(message).await
    }

    async fn verify_mac(&self, message: &[u8], mac: &[u8]) -> Result<bool, KmsError> {
        // A one-time code MACed by the previous backend just before the switch.
        if self.current.verify_mac(message, mac).await? {
            return Ok(true);
        }
        self.previous.verify_mac(message, mac).await
    }

    async fn mac_by(&self, backend: &str, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        if backend == self.current.backend() {
            self.current.mac(message).await
        } else if backend == self.previous.backend() {
            self.previous.mac(message).await
        } else {
            Err(not_configured(backend))
        }
    }

    fn previous_backend(&self) -> Option<&'static str> {
        Some(self.previous.backend())
    }

    async fn probe(&self) -> Result<(), KmsError> {
        let (current, previous) = tokio::join!(self.current.probe(), self.previous.probe());
        current?;
        previous.map_err(|e| match e {
            KmsError::Unavailable(why) => KmsError::Unavailable(format!("kms_previous: {why}")),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::kms::local::LocalKms;

    /// The same backend twice is a rotation, not a move.
    #[test]
    fn a_backend_is_not_its_own_previous() {
        let dir = tempfile::tempdir().unwrap();
        let a = Arc::new(LocalKms::open_or_create(&dir.path().join("a.json")).unwrap());
        let b = Arc::new(LocalKms::open_or_create(&dir.path().join("b.json")).unwrap());
        assert!(KmsPair::new(a, b).is_err());
    }

    #[test]
    fn blobs_name_their_backend() {
        assert_eq!(backend_of("local:0011223344556677"), "local");
        assert_eq!(backend_of("pkcs11:fincert-wrap"), "pkcs11");
        assert_eq!(
            backend_of("arn:aws:kms:ap-northeast-2:111122223333:key/1234abcd"),
            "aws"
        );
    }
}
