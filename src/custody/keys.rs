//! Key pairs with aws-lc-rs: RSA-2048 (the usual key of Korean personal certificates) and
//! ECDSA P-256. Private keys leave this module only as PKCS#8 in zeroizing buffers (to be
//! sealed) or as parsed key pairs inside an activation. aws-lc frees key memory through
//! `OPENSSL_free`, which cleanses it, so dropping a [`SigningKey`] wipes it.

use aws_lc_rs::{
    digest::{self, Digest},
    encoding::{AsDer, Pkcs8V1Der},
    rsa::KeySize,
    signature::{self, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, RsaKeyPair},
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use crate::domain::key_algorithm::KeyAlgorithm;

/// Signature schemes, all over SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1Sha256,
    /// RSASSA-PSS, salt length = 32.
    RsaPssSha256,
    /// ECDSA, DER-encoded signature.
    EcdsaP256Sha256,
}

impl SignatureScheme {
    /// The key algorithm this scheme needs.
    pub fn key_algorithm(self) -> KeyAlgorithm {
        match self {
            Self::RsaPkcs1Sha256 | Self::RsaPssSha256 => KeyAlgorithm::Rsa2048,
            Self::EcdsaP256Sha256 => KeyAlgorithm::P256,
        }
    }

    /// An aws-lc-rs verification algorithm for this scheme (for tests and verify endpoints).
    pub fn verification(self) -> &'static dyn signature::VerificationAlgorithm {
        match self {
            Self::RsaPkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::RsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
        }
    }
}

/// Key operation failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Generation failed in aws-lc.
    #[error("key generation failed")]
    Generate,
    /// The PKCS#8 did not parse as the expected algorithm.
    #[error("private key does not parse as {0}")]
    Parse(&'static str),
    /// The scheme needs another key algorithm.
    #[error("{scheme:?} needs a {needs} key")]
    SchemeMismatch {
        /// Requested scheme.
        scheme: SignatureScheme,
        /// What it needs.
        needs: &'static str,
    },
    /// A digest of the wrong length.
    #[error("a SHA-256 digest is 32 bytes")]
    DigestLength,
    /// Signing failed in aws-lc.
    #[error("signing failed")]
    Sign,
}

/// A freshly generated key: PKCS#8 to seal, public key to publish.
pub struct GeneratedKey {
    /// PKCS#8 v1 DER, wiped on drop.
    pub pkcs8: Zeroizing<Vec<u8>>,
    /// SubjectPublicKeyInfo DER.
    pub public_key_der: Vec<u8>,
}

/// Generates a key pair.
pub fn generate(algorithm: KeyAlgorithm) -> Result<GeneratedKey, KeyError> {
    match algorithm {
        KeyAlgorithm::Rsa2048 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
            let pkcs8: Pkcs8V1Der<'static> =
                AsDer::<Pkcs8V1Der>::as_der(&pair).map_err(|_| KeyError::Generate)?;
            Ok(GeneratedKey {
                pkcs8: Zeroizing::new(pkcs8.as_ref().to_vec()),
                public_key_der: public_der_rsa(&pair)?,
            })
        }
        KeyAlgorithm::P256 => {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                .map_err(|_| KeyError::Generate)?;
            let pkcs8 = pair.to_pkcs8v1().map_err(|_| KeyError::Generate)?;
            Ok(GeneratedKey {
                pkcs8: Zeroizing::new(pkcs8.as_ref().to_vec()),
                public_key_der: public_der_ec(&pair)?,
            })
        }
    }
}

fn public_der_rsa(pair: &RsaKeyPair) -> Result<Vec<u8>, KeyError> {
    let der: aws_lc_rs::encoding::PublicKeyX509Der<'static> =
        pair.public_key().as_der().map_err(|_| KeyError::Generate)?;
    Ok(der.as_ref().to_vec())
}

fn public_der_ec(pair: &EcdsaKeyPair) -> Result<Vec<u8>, KeyError> {
    let der: aws_lc_rs::encoding::PublicKeyX509Der<'static> =
        pair.public_key().as_der().map_err(|_| KeyError::Generate)?;
    Ok(der.as_ref().to_vec())
}

/// A parsed private key, ready to sign. Deliberately not `Debug` and not `Clone`.
pub enum SigningKey {
    /// RSA-2048.
    Rsa(RsaKeyPair),
    /// ECDSA P-256.
    Ecdsa(EcdsaKeyPair),
}

