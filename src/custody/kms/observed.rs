//! [`ObservedKms`]: any [`Kms`] with every call counted by operation and outcome and timed
//! (`fincert_kms_calls_total`, `fincert_kms_call_duration_seconds`). A decorator, so neither
//! backend nor caller changes; it adds a clock read and two atomic adds per call, and never
//! sees more of a call than its outcome.

use std::{sync::Arc, time::Instant};

use zeroize::Zeroizing;

use super::{DataKey, EncryptionContext, Kms, KmsError, WrappedKey};
use crate::metrics::{KmsMetrics, KmsOp, KmsOutcome};

/// Counts one KMS call by how it ended (also for the calls made beside the `Kms` trait: the
/// CA keys' `Sign` and `GetPublicKey` in `aws.rs`).
pub fn count<T>(metrics: &KmsMetrics, op: KmsOp, started: Instant, result: &Result<T, KmsError>) {
    let outcome = match result {
        Ok(_) => KmsOutcome::Ok,
        Err(KmsError::InvalidCiphertext) => KmsOutcome::InvalidCiphertext,
        Err(KmsError::Unavailable(_)) => KmsOutcome::Unavailable,
        Err(KmsError::Rejected(_)) => KmsOutcome::Rejected,
    };
    metrics.observe(op, outcome, started.elapsed().as_secs_f64());
}

/// A KMS whose calls are counted.
#[derive(Clone)]
pub struct ObservedKms {
    inner: Arc<dyn Kms>,
    metrics: KmsMetrics,
}

impl std::fmt::Debug for ObservedKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ObservedKms").field(&self.inner).finish()
    }
}

impl ObservedKms {
    /// `inner`, counted into `metrics`.
    pub fn wrap(inner: Arc<dyn Kms>, metrics: KmsMetrics) -> Arc<dyn Kms> {
        Arc::new(Self { inner, metrics })
    }

    fn observe<T>(&self, op: KmsOp, started: Instant, result: &Result<T, KmsError>) {
        count(&self.metrics, op, started, result);
    }
}

#[async_trait::async_trait]
impl Kms for ObservedKms {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn current_key_id(&self) -> String {
        self.inner.current_key_id()
    }

    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KmsError> {
        let started = Instant::now();
        let result = self.inner.generate_data_key(context).await;
        self.observe(KmsOp::GenerateDataKey, started, &result);
        result
    }

    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let started = Instant::now();
        let result = self.inner.encrypt(plaintext, context).await;
        self.observe(KmsOp::Encrypt, started, &result);
        result
    }

    async fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let started = Instant::now();
        let result = self.inner.decrypt(wrapped, context).await;
        self.observe(KmsOp::Decrypt, started, &result);
        result
    }

    async fn re_encrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let started = Instant::now();
        let result = self.inner.re_encrypt(wrapped, context).await;
        self.observe(KmsOp::ReEncrypt, started, &result);
        result
    }

    async fn mac(&self, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let started = Instant::now();
        let result = self.inner.mac(message).await;
        self.observe(KmsOp::GenerateMac, started, &result);
        result
    }

    async fn verify_mac(&self, message: &[u8], mac: &[u8]) -> Result<bool, KmsError> {
        let started = Instant::now();
        let result = self.inner.verify_mac(message, mac).await;
        self.observe(KmsOp::VerifyMac, started, &result);
        result
    }

    async fn mac_by(&self, backend: &str, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let started = Instant::now();
        let result = self.inner.mac_by(backend, message).await;
        self.observe(KmsOp::GenerateMac, started, &result);
        result
    }

    fn previous_backend(&self) -> Option<&'static str> {
        self.inner.previous_backend()
    }

    async fn probe(&self) -> Result<(), KmsError> {
        let started = Instant::now();
        let result = self.inner.probe().await;
        self.observe(KmsOp::DescribeKey, started, &result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{custody::kms::local::LocalKms, metrics::Metrics};

    /// The decorator keeps the contract every backend keeps, and counts what it passes on.
    #[tokio::test]
    async fn an_observed_kms_keeps_the_contract_and_counts_its_calls() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalKms::open_or_create(&dir.path().join("ring.json")).unwrap();
        let metrics = Metrics::new().unwrap();
        let kms = ObservedKms::wrap(Arc::new(local), metrics.kms.clone());
        crate::custody::kms::contract::run(kms.as_ref())
            .await
            .unwrap();
        kms.probe().await.unwrap();
        let text = metrics.render().unwrap();
        for line in [
            r#"fincert_kms_calls_total{operation="GenerateDataKey",outcome="ok"} 2"#,
            r#"fincert_kms_calls_total{operation="Decrypt",outcome="invalid_ciphertext"} 5"#,
            r#"fincert_kms_calls_total{operation="DescribeKey",outcome="ok"} 1"#,
            r#"fincert_kms_calls_total{operation="Encrypt",outcome="unavailable"} 0"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
