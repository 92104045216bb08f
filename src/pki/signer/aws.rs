//! The AWS CA key backend: an existing asymmetric key inside AWS KMS, named in the settings
//! and checked by `ca init` (`GetPublicKey`: usage, spec, signing algorithm), every signature a
//! `Sign` call. The private key never leaves KMS, and fincert never calls `CreateKey`: keys are
//! made by Terraform (`infra/terraform/`), so their policy, deletion window and owner are the
//! platform's, not the application's.

use sea_orm::DatabaseConnection;

use super::{CaKey, CaKeyStore, CaSigner, NewCaKey, SignerError, StoredKey};
use crate::{
    config::Settings,
    custody::{
        CustodyError,
        keys::KeyAlgorithm,
        kms::{
            KmsError,
            aws::{AwsKms, KmsSigningAlgorithm},
        },
    },
    pki::{ISSUING, PkiError, ROOT},
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

/// CA keys inside AWS KMS: the existing keys the settings name (`pki.aws_root_key_id`,
/// `pki.aws_issuing_key_id`). fincert never creates a KMS key; Terraform (or the operator)
/// does, and `ca init` adopts them after checking that each fits.
pub struct AwsCaKeys {
    kms: AwsKms,
    root_key_id: String,
    issuing_key_id: String,
}

impl AwsCaKeys {
    /// Connects to the KMS `settings` name.
    /// Its `Sign` and `GetPublicKey` calls are counted into `metrics` when given.
    pub async fn connect(
        settings: &Settings,
        metrics: Option<crate::metrics::KmsMetrics>,
    ) -> Result<Self, PkiError> {
        AwsKms::connect(&settings.kms)
            .await
            .map(|kms| Self {
                kms: kms.counted(metrics),
                root_key_id: settings.pki.aws_root_key_id.clone(),
                issuing_key_id: settings.pki.aws_issuing_key_id.clone(),
            })
            .map_err(|e| PkiError::Custody(CustodyError::Kms(e)))
    }
}

#[async_trait::async_trait]
impl CaKeyStore for AwsCaKeys {
    /// Adopts the configured KMS key for `name` (`root` or `issuing`) once it has checked it.
    async fn create(&self, name: &str, algorithm: KeyAlgorithm) -> Result<NewCaKey, PkiError> {
        let (setting, key_id) = match name {
            ROOT => ("pki.aws_root_key_id", &self.root_key_id),
            ISSUING => ("pki.aws_issuing_key_id", &self.issuing_key_id),
            _ => {
                return Err(PkiError::Encoding(format!(
                    "no KMS key setting for the {name} CA"
                )));
            }
        };
        if key_id.is_empty() {
            return Err(PkiError::CaKey {
                setting,
                problem: "not set: with kms.backend = \"aws\", ca init signs with existing \
                          KMS keys named in pki.aws_root_key_id and pki.aws_issuing_key_id \
                          (fincert never creates KMS keys)"
                    .into(),
            });
        }
        let arn = adopt(&self.kms, key_id, algorithm)
            .await
            .map_err(|problem| match problem {
                Adopt::Kms(e) => PkiError::Custody(CustodyError::Kms(e)),
                Adopt::Unfit(problem) => PkiError::CaKey { setting, problem },
            })?;
        let signer = CaSigner::kms(self.kms.clone(), arn.clone(), algorithm).await?;
        Ok(NewCaKey {
            signer,
            stored: StoredKey::Kms(arn),
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

/// Adopts the existing KMS signing key `key_id` (named by `setting`) for `algorithm` after the
/// same checks `ca init` makes; returns its ARN. Also used for the audit checkpoint key.
pub(crate) async fn adopt_key(
    kms: &AwsKms,
    key_id: &str,
    algorithm: KeyAlgorithm,
    setting: &'static str,
) -> Result<String, PkiError> {
    adopt(kms, key_id, algorithm)
        .await
        .map_err(|problem| match problem {
            Adopt::Kms(e) => PkiError::Custody(CustodyError::Kms(e)),
            Adopt::Unfit(problem) => PkiError::CaKey { setting, problem },
        })
}

/// Why a configured key cannot be adopted.
enum Adopt {
    /// KMS did not answer (or refused for a reason of its own: unavailable, throttled).
    Kms(KmsError),
    /// The key does not exist, is disabled, or is not a signing key of the CA's algorithm.
    Unfit(String),
}

/// Checks that `key_id` names an enabled asymmetric signing key of `algorithm`'s spec that
/// allows the signing algorithm the CA uses (`DescribeKey`); returns its ARN (what the
/// authority row keeps, so a later change of an alias cannot swap the CA's key).
async fn adopt(kms: &AwsKms, key_id: &str, algorithm: KeyAlgorithm) -> Result<String, Adopt> {
    use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType};
    let (spec, signing) = match algorithm {
        KeyAlgorithm::Rsa2048 => (KeySpec::Rsa2048, KmsSigningAlgorithm::RsaPkcs1Sha256),
        KeyAlgorithm::P256 => (KeySpec::EccNistP256, KmsSigningAlgorithm::EcdsaSha256),
    };
    let meta = match kms.key_metadata(key_id).await {
        Ok(meta) => meta,
        Err(KmsError::Rejected(code)) => {
            return Err(Adopt::Unfit(format!(
                "KMS refused DescribeKey ({code}): the key must exist and allow \
                 kms:DescribeKey, kms:GetPublicKey and kms:Sign to this role"
            )));
        }
        Err(e) => return Err(Adopt::Kms(e)),
    };
    let name = |v: Option<&str>| v.unwrap_or("unknown").to_owned();
    if meta.key_state != Some(KeyState::Enabled) {
        return Err(Adopt::Unfit(format!(
            "the key is {}, not Enabled",
            name(meta.key_state.as_ref().map(KeyState::as_str))
        )));
    }
    if meta.key_usage != Some(KeyUsageType::SignVerify) {
        return Err(Adopt::Unfit(format!(
            "the key's usage is {}, not SIGN_VERIFY",
            name(meta.key_usage.as_ref().map(KeyUsageType::as_str))
        )));
    }
    if meta.key_spec.as_ref() != Some(&spec) {
        return Err(Adopt::Unfit(format!(
            "the key's spec is {}, but pki.ca_algorithm = {:?} needs {}",
            name(meta.key_spec.as_ref().map(KeySpec::as_str)),
            algorithm.as_str(),
            spec.as_str()
        )));
    }
    if !meta
        .signing_algorithms
        .unwrap_or_default()
        .contains(&signing.spec())
    {
        return Err(Adopt::Unfit(format!(
            "the key does not allow {}",
            signing.spec().as_str()
        )));
    }
    meta.arn
        .ok_or_else(|| Adopt::Unfit("DescribeKey named no ARN".into()))
}
