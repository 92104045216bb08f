//! The PKCS#11 CA key backend: root and issuing keys generated inside the HSM by `ca init`
//! (`pki.pkcs11_ca_keys` with `kms.backend = "pkcs11"`), as sensitive, non-extractable token
//! keys, every signature a `C_Sign` through the KMS backend's session pool (one module, one
//! login per process).
//!
//! - RSA-2048: `CKM_SHA256_RSA_PKCS` over the whole message (the HSM hashes);
//! - ECDSA P-256: the message hashed here with SHA-256 (SoftHSM2 and several HSMs offer only
//!   the raw `CKM_ECDSA`), `CKM_ECDSA` over the digest, and its `r ‖ s` DER-encoded as X.509
//!   wants it.
//!
//! Each key pair has a label of its own (`fincert-ca-<name>-<random>`), which the authority
//! row keeps as `pkcs11:<label>`; a second `ca init` (after a wipe) never reuses a key.

use std::sync::Arc;

use cryptoki::{
    mechanism::Mechanism,
    object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle},
    session::Session,
};
use der::{
    Encode, Sequence,
    asn1::{BitString, OctetString, UintRef},
};
use sea_orm::DatabaseConnection;

use super::{CaKey, CaKeyStore, CaSigner, NewCaKey, SignerError, StoredKey};
use crate::{
    config::Settings,
    custody::{
        CustodyError,
        keys::KeyAlgorithm,
        kms::{
            KmsError,
            pkcs11::{
                self as hsm,
                pool::{OpError, Pool},
            },
        },
    },
    pki::PkiError,
    store::pki::AuthorityRow,
};

/// The authority row's `key_kind` for a key in the HSM.
pub const KEY_KIND: &str = "pkcs11";

/// DER of the named curve prime256v1 (1.2.840.10045.3.1.7), as `CKA_EC_PARAMS` takes it.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

#[derive(Sequence)]
struct EcdsaSignature<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// A CA key pair on the token, by label.
pub struct HsmKey {
    pool: Arc<Pool>,
    label: String,
    handle: tokio::runtime::Handle,
    /// Where its `C_Sign` calls are counted (as `Sign`, like the AWS CA keys').
    metrics: Option<crate::metrics::KmsMetrics>,
}

fn failed(e: impl std::fmt::Display) -> SignerError {
    SignerError(e.to_string())
}

fn find(session: &Session, label: &str, class: ObjectClass) -> Result<ObjectHandle, OpError> {
    let found = session.find_objects(&[
        Attribute::Class(class),
        Attribute::Label(label.as_bytes().to_vec()),
    ])?;
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(OpError::Kms(KmsError::Rejected(format!(
            "the HSM has no CA key labelled {label:?}"
        )))),
        _ => Err(OpError::Kms(KmsError::Rejected(format!(
            "the HSM has more than one CA key labelled {label:?}"
        )))),
    }
}

impl CaKey for HsmKey {
    fn backend(&self) -> &'static str {
        KEY_KIND
    }

    fn sign(&self, algorithm: KeyAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let label = self.label.clone();
        let message = message.to_vec();
        let started = std::time::Instant::now();
        let signed = self.handle.block_on(self.pool.call(move |ctx| {
            let key = find(ctx.session, &label, ObjectClass::PRIVATE_KEY)?;
            match algorithm {
                KeyAlgorithm::Rsa2048 => {
                    Ok(ctx.session.sign(&Mechanism::Sha256RsaPkcs, key, &message)?)
                }
                KeyAlgorithm::P256 => {
                    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &message);
                    Ok(ctx.session.sign(&Mechanism::Ecdsa, key, digest.as_ref())?)
                }
            }
        }));
        if let Some(m) = &self.metrics {
            crate::custody::kms::observed::count(m, crate::metrics::KmsOp::Sign, started, &signed);
        }
        let signature = signed.map_err(failed)?;
        match algorithm {
            KeyAlgorithm::Rsa2048 => Ok(signature),
            KeyAlgorithm::P256 => ecdsa_der(&signature),
        }
    }
}

