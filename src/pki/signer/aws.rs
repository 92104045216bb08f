//! The AWS CA key backend: an asymmetric key inside AWS KMS (`CreateKey` with `SIGN_VERIFY`),
//! its public key from `GetPublicKey`, every signature a `Sign` call. The private key never
//! leaves KMS.

use sea_orm::DatabaseConnection;

use super::{CaKey, CaKeyStore, CaSigner, NewCaKey, SignerError, StoredKey};
use crate::{
    config::KmsSettings,
    custody::{
        CustodyError,
        keys::KeyAlgorithm,
        kms::aws::{AwsKms, KmsSigningAlgorithm},
    },
    pki::PkiError,
    store::pki::AuthorityRow,
};

/// A key inside AWS KMS, signed with from a blocking thread.
pub struct KmsKey {
    kms: AwsKms,
    key_id: String,
    handle: tokio::runtime::Handle,
}

impl CaKey for KmsKey {
    fn backend(&self) -> &'static str {
        "kms"
    }

    fn sign(&self, algorithm: KeyAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let alg = match algorithm {
            KeyAlgorithm::Rsa2048 => KmsSigningAlgorithm::RsaPkcs1Sha256,
            KeyAlgorithm::P256 => KmsSigningAlgorithm::EcdsaSha256,
        };
        self.handle
            .block_on(self.kms.sign(&self.key_id, alg, message))
            .map_err(|e| SignerError(e.to_string()))
    }
}

impl CaSigner {
    /// An asymmetric key inside AWS KMS; its public key comes from `GetPublicKey`.
    pub async fn kms(
        kms: AwsKms,
        key_id: String,
        algorithm: KeyAlgorithm,
    ) -> Result<Self, SignerError> {
        let spki_der = kms
            .public_key(&key_id)
            .await
            .map_err(|e| SignerError(e.to_string()))?;
        let handle = tokio::runtime::Handle::current();
        Self::new(
            KmsKey {
                kms,
                key_id,
                handle,
            },
            algorithm,
            spki_der,
        )
    }
}

/// CA keys inside AWS KMS.
pub struct AwsCaKeys {
    kms: AwsKms,
}

impl AwsCaKeys {
    /// Connects to the KMS `settings` name.
    pub async fn connect(settings: &KmsSettings) -> Result<Self, PkiError> {
        AwsKms::connect(settings)
            .await
            .map(|kms| Self { kms })
            .map_err(|e| PkiError::Custody(CustodyError::Kms(e)))
    }
}

#[async_trait::async_trait]
impl CaKeyStore for AwsCaKeys {
    async fn create(&self, name: &str, algorithm: KeyAlgorithm) -> Result<NewCaKey, PkiError> {
        let key_id = create_kms_signing_key(&self.kms, algorithm, name).await?;
        let signer = CaSigner::kms(self.kms.clone(), key_id.clone(), algorithm).await?;
        Ok(NewCaKey {
            signer,
            stored: StoredKey::Kms(key_id),
        })
    }

    async fn open(
        &self,
        _db: &DatabaseConnection,
        row: &AuthorityRow,
        algorithm: KeyAlgorithm,
    ) -> Result<CaSigner, PkiError> {
        let key_id = row.kms_key_id.clone().ok_or(PkiError::NotInitialized)?;
        Ok(CaSigner::kms(self.kms.clone(), key_id, algorithm).await?)
    }
}

/// Creates an asymmetric signing key in KMS for the CA named `name`; returns its key id.
async fn create_kms_signing_key(
    aws: &AwsKms,
    alg: KeyAlgorithm,
    name: &str,
) -> Result<String, PkiError> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let spec = match alg {
        KeyAlgorithm::Rsa2048 => KeySpec::Rsa2048,
        KeyAlgorithm::P256 => KeySpec::EccNistP256,
    };
    let out = aws
        .client()
        .create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .description(format!("fincert {name} CA"))
        .send()
        .await
        .map_err(|e| {
            PkiError::Signer(SignerError(format!(
                "CreateKey: {}",
                aws_sdk_kms::error::DisplayErrorContext(e)
            )))
        })?;
    out.key_metadata
        .map(|m| m.key_id)
        .ok_or_else(|| PkiError::Signer(SignerError("CreateKey returned no key".into())))
}
