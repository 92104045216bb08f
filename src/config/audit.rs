//! The `[audit]` section: signed checkpoints of the audit chain head (how often, which KMS key
//! signs them on the AWS backend) and the witness each checkpoint is sent to outside the
//! database (a write-once directory, or an S3 bucket with Object Lock).

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// Where signed checkpoints are copied outside the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WitnessKind {
    /// Nowhere (the checkpoints stay in the database and on `GET /v1/audit/checkpoints`).
    None,
    /// A local directory, one file per checkpoint, never overwritten (development).
    Dir,
    /// An S3 bucket with Object Lock: each checkpoint an object under retention.
    S3,
}

/// S3 Object Lock retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionMode {
    /// Nobody, not even the account root, shortens or removes the retention.
    Compliance,
    /// Principals with `s3:BypassGovernanceRetention` can.
    Governance,
}

impl RetentionMode {
    /// The S3 header value.
    pub fn as_s3(self) -> &'static str {
        match self {
            Self::Compliance => "COMPLIANCE",
            Self::Governance => "GOVERNANCE",
        }
    }
}

/// Audit checkpoints and their witness.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Seconds between checkpoints (1–60), on the node holding the job lock; one more is
    /// signed at a clean shutdown.
    pub checkpoint_interval_secs: u64,
    /// With `kms.backend = "aws"`: an existing `ECC_NIST_P256` `SIGN_VERIFY` KMS key that signs
    /// checkpoints (`kms:Sign`). Empty: a sealed custody key (as with the local backend).
    pub aws_key_id: String,
    /// `none`, `dir` or `s3`.
    pub witness: WitnessKind,
    /// The witness directory; empty means `<data_dir>/audit-witness`.
    pub witness_dir: String,
    /// The S3 bucket (created with Object Lock enabled).
    pub witness_s3_bucket: String,
    /// Key prefix of the checkpoint objects.
    pub witness_s3_prefix: String,
    /// S3 region; empty means `kms.aws_region`.
    pub witness_s3_region: String,
    /// Endpoint override (moto, a VPC endpoint); empty for AWS's. Path-style addressing when
    /// set, virtual-hosted otherwise.
    pub witness_s3_endpoint_url: String,
    /// Days each checkpoint object is retained.
    pub witness_s3_retention_days: u32,
    /// `compliance` or `governance`.
    pub witness_s3_mode: RetentionMode,
    /// Static credentials, for moto or development only; empty uses the default chain.
    pub witness_s3_access_key_id: String,
    /// Static secret key, with `witness_s3_access_key_id`.
    pub witness_s3_secret_access_key: Secret,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            checkpoint_interval_secs: 60,
            aws_key_id: String::new(),
            witness: WitnessKind::Dir,
            witness_dir: String::new(),
            witness_s3_bucket: String::new(),
            witness_s3_prefix: "fincert/audit-checkpoints/".into(),
            witness_s3_region: String::new(),
            witness_s3_endpoint_url: String::new(),
            witness_s3_retention_days: 1830,
            witness_s3_mode: RetentionMode::Compliance,
            witness_s3_access_key_id: String::new(),
            witness_s3_secret_access_key: Secret::default(),
        }
    }
}

impl AuditSettings {
    /// Checks what types alone do not.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=60).contains(&self.checkpoint_interval_secs) {
            return Err(ConfigError::new(
                "audit.checkpoint_interval_secs",
                "must be 1 to 60 (a checkpoint at least every minute)",
            ));
        }
        if self.witness == WitnessKind::S3 {
            if self.witness_s3_bucket.is_empty() {
                return Err(ConfigError::new(
                    "audit.witness_s3_bucket",
                    "required when audit.witness = \"s3\"",
                ));
            }
            if self.witness_s3_retention_days == 0 {
                return Err(ConfigError::new(
                    "audit.witness_s3_retention_days",
                    "must be at least 1",
                ));
            }
            if !self.witness_s3_endpoint_url.is_empty()
                && url::Url::parse(&self.witness_s3_endpoint_url).is_err()
            {
                return Err(ConfigError::new(
                    "audit.witness_s3_endpoint_url",
                    "is not a URL",
                ));
            }
            if self.witness_s3_access_key_id.is_empty()
                != self.witness_s3_secret_access_key.expose().is_empty()
            {
                return Err(ConfigError::new(
                    "audit.witness_s3_secret_access_key",
                    "set both static credentials or neither",
                ));
            }
        }
        Ok(())
    }
}
