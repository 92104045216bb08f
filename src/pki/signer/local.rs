//! The local CA key backend: a sealed custody service key (owner `ca:<name>`), opened into
//! memory and signing there. Used for root and issuing keys with the local KMS backend, and
//! always for the OCSP responder.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use super::{CaKey, CaKeyStore, CaSigner, NewCaKey, SignerError, StoredKey, scheme_of};
use crate::{
    custody::{
        Custody, OwnerId,
        keys::{KeyAlgorithm, SigningKey},
    },
    pki::PkiError,
    store::pki::AuthorityRow,
};

/// A sealed key held in memory.
pub struct SealedKey(SigningKey);

impl CaKey for SealedKey {
    fn backend(&self) -> &'static str {
        "sealed"
    }

    fn sign(&self, algorithm: KeyAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.0
            .sign(scheme_of(algorithm), message)
            .map_err(|e| SignerError(e.to_string()))
    }
}

impl CaSigner {
    /// A sealed key opened by custody.
    pub fn sealed(key: SigningKey) -> Result<Self, SignerError> {
        let spki_der = key
            .public_key_der()
            .map_err(|e| SignerError(e.to_string()))?;
        let algorithm = key.algorithm();
        Self::new(SealedKey(key), algorithm, spki_der)
    }
}

/// CA keys as sealed custody service keys.
pub struct LocalCaKeys {
    custody: Arc<Custody>,
}

impl LocalCaKeys {
    /// Keys sealed by `custody`.
    pub fn new(custody: Arc<Custody>) -> Self {
        Self { custody }
    }
}

fn owner_of(name: &str) -> Result<OwnerId, PkiError> {
    OwnerId::parse(&format!("ca:{name}")).map_err(|e| PkiError::Custody(e.into()))
}

#[async_trait::async_trait]
impl CaKeyStore for LocalCaKeys {
    /// Prepares a service key and opens it before it is persisted: it has to sign (its own
    /// certificate, the next level) before the transaction that stores it.
    async fn create(&self, name: &str, algorithm: KeyAlgorithm) -> Result<NewCaKey, PkiError> {
        let owner = owner_of(name)?;
        let key = self.custody.prepare_service_key(&owner, algorithm).await?;
        let signer = CaSigner::sealed(self.custody.unseal_prepared(&key).await?)?;
        Ok(NewCaKey {
            signer,
            stored: StoredKey::Sealed(Box::new(key)),
        })
    }

    async fn open(
        &self,
        db: &DatabaseConnection,
        row: &AuthorityRow,
        _algorithm: KeyAlgorithm,
    ) -> Result<CaSigner, PkiError> {
        let key_id = row.custody_key_id.ok_or(PkiError::NotInitialized)?;
        let owner = owner_of(&row.id)?;
        Ok(CaSigner::sealed(
            self.custody.open_service_key(db, &owner, key_id).await?,
        )?)
    }
}
