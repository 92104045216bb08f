//! CA signing keys behind rcgen's `SigningKey`: a sealed key held in memory (local backend, and
//! the OCSP responder always), or an asymmetric AWS KMS key used through `Sign`.
//!
//! rcgen's `sign()` is synchronous while the KMS client is async: every rcgen call that may use
//! a KMS key runs on a blocking thread ([`CaSigner::run_blocking`]), which drives the KMS call
//! with the runtime handle captured at load time.

use std::sync::Arc;

use rcgen::{CertificateParams, Issuer};

use super::{PkiError, enc};
use crate::custody::{
    keys::{KeyAlgorithm, SignatureScheme, SigningKey},
    kms::aws::{AwsKms, KmsSigningAlgorithm},
};

enum Backing {
    Sealed(SigningKey),
    Kms {
        kms: AwsKms,
        key_id: String,
        handle: tokio::runtime::Handle,
    },
}

/// A CA or OCSP responder key.
pub struct CaSigner {
    backing: Backing,
    algorithm: KeyAlgorithm,
    public: rcgen::SubjectPublicKeyInfo,
    spki_der: Vec<u8>,
}

impl std::fmt::Debug for CaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.backing {
            Backing::Sealed(_) => "sealed",
            Backing::Kms { .. } => "kms",
        };
        f.debug_struct("CaSigner")
            .field("backing", &kind)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// Signing with a CA key failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("CA key could not sign: {0}")]
pub struct SignerError(pub String);

impl CaSigner {
    /// A sealed key opened by custody.
    pub fn sealed(key: SigningKey) -> Result<Self, SignerError> {
        let spki_der = key
            .public_key_der()
            .map_err(|e| SignerError(e.to_string()))?;
        let algorithm = key.algorithm();
        Self::build(Backing::Sealed(key), algorithm, spki_der)
    }

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
        Self::build(
            Backing::Kms {
                kms,
                key_id,
                handle,
            },
            algorithm,
            spki_der,
        )
    }

    fn build(
        backing: Backing,
        algorithm: KeyAlgorithm,
        spki_der: Vec<u8>,
    ) -> Result<Self, SignerError> {
        let public = rcgen::SubjectPublicKeyInfo::from_der(&spki_der)
            .map_err(|e| SignerError(e.to_string()))?;
        Ok(Self {
            backing,
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
        match self.algorithm {
            KeyAlgorithm::Rsa2048 => SignatureScheme::RsaPkcs1Sha256,
            KeyAlgorithm::P256 => SignatureScheme::EcdsaP256Sha256,
        }
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
        match &self.backing {
            Backing::Sealed(key) => key
                .sign(self.scheme(), message)
                .map_err(|e| SignerError(e.to_string())),
            Backing::Kms {
                kms,
                key_id,
                handle,
            } => {
                let alg = match self.algorithm {
                    KeyAlgorithm::Rsa2048 => KmsSigningAlgorithm::RsaPkcs1Sha256,
                    KeyAlgorithm::P256 => KmsSigningAlgorithm::EcdsaSha256,
                };
                handle
                    .block_on(kms.sign(key_id, alg, message))
                    .map_err(|e| SignerError(e.to_string()))
            }
        }
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