/// `r ‖ s` (32 bytes each) as an Ecdsa-Sig-Value.
fn ecdsa_der(raw: &[u8]) -> Result<Vec<u8>, SignerError> {
    if raw.len() != 64 {
        return Err(SignerError(format!(
            "the HSM returned a {}-byte ECDSA signature",
            raw.len()
        )));
    }
    let (r, s) = raw.split_at(32);
    EcdsaSignature {
        r: UintRef::new(r).map_err(failed)?,
        s: UintRef::new(s).map_err(failed)?,
    }
    .to_der()
    .map_err(failed)
}

/// The SubjectPublicKeyInfo DER of the public key labelled `label`.
fn public_key(session: &Session, label: &str, algorithm: KeyAlgorithm) -> Result<Vec<u8>, OpError> {
    use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
    let key = find(session, label, ObjectClass::PUBLIC_KEY)?;
    let encoding = |e: der::Error| OpError::Kms(KmsError::Rejected(e.to_string()));
    let bytes = |t: AttributeType| -> Result<Vec<u8>, OpError> {
        session
            .get_attributes(key, &[t])?
            .into_iter()
            .find_map(|a| match a {
                Attribute::Modulus(v) | Attribute::PublicExponent(v) | Attribute::EcPoint(v) => {
                    Some(v)
                }
                _ => None,
            })
            .ok_or_else(|| {
                OpError::Kms(KmsError::Rejected(format!(
                    "the CA public key has no {t:?}"
                )))
            })
    };
    let (algorithm, key_bits) = match algorithm {
        KeyAlgorithm::Rsa2048 => {
            let (n, e) = (
                bytes(AttributeType::Modulus)?,
                bytes(AttributeType::PublicExponent)?,
            );
            let der = RsaPublicKey {
                modulus: UintRef::new(&n).map_err(encoding)?,
                public_exponent: UintRef::new(&e).map_err(encoding)?,
            }
            .to_der()
            .map_err(encoding)?;
            (
                AlgorithmIdentifierOwned {
                    oid: const_oid::db::rfc5912::RSA_ENCRYPTION,
                    parameters: Some(der::asn1::Null.into()),
                },
                der,
            )
        }
        KeyAlgorithm::P256 => {
            // CKA_EC_POINT is the DER OCTET STRING of the uncompressed point (some modules
            // give the bare point).
            let raw = bytes(AttributeType::EcPoint)?;
            let point = match der::Decode::from_der(&raw) {
                Ok(octets) => OctetString::into_bytes(octets),
                Err(_) => raw,
            };
            if point.len() != 65 || point[0] != 0x04 {
                return Err(OpError::Kms(KmsError::Rejected(
                    "the CA public key is not an uncompressed P-256 point".into(),
                )));
            }
            (
                AlgorithmIdentifierOwned {
                    oid: const_oid::db::rfc5912::ID_EC_PUBLIC_KEY,
                    parameters: Some((&const_oid::db::rfc5912::SECP_256_R_1).into()),
                },
                point,
            )
        }
    };
    SubjectPublicKeyInfoOwned {
        algorithm,
        subject_public_key: BitString::from_bytes(&key_bits).map_err(encoding)?,
    }
    .to_der()
    .map_err(encoding)
}

/// Generates a CA key pair labelled `label` on the token.
fn generate(session: &Session, label: &str, algorithm: KeyAlgorithm) -> Result<(), OpError> {
    let label_attr = Attribute::Label(label.as_bytes().to_vec());
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Derive(false),
        Attribute::Unwrap(false),
        label_attr.clone(),
    ];
    let (mechanism, public) = match algorithm {
        KeyAlgorithm::Rsa2048 => (
            Mechanism::RsaPkcsKeyPairGen,
            vec![
                Attribute::Token(true),
                Attribute::Verify(true),
                Attribute::Encrypt(false),
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                label_attr,
            ],
        ),
        KeyAlgorithm::P256 => (
            Mechanism::EccKeyPairGen,
            vec![
                Attribute::Token(true),
                Attribute::Verify(true),
                Attribute::EcParams(P256_PARAMS.to_vec()),
                Attribute::KeyType(KeyType::EC),
                label_attr,
            ],
        ),
    };
    session.generate_key_pair(&mechanism, &public, &private)?;
    tracing::info!(label, "created a CA key pair on the HSM");
    Ok(())
}

