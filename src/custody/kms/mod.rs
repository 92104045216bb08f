//! The key management service behind one trait: `local` (a keyring file; the embedded
//! default), `aws` (AWS KMS through aws-sdk-kms; moto in tests) and `pkcs11` (a PKCS#11 HSM
//! through cryptoki; SoftHSM2 in tests).
//!
//! What fincert asks of a KMS is small: fresh data keys, wrapping and unwrapping short
//! plaintexts under an **encryption context** that the KMS authenticates, moving wrapped blobs
//! to the current key without exposing them (`re_encrypt`), and an HMAC under a key that never
//! leaves the KMS (PIN binding). A backend must never log or return plaintext it unwraps
//! anywhere but to its caller, in zeroizing memory.

pub mod aws;
pub mod contract;
pub mod local;
pub mod observed;
pub mod pair;
pub mod pkcs11;

use std::{collections::BTreeMap, sync::Arc};

use zeroize::Zeroizing;

use crate::config::{KmsBackend, KmsSettings, Settings};

/// Opens the configured backend: the local keyring (created on first use), AWS KMS (whose
/// keys are resolved now, so a wrong key id or an unreachable KMS stops start-up) or a PKCS#11
/// HSM (logged in and its keys found now, likewise). With `kms_previous` set, both, as a
/// [`pair::KmsPair`]: new wraps go to `kms`, blobs of the previous backend still open.
pub async fn connect(settings: &Settings) -> Result<Arc<dyn Kms>, String> {
    let current = connect_one(settings, &settings.kms).await?;
    match &settings.kms_previous {
        None => Ok(current),
        Some(previous) => {
            let previous = connect_one(settings, previous)
                .await
                .map_err(|e| format!("kms_previous: {e}"))?;
            Ok(Arc::new(pair::KmsPair::new(current, previous)?))
        }
    }
}

async fn connect_one(settings: &Settings, kms: &KmsSettings) -> Result<Arc<dyn Kms>, String> {
    match kms.backend {
        KmsBackend::Local => {
            let kms = local::LocalKms::open_or_create(&settings.keyring_path_of(kms))
                .map_err(|e| e.to_string())?;
            Ok(Arc::new(kms))
        }
        KmsBackend::Aws => {
            let kms = aws::AwsKms::connect(kms)
                .await
                .map_err(|e| format!("AWS KMS: {e}"))?;
            Ok(Arc::new(kms))
        }
        KmsBackend::Pkcs11 => {
            let kms = pkcs11::Pkcs11Kms::connect(kms)
                .await
                .map_err(|e| format!("PKCS#11 HSM: {e}"))?;
            Ok(Arc::new(kms))
        }
    }
}

/// The backend that made a wrapped blob, read off its key id: `local:<id>`, `pkcs11:<label>`,
/// and AWS key ARNs (or ids) for everything else.
pub fn backend_of(kms_key_id: &str) -> &'static str {
    if kms_key_id.starts_with("local:") {
        "local"
    } else if kms_key_id.starts_with(pkcs11::KEY_ID_PREFIX) {
        "pkcs11"
    } else {
        "aws"
    }
}

/// Length of data keys (AES-256).
pub const DATA_KEY_LEN: usize = 32;

/// A data key in plaintext: lives only in memory, wiped on drop.
pub type DataKey = Zeroizing<[u8; DATA_KEY_LEN]>;

/// Key-value pairs the KMS binds to a wrapped blob: decrypting with any other context fails.
/// Keys are ordered, so the canonical form is deterministic.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pair.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    /// The pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// Canonical bytes (JSON object with sorted keys), used as AEAD associated data.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for EncryptionContext {
    // Contexts hold identifiers only (never secrets), but keep logs short.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A blob wrapped by a KMS key, with the id of that key (to find blobs to re-wrap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The wrapping key's id (`local:<id>` or an AWS key ARN/id).
    pub kms_key_id: String,
    /// The ciphertext blob.
    pub blob: Vec<u8>,
}

/// What can go wrong talking to a KMS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    /// The blob does not decrypt under this context (wrong context, tampered or foreign blob).
    #[error("ciphertext does not decrypt under this context")]
    InvalidCiphertext,
    /// The KMS did not answer in time or could not be reached.
    #[error("KMS unavailable: {0}")]
    Unavailable(String),
    /// The KMS answered with a refusal (missing key, access denied, disabled key, bad request).
    #[error("KMS refused the operation: {0}")]
    Rejected(String),
}

/// The error for a MAC key of a backend that is not configured.
pub fn not_configured(backend: &str) -> KmsError {
    KmsError::Unavailable(format!(
        "the {backend} backend holds this secret's MAC key and is not configured (kms_previous)"
    ))
}

/// A key management service.
#[async_trait::async_trait]
pub trait Kms: Send + Sync + std::fmt::Debug {
    /// `local`, `aws` or `pkcs11`.
    fn backend(&self) -> &'static str;

    /// The id new wraps are made under.
    fn current_key_id(&self) -> String;

    /// A fresh 256-bit data key from the KMS's random source. Only the plaintext is returned:
    /// fincert wraps it per slot with [`Kms::encrypt`], so no copy exists whose context lacks
    /// the slot's binding.
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KmsError>;

    /// Wraps `plaintext` (at most 4 KiB) under the current key and `context`.
    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError>;

    /// Unwraps a blob; fails with [`KmsError::InvalidCiphertext`] unless `context` is the one it
    /// was wrapped with.
    async fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError>;

    /// Moves a blob to the current key, same context, without handing its plaintext to fincert
    /// (AWS: ReEncrypt inside KMS; local: in memory only, wiped at once).
    async fn re_encrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError>;

    /// HMAC-SHA256 of `message` under the KMS-held MAC key.
    async fn mac(&self, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, KmsError>;

    /// Checks a MAC made by [`Kms::mac`] (constant time).
    async fn verify_mac(&self, message: &[u8], mac: &[u8]) -> Result<bool, KmsError>;

    /// HMAC-SHA256 of `message` under the MAC key of `backend` (`local`, `aws`, `pkcs11`):
    /// this backend's own, or while moving between backends the previous one's. A MAC key
    /// cannot be moved, so a secret bound with the previous backend's needs it until the
    /// secret is bound again. A backend that is not configured is unavailable (fail closed).
    async fn mac_by(&self, backend: &str, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        if backend == self.backend() {
            self.mac(message).await
        } else {
            Err(not_configured(backend))
        }
    }

    /// The backend being moved away from (`kms_previous`), if any.
    fn previous_backend(&self) -> Option<&'static str> {
        None
    }

    /// A cheap call showing the KMS answers and the wrapping key is usable (AWS: DescribeKey
    /// on the data key, which must be enabled; local: the keyring is readable). The readiness
    /// probe calls it every few seconds.
    async fn probe(&self) -> Result<(), KmsError>;
}
