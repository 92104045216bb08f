//! CA signing behind two small traits, one implementation per backend (as step-ca's `cas/`):
//!
//! - [`CaKey`]: "sign these bytes" with one CA or OCSP responder key;
//! - [`CaKeyStore`]: "create the CA key named X" and "open the stored key of authority X".
//!
//! [`local`] keeps the key as a sealed custody service key held in memory once opened; [`aws`]
//! keeps it inside AWS KMS and signs through `Sign`; [`pkcs11`] generates it inside a PKCS#11
//! HSM and signs through `C_Sign`. [`CaKeyStores`] picks the backends once,
//! when the hierarchy is created or loaded: new root and issuing keys go to the configured KMS
//! backend, the responder's key is always local (it signs every OCSP answer), and a stored key
//! is opened by the backend its authority row names. The PKI never calls KMS itself.
//!
//! [`CaSigner`] wraps any [`CaKey`] for rcgen's `SigningKey` and for OCSP. rcgen's `sign()` is
//! synchronous while the KMS client is async: every rcgen call that may use a KMS key runs on a
//! blocking thread ([`CaSigner::run_blocking`]), which drives the KMS call with the runtime
//! handle captured at load time.

pub mod aws;
pub mod local;
pub mod pkcs11;

use std::sync::Arc;

use rcgen::{CertificateParams, Issuer};
use sea_orm::DatabaseConnection;

use self::{aws::AwsCaKeys, local::LocalCaKeys, pkcs11::Pkcs11CaKeys};
use super::{PkiError, enc};
use crate::{
    config::Settings,
    custody::{
        Custody, PreparedKey,
        keys::{KeyAlgorithm, SignatureScheme},
    },
    store::pki::AuthorityRow,
};

/// One CA key, whichever backend holds it.
pub trait CaKey: Send + Sync {
    /// The backend's name, as the authority row's `key_kind` says it (`sealed`, `kms`).
    fn backend(&self) -> &'static str;

    /// Signs `message` (hashed with SHA-256 by the key) in `algorithm`'s scheme (the key's
    /// own algorithm; see [`CaSigner::scheme`]). May block (KMS): call it from a blocking thread.
    fn sign(&self, algorithm: KeyAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignerError>;
}

/// Where CA keys are made and kept: one implementation per backend.
#[async_trait::async_trait]
pub trait CaKeyStore: Send + Sync {
    /// A new key for the CA named `name` (`root`, `issuing`, `ocsp`): made (local) or the
    /// configured existing key, checked (AWS). It can sign at once; what the authority row
    /// records (and a sealed key still to be stored in the `ca init` transaction) comes back
    /// with it.
    async fn create(&self, name: &str, algorithm: KeyAlgorithm) -> Result<NewCaKey, PkiError>;

    /// Opens the stored key of the authority `row`.
    async fn open(
        &self,
        db: &DatabaseConnection,
        row: &AuthorityRow,
        algorithm: KeyAlgorithm,
    ) -> Result<CaSigner, PkiError>;
}

/// A freshly created CA key.
pub struct NewCaKey {
    /// Its signer.
    pub signer: CaSigner,
    /// Where it is kept.
    pub stored: StoredKey,
}

/// Where a new CA key is kept, as its authority row records it.
pub enum StoredKey {
    /// A sealed custody service key, not yet stored: it signs (its own certificate, the next
    /// level) before the transaction that persists it.
    Sealed(Box<PreparedKey>),
    /// An asymmetric key inside AWS KMS, by key id.
    Kms(String),
    /// A key pair inside the PKCS#11 HSM, as `pkcs11:<label>`.
    Pkcs11(String),
}

impl StoredKey {
    /// The row's `key_kind`.
    pub fn key_kind(&self) -> &'static str {
        match self {
            Self::Sealed(_) => "sealed",
            Self::Kms(_) => "kms",
            Self::Pkcs11(_) => pkcs11::KEY_KIND,
        }
    }

    /// The row's `custody_key_id`.
    pub fn custody_key_id(&self) -> Option<uuid::Uuid> {
        match self {
            Self::Sealed(key) => Some(key.info.id),
            Self::Kms(_) | Self::Pkcs11(_) => None,
        }
    }

    /// The row's `kms_key_id`.
    pub fn kms_key_id(&self) -> Option<String> {
        match self {
            Self::Sealed(_) => None,
            Self::Kms(key_id) | Self::Pkcs11(key_id) => Some(key_id.clone()),
        }
    }
}

/// The CA key backends of this process, chosen once when the hierarchy is created or loaded.
pub struct CaKeyStores {
    local: LocalCaKeys,
    aws: Option<AwsCaKeys>,
    /// The HSM, with `kms.backend = "pkcs11"`.
    pkcs11: Option<Pkcs11CaKeys>,
    /// New root and issuing keys go to the HSM (`pki.pkcs11_ca_keys`).
    hsm_ca_keys: bool,
}

