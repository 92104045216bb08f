//! The `aws` KMS: AWS KMS through aws-sdk-kms. Endpoint, region, key ids (and, for moto or
//! local development only, static credentials) come from configuration; in production the
//! default credential chain (IRSA on Kubernetes) applies.
//!
//! Every call has a short timeout and one retry, so an unreachable KMS fails the request
//! quickly (503) instead of holding it; nothing is written before the KMS has answered.
//!
//! **CA signatures** (`Sign` with an asymmetric key): AWS KMS takes the message itself
//! (`MessageType=RAW`, at most 4,096 bytes, hashed inside KMS) or its digest
//! (`MessageType=DIGEST`, exactly the hash length of the signing algorithm). Certificates and
//! small CRLs fit the first; a CRL of more than about a hundred entries does not, and KMS
//! refuses it. So [`sign_input`] sends the whole message while it fits ([`RAW_MESSAGE_LIMIT`])
//! and above that hashes it here (SHA-256, the hash of every [`KmsSigningAlgorithm`]) and
//! sends the 32-byte digest as `DIGEST`. KMS signs the same thing either way: for RSA PKCS#1
//! v1.5 it wraps a DIGEST in the SHA-256 DigestInfo itself, for PSS and ECDSA the digest is
//! what gets signed. RAW stays the default because then KMS hashes what it signs, and the
//! message (a TBS certificate or CRL, public data) leaves nothing to keep secret; DIGEST is
//! there only where RAW cannot go. (moto ignores `MessageType` and does not enforce the cap:
//! see `tests/support/moto_digest.py` for the DIGEST-aware moto the large-CRL test uses.)

use std::{collections::HashMap, time::Duration};

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_kms::{
    Client,
    config::Credentials,
    error::{ProvideErrorMetadata, SdkError},
    primitives::Blob,
    types::{DataKeySpec, KeyMetadata, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec},
};
use zeroize::Zeroizing;

use super::{DATA_KEY_LEN, DataKey, EncryptionContext, Kms, KmsError, WrappedKey};
use crate::config::KmsSettings;

/// The AWS KMS backend.
#[derive(Clone)]
pub struct AwsKms {
    client: Client,
    /// Where the CA key calls (`Sign`, `GetPublicKey`) are counted; the data-key calls are
    /// counted by the `ObservedKms` decorator around the `Kms` trait.
    metrics: Option<crate::metrics::KmsMetrics>,
    /// ARN of the wrapping key (resolved from the configured id or alias at start).
    key_arn: String,
    /// ARN of the HMAC_256 key used for PIN binding.
    mac_key_arn: String,
}

impl std::fmt::Debug for AwsKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKms")
            .field("key_arn", &self.key_arn)
            .field("mac_key_arn", &self.mac_key_arn)
            .finish_non_exhaustive()
    }
}

/// The largest message `Sign` takes whole (`MessageType=RAW`), in bytes; a larger one is sent
/// as its digest.
pub const RAW_MESSAGE_LIMIT: usize = 4096;

/// What one `Sign` request carries: the message whole (RAW) or its SHA-256 digest (DIGEST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInput {
    /// `RAW` or `DIGEST`.
    pub message_type: MessageType,
    /// The message, or its digest.
    pub message: Vec<u8>,
}

/// How `message` goes to KMS `Sign` under `algorithm`: whole up to [`RAW_MESSAGE_LIMIT`] bytes,
/// else hashed here with the algorithm's hash and sent as `DIGEST`.
pub fn sign_input(algorithm: KmsSigningAlgorithm, message: &[u8]) -> SignInput {
    if message.len() <= RAW_MESSAGE_LIMIT {
        return SignInput {
            message_type: MessageType::Raw,
            message: message.to_vec(),
        };
    }
    SignInput {
        message_type: MessageType::Digest,
        message: aws_lc_rs::digest::digest(algorithm.digest(), message)
            .as_ref()
            .to_vec(),
    }
}

/// Asymmetric signing algorithms fincert uses with KMS-held keys (CA keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsSigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsaPkcs1Sha256,
    /// RSASSA-PSS with SHA-256.
    RsaPssSha256,
    /// ECDSA P-256 with SHA-256 (DER signature).
    EcdsaSha256,
}

impl KmsSigningAlgorithm {
    /// KMS's name for it.
    pub fn spec(self) -> SigningAlgorithmSpec {
        match self {
            Self::RsaPkcs1Sha256 => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
            Self::RsaPssSha256 => SigningAlgorithmSpec::RsassaPssSha256,
            Self::EcdsaSha256 => SigningAlgorithmSpec::EcdsaSha256,
        }
    }

    /// The hash KMS applies to a RAW message, and so the one a DIGEST must be made with.
    pub fn digest(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Self::RsaPkcs1Sha256 | Self::RsaPssSha256 | Self::EcdsaSha256 => {
                &aws_lc_rs::digest::SHA256
            }
        }
    }
}