impl SigningKey {
    /// Parses PKCS#8 of the given algorithm.
    pub fn from_pkcs8(algorithm: KeyAlgorithm, pkcs8: &[u8]) -> Result<Self, KeyError> {
        match algorithm {
            KeyAlgorithm::Rsa2048 => RsaKeyPair::from_pkcs8(pkcs8)
                .ok()
                .filter(|k| k.public_modulus_len() == 256)
                .map(Self::Rsa)
                .ok_or(KeyError::Parse("RSA-2048")),
            KeyAlgorithm::P256 => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8)
                .map(Self::Ecdsa)
                .map_err(|_| KeyError::Parse("ECDSA P-256")),
        }
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            Self::Rsa(_) => KeyAlgorithm::Rsa2048,
            Self::Ecdsa(_) => KeyAlgorithm::P256,
        }
    }

    /// SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> Result<Vec<u8>, KeyError> {
        match self {
            Self::Rsa(k) => public_der_rsa(k),
            Self::Ecdsa(k) => public_der_ec(k),
        }
    }

    fn check(&self, scheme: SignatureScheme) -> Result<(), KeyError> {
        if scheme.key_algorithm() == self.algorithm() {
            Ok(())
        } else {
            Err(KeyError::SchemeMismatch {
                scheme,
                needs: scheme.key_algorithm().as_str(),
            })
        }
    }

    /// Signs a message (hashed here with SHA-256).
    pub fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.sign_digest(scheme, digest::digest(&digest::SHA256, message).as_ref())
    }

    /// Signs a SHA-256 digest computed elsewhere (remote signing, CSC `signHash`).
    pub fn sign_digest(&self, scheme: SignatureScheme, sha256: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.check(scheme)?;
        if sha256.len() != 32 {
            return Err(KeyError::DigestLength);
        }
        let digest = Digest::import_less_safe(sha256, &digest::SHA256)
            .map_err(|_| KeyError::DigestLength)?;
        match (self, scheme) {
            (Self::Rsa(k), SignatureScheme::RsaPkcs1Sha256 | SignatureScheme::RsaPssSha256) => {
                let padding: &'static dyn signature::RsaEncoding =
                    if scheme == SignatureScheme::RsaPssSha256 {
                        &signature::RSA_PSS_SHA256
                    } else {
                        &signature::RSA_PKCS1_SHA256
                    };
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign_digest(padding, &digest, &mut sig)
                    .map_err(|_| KeyError::Sign)?;
                Ok(sig)
            }
            (Self::Ecdsa(k), SignatureScheme::EcdsaP256Sha256) => Ok(k
                .sign_digest(&digest)
                .map_err(|_| KeyError::Sign)?
                .as_ref()
                .to_vec()),
            _ => Err(KeyError::SchemeMismatch {
                scheme,
                needs: scheme.key_algorithm().as_str(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::UnparsedPublicKey;

    /// Configuration checks key algorithms against its own list (it imports nothing of ours):
    /// that list and the algorithms custody can make must stay the same set.
    #[test]
    fn configuration_accepts_exactly_the_algorithms_custody_makes() {
        for name in crate::config::KEY_ALGORITHMS {
            let alg = KeyAlgorithm::parse(name).expect("a configured name custody knows");
            assert_eq!(alg.as_str(), *name);
        }
        for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::P256] {
            assert!(crate::config::KEY_ALGORITHMS.contains(&alg.as_str()));
        }
    }

    fn verify(scheme: SignatureScheme, spki: &[u8], msg: &[u8], sig: &[u8]) -> bool {
        // aws-lc-rs verifiers take the SPKI for RSA as well as for EC (X.509 public key DER).
        UnparsedPublicKey::new(scheme.verification(), spki)
            .verify(msg, sig)
            .is_ok()
    }

    #[test]
    fn generated_keys_sign_and_verify_with_every_scheme() {
        for (alg, schemes) in [
            (
                KeyAlgorithm::Rsa2048,
                vec![
                    SignatureScheme::RsaPkcs1Sha256,
                    SignatureScheme::RsaPssSha256,
                ],
            ),
            (KeyAlgorithm::P256, vec![SignatureScheme::EcdsaP256Sha256]),
        ] {
            let generated = generate(alg).unwrap();
            let key = SigningKey::from_pkcs8(alg, &generated.pkcs8).unwrap();
            assert_eq!(key.public_key_der().unwrap(), generated.public_key_der);
            for scheme in schemes {
                let sig = key.sign(scheme, b"transfer 1,000,000 KRW").unwrap();
                assert!(
                    verify(
                        scheme,
                        &generated.public_key_der,
                        b"transfer 1,000,000 KRW",
                        &sig
                    ),
                    "{scheme:?}"
                );
                assert!(!verify(
                    scheme,
                    &generated.public_key_der,
                    b"transfer 9,000,000 KRW",
                    &sig
                ));
                // Signing the digest gives a signature over the same message.
                let d = digest::digest(&digest::SHA256, b"transfer 1,000,000 KRW");
                let sig = key.sign_digest(scheme, d.as_ref()).unwrap();
                assert!(verify(
                    scheme,
                    &generated.public_key_der,
                    b"transfer 1,000,000 KRW",
                    &sig
                ));
            }
        }
    }

    #[test]
    fn schemes_and_digests_are_checked() {
        let g = generate(KeyAlgorithm::P256).unwrap();
        let key = SigningKey::from_pkcs8(KeyAlgorithm::P256, &g.pkcs8).unwrap();
        assert!(matches!(
            key.sign(SignatureScheme::RsaPssSha256, b"x"),
            Err(KeyError::SchemeMismatch { .. })
        ));
        assert_eq!(
            key.sign_digest(SignatureScheme::EcdsaP256Sha256, &[0u8; 31])
                .unwrap_err(),
            KeyError::DigestLength
        );
        assert!(SigningKey::from_pkcs8(KeyAlgorithm::Rsa2048, &g.pkcs8).is_err());
    }
}