impl CaKeyStores {
    /// The local store, and the AWS one too when `aws_needed` (connecting to it now).
    pub async fn connect(
        aws_needed: bool,
        settings: &Settings,
        custody: Arc<Custody>,
    ) -> Result<Self, PkiError> {
        let aws = if aws_needed {
            Some(AwsCaKeys::connect(settings, custody.kms_metrics().cloned()).await?)
        } else {
            None
        };
        let pkcs11 = if settings.kms.backend == crate::config::KmsBackend::Pkcs11 {
            Some(Pkcs11CaKeys::connect(
                settings,
                custody.kms_metrics().cloned(),
            )?)
        } else {
            None
        };
        Ok(Self {
            local: LocalCaKeys::new(custody),
            aws,
            pkcs11,
            hsm_ca_keys: settings.pki.pkcs11_ca_keys,
        })
    }

    /// Where new root and issuing keys go: AWS KMS when connected, the HSM when
    /// `pki.pkcs11_ca_keys`, else local.
    pub fn for_ca_keys(&self) -> &dyn CaKeyStore {
        match (&self.aws, &self.pkcs11) {
            (Some(aws), _) => aws,
            (None, Some(hsm)) if self.hsm_ca_keys => hsm,
            _ => &self.local,
        }
    }

    /// Where the OCSP responder's key goes: always local.
    pub fn for_responder(&self) -> &dyn CaKeyStore {
        &self.local
    }

    /// The store holding `row`'s key: AWS for a KMS key (when connected), local for a sealed
    /// one; `NotInitialized` when neither fits.
    pub fn holding(&self, row: &AuthorityRow) -> Result<&dyn CaKeyStore, PkiError> {
        if row.key_kind == pkcs11::KEY_KIND {
            // A key in the HSM needs the pkcs11 backend.
            return match &self.pkcs11 {
                Some(hsm) => Ok(hsm),
                None => Err(PkiError::NotInitialized),
            };
        }
        match (&row.kms_key_id, &row.custody_key_id, &self.aws) {
            (Some(_), _, Some(aws)) => Ok(aws),
            (_, Some(_), _) => Ok(&self.local),
            _ => Err(PkiError::NotInitialized),
        }
    }
}

/// A CA or OCSP responder key.
pub struct CaSigner {
    key: Box<dyn CaKey>,
    algorithm: KeyAlgorithm,
    public: rcgen::SubjectPublicKeyInfo,
    spki_der: Vec<u8>,
}

impl std::fmt::Debug for CaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaSigner")
            .field("backing", &self.key.backend())
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// Signing with a CA key failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("CA key could not sign: {0}")]
pub struct SignerError(pub String);

impl CaSigner {
    /// A signer over `key`, whose public key is `spki_der`.
    pub fn new(
        key: impl CaKey + 'static,
        algorithm: KeyAlgorithm,
        spki_der: Vec<u8>,
    ) -> Result<Self, SignerError> {
        let public = rcgen::SubjectPublicKeyInfo::from_der(&spki_der)
            .map_err(|e| SignerError(e.to_string()))?;
        Ok(Self {
            key: Box::new(key),
            algorithm,
            public,
            spki_der,
        })
    }

    /// SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The signature scheme this key signs certificates, CRLs and OCSP answers with.
    pub fn scheme(&self) -> SignatureScheme {
        scheme_of(self.algorithm)
    }

    /// The X.509 AlgorithmIdentifier OID of its signatures.
    pub fn signature_oid(&self) -> const_oid::ObjectIdentifier {
        match self.algorithm {
            KeyAlgorithm::Rsa2048 => const_oid::db::rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            KeyAlgorithm::P256 => const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
        }
    }

    /// Signs `message` (hashed with SHA-256 by the key). Blocks on KMS keys: call it from a
    /// blocking thread.
    pub fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.key.sign(self.algorithm, message)
    }

    /// Runs `f` (an rcgen call that signs with this key) on a blocking thread.
    pub async fn run_blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&CaSigner) -> T + Send + 'static,
    ) -> Result<T, SignerError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me))
            .await
            .map_err(|e| SignerError(e.to_string()))
    }
}

/// The signature scheme of a CA key algorithm.
fn scheme_of(algorithm: KeyAlgorithm) -> SignatureScheme {
    match algorithm {
        KeyAlgorithm::Rsa2048 => SignatureScheme::RsaPkcs1Sha256,
        KeyAlgorithm::P256 => SignatureScheme::EcdsaP256Sha256,
    }
}

impl rcgen::PublicKeyData for CaSigner {
    fn der_bytes(&self) -> &[u8] {
        rcgen::PublicKeyData::der_bytes(&self.public)
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.algorithm {
            KeyAlgorithm::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
            KeyAlgorithm::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        }
    }
}

impl rcgen::SigningKey for CaSigner {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.sign_message(msg).map_err(|e| {
            tracing::error!(error = %e, "CA signing failed");
            rcgen::Error::RemoteKeyError
        })
    }
}

/// Signs `params` for the public key `spki` with an issuer's key, on a blocking thread.
pub(super) async fn sign_with(
    signer: &Arc<CaSigner>,
    issuer_der: &[u8],
    params: CertificateParams,
    spki: Vec<u8>,
) -> Result<Vec<u8>, PkiError> {
    let issuer_der = issuer_der.to_vec();
    signer
        .run_blocking(move |s| {
            let issuer = Issuer::from_ca_cert_der(&issuer_der.into(), s).map_err(enc)?;
            let public = rcgen::SubjectPublicKeyInfo::from_der(&spki).map_err(enc)?;
            params
                .signed_by(&public, &issuer)
                .map(|c| c.der().to_vec())
                .map_err(enc)
        })
        .await?
}