/// Maps an SDK error to what fincert does about it: wrong context/tampered blob, KMS down, or
/// a refusal. The code (never the message, which may quote input) is kept for the log.
fn classify<E, R>(err: SdkError<E, R>) -> KmsError
where
    E: ProvideErrorMetadata + std::error::Error,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some(
                "InvalidCiphertextException" | "IncorrectKeyException" | "KMSInvalidMacException",
            ) => KmsError::InvalidCiphertext,
            Some(
                code @ ("KMSInternalException"
                | "DependencyTimeoutException"
                | "KeyUnavailableException"
                | "ThrottlingException"
                | "LimitExceededException"),
            ) => KmsError::Unavailable(code.to_string()),
            code => KmsError::Rejected(code.unwrap_or("unknown error").to_string()),
        },
        SdkError::TimeoutError(_) => KmsError::Unavailable("timeout".into()),
        SdkError::DispatchFailure(_) => KmsError::Unavailable("connection failed".into()),
        SdkError::ResponseError(_) => KmsError::Unavailable("unreadable response".into()),
        _ => KmsError::Rejected("request could not be built".into()),
    }
}

fn context_map(context: &EncryptionContext) -> Option<HashMap<String, String>> {
    let map: HashMap<_, _> = context
        .pairs()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!map.is_empty()).then_some(map)
}

impl AwsKms {
    /// Builds the client from settings and resolves both key ids to ARNs (which also proves
    /// the KMS answers and the keys exist).
    pub async fn connect(settings: &KmsSettings) -> Result<Self, KmsError> {
        let timeout = Duration::from_millis(settings.aws_timeout_ms);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.aws_region.clone()))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(timeout)
                    .operation_attempt_timeout(timeout)
                    .operation_timeout(timeout * 2)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(2));
        if !settings.aws_endpoint_url.is_empty() {
            loader = loader.endpoint_url(&settings.aws_endpoint_url);
        }
        if !settings.aws_access_key_id.is_empty() {
            loader = loader.credentials_provider(Credentials::new(
                settings.aws_access_key_id.clone(),
                settings.aws_secret_access_key.expose().to_owned(),
                None,
                None,
                "fincert-config",
            ));
        }
        let client = Client::new(&loader.load().await);
        let key_arn = describe(&client, &settings.aws_key_id).await?;
        let mac_key_arn = describe(&client, &settings.aws_mac_key_id).await?;
        Ok(Self {
            client,
            metrics: None,
            key_arn,
            mac_key_arn,
        })
    }

    /// This client, with its CA key calls counted into `metrics`.
    pub fn counted(mut self, metrics: Option<crate::metrics::KmsMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    fn count<T>(
        &self,
        op: crate::metrics::KmsOp,
        started: std::time::Instant,
        result: &Result<T, KmsError>,
    ) {
        if let Some(m) = &self.metrics {
            super::observed::count(m, op, started, result);
        }
    }

    /// The underlying client (operators' tools and tests create keys with it).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Signs `message` (any length: sent whole up to [`RAW_MESSAGE_LIMIT`], else as its
    /// digest; see [`sign_input`]) with an asymmetric KMS key.
    pub async fn sign(
        &self,
        key_id: &str,
        algorithm: KmsSigningAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        let started = std::time::Instant::now();
        let input = sign_input(algorithm, message);
        let result = async {
            let out = self
                .client
                .sign()
                .key_id(key_id)
                .message(Blob::new(input.message))
                .message_type(input.message_type)
                .signing_algorithm(algorithm.spec())
                .send()
                .await
                .map_err(classify)?;
            out.signature
                .map(Blob::into_inner)
                .ok_or_else(|| KmsError::Rejected("Sign returned no signature".into()))
        }
        .await;
        self.count(crate::metrics::KmsOp::Sign, started, &result);
        result
    }

    /// The public half of an asymmetric KMS key, as SubjectPublicKeyInfo DER.
    pub async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, KmsError> {
        let started = std::time::Instant::now();
        let result = async {
            let out = self
                .client
                .get_public_key()
                .key_id(key_id)
                .send()
                .await
                .map_err(classify)?;
            out.public_key
                .map(Blob::into_inner)
                .ok_or_else(|| KmsError::Rejected("GetPublicKey returned no key".into()))
        }
        .await;
        self.count(crate::metrics::KmsOp::GetPublicKey, started, &result);
        result
    }

    /// What `DescribeKey` says of a key (ARN, state, usage, spec, signing algorithms): what
    /// `ca init` checks before it adopts a CA key.
    pub async fn key_metadata(&self, key_id: &str) -> Result<KeyMetadata, KmsError> {
        let out = self
            .client
            .describe_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(classify)?;
        out.key_metadata
            .ok_or_else(|| KmsError::Rejected(format!("DescribeKey returned nothing for {key_id}")))
    }

    /// The wrapped key an `Encrypt` or `ReEncrypt` (`op`) answered with: its ciphertext under
    /// the KMS key that answered (our configured key when the answer names none).
    fn wrapped(
        &self,
        op: &str,
        key_id: Option<String>,
        ciphertext: Option<Blob>,
    ) -> Result<WrappedKey, KmsError> {
        Ok(WrappedKey {
            kms_key_id: key_id.unwrap_or_else(|| self.key_arn.clone()),
            blob: ciphertext
                .map(Blob::into_inner)
                .ok_or_else(|| KmsError::Rejected(format!("{op} returned no ciphertext")))?,
        })
    }
}

