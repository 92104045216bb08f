//! The production witness: each checkpoint an object in an S3 bucket created with Object Lock,
//! written with a retention (`audit.witness_s3_mode`, `compliance` by default, for
//! `audit.witness_s3_retention_days`), so neither fincert's role nor the account's root can
//! delete or replace it before the retention ends; `If-None-Match: *` makes the write itself
//! write-once (a second write of the same name is refused, and then compared).
//!
//! One `PutObject` per checkpoint (about one a minute), signed with SigV4 by `aws-sigv4` and
//! sent with the reqwest client already in the build: the whole `aws-sdk-s3` crate would add
//! minutes of compile time for one call. The body's SHA-256 travels as
//! `x-amz-checksum-sha256`, which S3 requires (or `Content-MD5`) for writes with Object Lock
//! retention. Credentials: `audit.witness_s3_access_key_id`/`…secret_access_key` when set
//! (moto, development), otherwise the default AWS chain (IRSA in Kubernetes). The role needs
//! `s3:PutObject`, `s3:PutObjectRetention` and `s3:GetObject` on the prefix, and nothing that
//! deletes.

use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::{
    Credentials,
    provider::{ProvideCredentials, SharedCredentialsProvider},
};
use aws_sigv4::{
    http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign,
    },
    sign::v4,
};
use aws_smithy_runtime_api::client::identity::Identity;
use base64::{Engine, engine::general_purpose::STANDARD};

use super::witness::{CheckpointWitness, WitnessError, document, object_name};
use crate::{audit::Checkpoint, clock::SharedClock, config::Settings};

/// Checkpoints in an S3 bucket with Object Lock.
pub struct S3Witness {
    http: reqwest::Client,
    credentials: SharedCredentialsProvider,
    region: String,
    /// `https://bucket.s3.region.amazonaws.com/` or `endpoint/bucket/`, ending in `/`.
    base: String,
    prefix: String,
    retention: chrono::Duration,
    mode: &'static str,
    clock: SharedClock,
    name: String,
}

fn unavailable(e: impl std::fmt::Display) -> WitnessError {
    WitnessError::Unavailable(e.to_string())
}

impl S3Witness {
    /// The witness the settings name (credentials resolved lazily, at the first write).
    pub async fn connect(settings: &Settings, clock: SharedClock) -> Result<Self, String> {
        let a = &settings.audit;
        if !a
            .witness_s3_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'))
        {
            return Err("audit.witness_s3_prefix: only letters, digits and / - _ .".into());
        }
        let region = if a.witness_s3_region.is_empty() {
            settings.kms.aws_region.clone()
        } else {
            a.witness_s3_region.clone()
        };
        let credentials = if a.witness_s3_access_key_id.is_empty() {
            aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(region.clone()))
                .load()
                .await
                .credentials_provider()
                .ok_or("no AWS credentials provider for the S3 witness")?
        } else {
            SharedCredentialsProvider::new(Credentials::new(
                a.witness_s3_access_key_id.clone(),
                a.witness_s3_secret_access_key.expose().to_owned(),
                None,
                None,
                "fincert-config",
            ))
        };
        let base = if a.witness_s3_endpoint_url.is_empty() {
            format!("https://{}.s3.{region}.amazonaws.com/", a.witness_s3_bucket)
        } else {
            format!(
                "{}/{}/",
                a.witness_s3_endpoint_url.trim_end_matches('/'),
                a.witness_s3_bucket
            )
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            credentials,
            name: format!("s3:{}/{}", a.witness_s3_bucket, a.witness_s3_prefix)
                .chars()
                .take(64)
                .collect(),
            region,
            base,
            prefix: a.witness_s3_prefix.clone(),
            retention: chrono::Duration::days(i64::from(a.witness_s3_retention_days)),
            mode: a.witness_s3_mode.as_s3(),
            clock,
        })
    }

    /// The object URL of checkpoint `seq`.
    pub fn url_of(&self, seq: i64) -> String {
        format!("{}{}{}", self.base, self.prefix, object_name(seq))
    }

    /// Sends one SigV4-signed request with `headers` (besides the signature's own).
    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<reqwest::Response, WitnessError> {
        let creds = self
            .credentials
            .provide_credentials()
            .await
            .map_err(unavailable)?;
        let identity: Identity = creds.into();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            // The service clock (SigV4 allows 15 minutes of skew).
            .time(SystemTime::from(self.clock.now()))
            .settings(settings)
            .build()
            .map_err(unavailable)?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            url,
            headers.iter().map(|(k, v)| (*k, v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(unavailable)?;
        let (instructions, _) = sign(signable, &params).map_err(unavailable)?.into_parts();
        let mut req = self.http.request(method, url);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        for (k, v) in instructions.headers() {
            req = req.header(k, v);
        }
        req.body(body.to_vec()).send().await.map_err(unavailable)
    }

    /// The object of checkpoint `seq` as stored, if any.
    pub async fn get(&self, seq: i64) -> Result<Option<Vec<u8>>, WitnessError> {
        let resp = self
            .send(reqwest::Method::GET, &self.url_of(seq), &[], &[])
            .await?;
        match resp.status().as_u16() {
            200 => Ok(Some(resp.bytes().await.map_err(unavailable)?.to_vec())),
            404 => Ok(None),
            s => Err(WitnessError::Unavailable(format!("GetObject answered {s}"))),
        }
    }
}

#[async_trait::async_trait]
impl CheckpointWitness for S3Witness {
    fn name(&self) -> &str {
        &self.name
    }

    async fn put(&self, cp: &Checkpoint) -> Result<(), WitnessError> {
        let body = document(cp);
        // Looked up first too: not every S3-compatible store honours `If-None-Match` (moto,
        // older gateways), and a versioned bucket would otherwise keep a second version.
        if let Some(stored) = self.get(cp.seq).await? {
            return if stored == body {
                Ok(())
            } else {
                Err(WitnessError::Conflict(cp.seq))
            };
        }
        let checksum =
            STANDARD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body));
        let until = (self.clock.now() + self.retention)
            .format("%Y-%m-%dT%H:%M:%S.000Z")
            .to_string();
        let headers = [
            ("content-type", "application/json".to_string()),
            ("if-none-match", "*".to_string()),
            ("x-amz-checksum-sha256", checksum),
            ("x-amz-sdk-checksum-algorithm", "SHA256".to_string()),
            ("x-amz-object-lock-mode", self.mode.to_string()),
            ("x-amz-object-lock-retain-until-date", until),
        ];
        let resp = self
            .send(reqwest::Method::PUT, &self.url_of(cp.seq), &headers, &body)
            .await?;
        match resp.status().as_u16() {
            200 => Ok(()),
            // Already written (a retry, or someone else): only the same bytes will do.
            409 | 412 => match self.get(cp.seq).await? {
                Some(stored) if stored == body => Ok(()),
                _ => Err(WitnessError::Conflict(cp.seq)),
            },
            s => {
                let text = resp.text().await.unwrap_or_default();
                let code = text
                    .split("<Code>")
                    .nth(1)
                    .and_then(|t| t.split("</Code>").next())
                    .unwrap_or("")
                    .to_owned();
                Err(WitnessError::Unavailable(format!(
                    "PutObject answered {s} {code}"
                )))
            }
        }
    }
}