impl CaSigner {
    /// The CA key pair labelled `label` on the HSM behind `pool`.
    pub async fn hsm(
        pool: Arc<Pool>,
        label: String,
        algorithm: KeyAlgorithm,
        metrics: Option<crate::metrics::KmsMetrics>,
    ) -> Result<Self, SignerError> {
        let name = label.clone();
        let spki_der = pool
            .call(move |ctx| public_key(ctx.session, &name, algorithm))
            .await
            .map_err(failed)?;
        let handle = tokio::runtime::Handle::current();
        Self::new(
            HsmKey {
                pool,
                label,
                handle,
                metrics,
            },
            algorithm,
            spki_der,
        )
    }
}

/// CA keys inside the PKCS#11 HSM of the KMS backend.
pub struct Pkcs11CaKeys {
    pool: Arc<Pool>,
    metrics: Option<crate::metrics::KmsMetrics>,
}

impl Pkcs11CaKeys {
    /// The HSM of `settings.kms` (the KMS backend's pool); signatures counted into `metrics`.
    pub fn connect(
        settings: &Settings,
        metrics: Option<crate::metrics::KmsMetrics>,
    ) -> Result<Self, PkiError> {
        hsm::shared_pool(&settings.kms)
            .map(|pool| Self { pool, metrics })
            .map_err(|e| PkiError::Custody(CustodyError::Kms(e)))
    }
}

fn signer_error(e: SignerError) -> PkiError {
    PkiError::from(e)
}

#[async_trait::async_trait]
impl CaKeyStore for Pkcs11CaKeys {
    async fn create(&self, name: &str, algorithm: KeyAlgorithm) -> Result<NewCaKey, PkiError> {
        let mut suffix = [0u8; 6];
        aws_lc_rs::rand::fill(&mut suffix)
            .map_err(|_| PkiError::Encoding("random source failed".into()))?;
        let label = format!("fincert-ca-{name}-{}", hex::encode(suffix));
        let made = label.clone();
        self.pool
            .call(move |ctx| generate(ctx.session, &made, algorithm))
            .await
            .map_err(|e| PkiError::Custody(CustodyError::Kms(e)))?;
        let signer = CaSigner::hsm(
            self.pool.clone(),
            label.clone(),
            algorithm,
            self.metrics.clone(),
        )
        .await
        .map_err(signer_error)?;
        Ok(NewCaKey {
            signer,
            stored: StoredKey::Pkcs11(format!("{}{label}", hsm::KEY_ID_PREFIX)),
        })
    }

    async fn open(
        &self,
        _db: &DatabaseConnection,
        row: &AuthorityRow,
        algorithm: KeyAlgorithm,
    ) -> Result<CaSigner, PkiError> {
        let label = row
            .kms_key_id
            .as_deref()
            .and_then(|id| id.strip_prefix(hsm::KEY_ID_PREFIX))
            .ok_or(PkiError::NotInitialized)?
            .to_owned();
        CaSigner::hsm(self.pool.clone(), label, algorithm, self.metrics.clone())
            .await
            .map_err(signer_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `r ‖ s` becomes a DER Ecdsa-Sig-Value that aws-lc-rs reads (leading zero bytes of an
    /// integer dropped, a high bit padded).
    #[test]
    fn raw_ecdsa_signatures_become_der() {
        use aws_lc_rs::{
            rand::SystemRandom,
            signature::{
                ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
                UnparsedPublicKey,
            },
        };
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        for i in 0..32u8 {
            let message = [i; 40];
            let raw = key.sign(&rng, &message).unwrap();
            let der = ecdsa_der(raw.as_ref()).unwrap();
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key().as_ref())
                .verify(&message, &der)
                .unwrap();
        }
        assert!(ecdsa_der(&[1u8; 63]).is_err());
    }
}