async fn describe(client: &Client, key_id: &str) -> Result<String, KmsError> {
    let out = client
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(classify)?;
    out.key_metadata
        .and_then(|m| m.arn)
        .ok_or_else(|| KmsError::Rejected(format!("DescribeKey returned no ARN for {key_id}")))
}

#[async_trait::async_trait]
impl Kms for AwsKms {
    fn backend(&self) -> &'static str {
        "aws"
    }

    fn current_key_id(&self) -> String {
        self.key_arn.clone()
    }

    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KmsError> {
        // The returned CiphertextBlob is deliberately dropped: a copy wrapped under a context
        // without the slot binding would let anyone with Decrypt rights skip the PIN.
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_arn)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(context_map(context))
            .send()
            .await
            .map_err(classify)?;
        let plaintext =
            Zeroizing::new(out.plaintext.map(Blob::into_inner).ok_or_else(|| {
                KmsError::Rejected("GenerateDataKey returned no plaintext".into())
            })?);
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        if plaintext.len() != DATA_KEY_LEN {
            return Err(KmsError::Rejected(
                "GenerateDataKey returned a key of the wrong length".into(),
            ));
        }
        key.copy_from_slice(&plaintext);
        Ok(key)
    }

    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let out = self
            .client
            .encrypt()
            .key_id(&self.key_arn)
            .plaintext(Blob::new(plaintext))
            .set_encryption_context(context_map(context))
            .send()
            .await
            .map_err(classify)?;
        self.wrapped("Encrypt", out.key_id, out.ciphertext_blob)
    }

    async fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let out = self
            .client
            .decrypt()
            .key_id(&wrapped.kms_key_id)
            .ciphertext_blob(Blob::new(wrapped.blob.as_slice()))
            .set_encryption_context(context_map(context))
            .send()
            .await
            .map_err(classify)?;
        out.plaintext
            .map(|b| Zeroizing::new(b.into_inner()))
            .ok_or_else(|| KmsError::Rejected("Decrypt returned no plaintext".into()))
    }

    async fn re_encrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let out = self
            .client
            .re_encrypt()
            .ciphertext_blob(Blob::new(wrapped.blob.as_slice()))
            .source_key_id(&wrapped.kms_key_id)
            .set_source_encryption_context(context_map(context))
            .destination_key_id(&self.key_arn)
            .set_destination_encryption_context(context_map(context))
            .send()
            .await
            .map_err(classify)?;
        self.wrapped("ReEncrypt", out.key_id, out.ciphertext_blob)
    }

    async fn mac(&self, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let out = self
            .client
            .generate_mac()
            .key_id(&self.mac_key_arn)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .send()
            .await
            .map_err(classify)?;
        out.mac
            .map(|b| Zeroizing::new(b.into_inner()))
            .ok_or_else(|| KmsError::Rejected("GenerateMac returned no MAC".into()))
    }

    async fn verify_mac(&self, message: &[u8], mac: &[u8]) -> Result<bool, KmsError> {
        let result = self
            .client
            .verify_mac()
            .key_id(&self.mac_key_arn)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .mac(Blob::new(mac))
            .send()
            .await;
        match result.map_err(classify) {
            Ok(out) => Ok(out.mac_valid),
            Err(KmsError::InvalidCiphertext) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn probe(&self) -> Result<(), KmsError> {
        let out = self
            .client
            .describe_key()
            .key_id(&self.key_arn)
            .send()
            .await
            .map_err(classify)?;
        match out.key_metadata {
            Some(m) if m.enabled => Ok(()),
            Some(_) => Err(KmsError::Rejected("the data key is disabled".into())),
            None => Err(KmsError::Rejected(
                "DescribeKey returned no metadata".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_up_to_the_cap_go_whole_and_larger_ones_as_their_sha256() {
        for algorithm in [
            KmsSigningAlgorithm::RsaPkcs1Sha256,
            KmsSigningAlgorithm::RsaPssSha256,
            KmsSigningAlgorithm::EcdsaSha256,
        ] {
            let small = vec![7u8; RAW_MESSAGE_LIMIT];
            let input = sign_input(algorithm, &small);
            assert_eq!(input.message_type, MessageType::Raw);
            assert_eq!(input.message, small);

            let large = vec![7u8; RAW_MESSAGE_LIMIT + 1];
            let input = sign_input(algorithm, &large);
            assert_eq!(input.message_type, MessageType::Digest);
            assert_eq!(
                input.message,
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &large).as_ref()
            );
            assert_eq!(input.message.len(), 32);
        }
    }
}
