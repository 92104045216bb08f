//! The Prometheus families of a node, in a registry of its own (one per application, so tests
//! that run several applications in one process do not share counters).
//!
//! Events are counted where they happen, through handles resolved once here: the HTTP edge
//! ([`Metrics::observe_request`]), the KMS decorator ([`KmsMetrics`]), the signing path
//! ([`SignatureMetrics`]) and the group commit ([`CommitMetrics`]). Label values come from
//! closed sets (operations, outcomes, algorithms, formats, results, route *patterns*), so
//! the label space is bounded and an observation on the signing path is an atomic add into a
//! pre-resolved counter: no lookup, no allocation. Levels (live activations, pool
//! connections, pending commits, readiness) are sampled when Prometheus scrapes.
//!
//! | family | type | labels |
//! |---|---|---|
//! | `fincert_http_requests_total` | counter | method, route, status |
//! | `fincert_http_request_duration_seconds` | histogram | method, route |
//! | `fincert_signatures_total` | counter | algorithm, format, result |
//! | `fincert_kms_calls_total` | counter | operation, outcome |
//! | `fincert_kms_call_duration_seconds` | histogram | operation |
//! | `fincert_group_commit_batch_size` | histogram | |
//! | `fincert_audit_commit_seconds` | histogram | |
//! | `fincert_audit_pending_commits` | gauge | |
//! | `fincert_audit_checkpoints_signed_total` | counter | |
//! | `fincert_audit_checkpoint_failures_total` | counter | stage (`sign`, `witness`) |
//! | `fincert_audit_checkpoint_last_success_timestamp_seconds` | gauge | |
//! | `fincert_activations_live` | gauge | |
//! | `fincert_db_pool_connections` | gauge | state (`in_use`, `idle`) |
//! | `fincert_db_pool_max_connections` | gauge | |
//! | `fincert_ready` | gauge | |
//! | `fincert_build_info` | gauge (1) | version, git_sha |
//! | `process_*` (Linux) | | CPU, memory, open fds, start time |

use std::sync::{Arc, OnceLock};

use fincert_client::proto::institutions::{Algorithm, Format};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Latency buckets (seconds) of HTTP requests, KMS calls and commits.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Every family of a node.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_latency: HistogramVec,
    /// `fincert_signatures_total`.
    pub signatures: SignatureMetrics,
    /// `fincert_kms_calls_total` and `fincert_kms_call_duration_seconds`.
    pub kms: KmsMetrics,
    /// `fincert_group_commit_batch_size` and `fincert_audit_commit_seconds`.
    pub commit: CommitMetrics,
    /// `fincert_audit_checkpoint*`.
    pub checkpoints: CheckpointMetrics,
    gauges: Gauges,
    sampler: OnceLock<Sampler>,
}

/// Fills the sampled gauges just before a scrape reads them.
pub type Sampler = Box<dyn Fn(&Gauges) + Send + Sync>;

/// The levels sampled at scrape time.
pub struct Gauges {
    /// `fincert_activations_live`: activated keys held in this node's memory.
    pub activations_live: IntGauge,
    /// `fincert_db_pool_connections{state="in_use"}`.
    pub pool_in_use: IntGauge,
    /// `fincert_db_pool_connections{state="idle"}`.
    pub pool_idle: IntGauge,
    /// `fincert_db_pool_max_connections`.
    pub pool_max: IntGauge,
    /// `fincert_audit_pending_commits`: signing-path changes (with their audit events)
    /// queued for or inside the group commit.
    pub audit_pending: IntGauge,
    /// `fincert_ready`: 1 when the last database and KMS probes succeeded and are fresh.
    pub ready: IntGauge,
}

impl Metrics {
    /// Creates and registers every family.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "fincert_http_requests_total",
                "HTTP requests by method, route pattern and status",
            ),
            &["method", "route", "status"],
        )?;
        let http_latency = HistogramVec::new(
            HistogramOpts::new(
                "fincert_http_request_duration_seconds",
                "HTTP request latency by method and route pattern",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_latency.clone()))?;
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let pool = IntGaugeVec::new(
            Opts::new(
                "fincert_db_pool_connections",
                "Database pool connections by state",
            ),
            &["state"],
        )?;
        registry.register(Box::new(pool.clone()))?;
        let gauges = Gauges {
            activations_live: gauge(
                "fincert_activations_live",
                "Activated keys held in this node's memory",
            )?,
            pool_in_use: pool.with_label_values(&["in_use"]),
            pool_idle: pool.with_label_values(&["idle"]),
            pool_max: gauge(
                "fincert_db_pool_max_connections",
                "Largest number of connections the database pool opens",
            )?,
            audit_pending: gauge(
                "fincert_audit_pending_commits",
                "Signing-path changes with their audit events queued for or inside the group commit",
            )?,
            ready: gauge(
                "fincert_ready",
                "1 when the node is ready (database and KMS probes succeed), else 0",
            )?,
        };
        let build = IntGaugeVec::new(
            Opts::new("fincert_build_info", "The running build (always 1)"),
            &["version", "git_sha"],
        )?;
        build
            .with_label_values(&[
                env!("CARGO_PKG_VERSION"),
                option_env!("GIT_SHA").unwrap_or("unknown"),
            ])
            .set(1);
        registry.register(Box::new(build))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            signatures: SignatureMetrics::register(&registry)?,
            kms: KmsMetrics::register(&registry)?,
            commit: CommitMetrics::register(&registry)?,
            checkpoints: CheckpointMetrics::register(&registry)?,
            registry,
            http_requests,
            http_latency,
            gauges,
            sampler: OnceLock::new(),
        })
    }

    /// Installs what fills the sampled gauges (once, when the node is built).
    pub fn set_sampler(&self, sampler: Sampler) {
        let _ = self.sampler.set(sampler);
    }

    /// Counts one HTTP request.
    pub(super) fn observe_request(&self, method: &str, route: &str, status: &str, seconds: f64) {
        self.http_requests
            .with_label_values(&[method, route, status])
            .inc();
        self.http_latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        if let Some(sample) = self.sampler.get() {
            sample(&self.gauges);
        }
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// A KMS operation, named as the AWS API (and IAM) names it; the local backend counts its
/// equivalents under the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsOp {
    /// A fresh data key.
    GenerateDataKey,
    /// Wrap.
    Encrypt,
    /// Unwrap.
    Decrypt,
    /// Move a blob to the current key.
    ReEncrypt,
    /// HMAC (PIN binding).
    GenerateMac,
    /// HMAC check.
    VerifyMac,
    /// The readiness probe.
    DescribeKey,
    /// A CA key's signature (certificates, CRLs) with a key inside KMS.
    Sign,
    /// A CA key's public half.
    GetPublicKey,
}

impl KmsOp {
    const ALL: [KmsOp; 9] = [
        Self::GenerateDataKey,
        Self::Encrypt,
        Self::Decrypt,
        Self::ReEncrypt,
        Self::GenerateMac,
        Self::VerifyMac,
        Self::DescribeKey,
        Self::Sign,
        Self::GetPublicKey,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::GenerateDataKey => "GenerateDataKey",
            Self::Encrypt => "Encrypt",
            Self::Decrypt => "Decrypt",
            Self::ReEncrypt => "ReEncrypt",
            Self::GenerateMac => "GenerateMac",
            Self::VerifyMac => "VerifyMac",
            Self::DescribeKey => "DescribeKey",
            Self::Sign => "Sign",
            Self::GetPublicKey => "GetPublicKey",
        }
    }
}

/// How a KMS call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsOutcome {
    /// Answered.
    Ok,
    /// The blob does not open under the context given (a wrong PIN's context, a foreign
    /// blob): the KMS worked, the input was wrong.
    InvalidCiphertext,
    /// Timeout, unreachable, throttled: an outage.
    Unavailable,
    /// Refused (access denied, missing or disabled key): a configuration problem.
    Rejected,
}

impl KmsOutcome {
    const ALL: [KmsOutcome; 4] = [
        Self::Ok,
        Self::InvalidCiphertext,
        Self::Unavailable,
        Self::Rejected,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::InvalidCiphertext => "invalid_ciphertext",
            Self::Unavailable => "unavailable",
            Self::Rejected => "rejected",
        }
    }
}

/// KMS calls by operation and outcome, with latency by operation.
#[derive(Clone)]
pub struct KmsMetrics {
    calls: Arc<[[IntCounter; 4]; 9]>,
    latency: Arc<[Histogram; 9]>,
}

impl KmsMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let calls = IntCounterVec::new(
            Opts::new(
                "fincert_kms_calls_total",
                "KMS calls by operation and outcome",
            ),
            &["operation", "outcome"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "fincert_kms_call_duration_seconds",
                "KMS call latency by operation",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )?;
        registry.register(Box::new(calls.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self {
            calls: Arc::new(KmsOp::ALL.map(|op| {
                KmsOutcome::ALL.map(|outcome| calls.with_label_values(&[op.name(), outcome.name()]))
            })),
            latency: Arc::new(KmsOp::ALL.map(|op| latency.with_label_values(&[op.name()]))),
        })
    }

    /// Counts one call.
    pub fn observe(&self, op: KmsOp, outcome: KmsOutcome, seconds: f64) {
        self.calls[op as usize][outcome as usize].inc();
        self.latency[op as usize].observe(seconds);
    }
}

/// How a signature ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureResult {
    /// Made, committed with its audit event and returned.
    Ok,
    /// Made but not delivered because its condition failed at commit (the request was
    /// decided meanwhile; the SAD was spent, replaced or expired).
    Refused,
    /// Signing or the commit failed.
    Failed,
}

/// Signatures by algorithm, format and result (one per digest or hash signed).
#[derive(Clone)]
pub struct SignatureMetrics {
    counts: Arc<[[[IntCounter; 3]; 4]; 3]>,
}

const ALGORITHMS: [Algorithm; 3] = [
    Algorithm::RsaPkcs1Sha256,
    Algorithm::RsaPssSha256,
    Algorithm::EcdsaP256Sha256,
];
const FORMATS: [Format; 4] = [
    Format::Raw,
    Format::CmsAttached,
    Format::CmsDetached,
    Format::CmsPades,
];
const RESULTS: [SignatureResult; 3] = [
    SignatureResult::Ok,
    SignatureResult::Refused,
    SignatureResult::Failed,
];

impl SignatureResult {
    fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

fn algorithm_index(a: Algorithm) -> usize {
    match a {
        Algorithm::RsaPkcs1Sha256 => 0,
        Algorithm::RsaPssSha256 => 1,
        Algorithm::EcdsaP256Sha256 => 2,
    }
}

fn format_index(f: Format) -> usize {
    match f {
        Format::Raw => 0,
        Format::CmsAttached => 1,
        Format::CmsDetached => 2,
        Format::CmsPades => 3,
    }
}

impl SignatureMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let vec = IntCounterVec::new(
            Opts::new(
                "fincert_signatures_total",
                "Signatures (one per digest) by algorithm, format and result",
            ),
            &["algorithm", "format", "result"],
        )?;
        registry.register(Box::new(vec.clone()))?;
        Ok(Self {
            counts: Arc::new(ALGORITHMS.map(|a| {
                FORMATS.map(|f| {
                    RESULTS.map(|r| vec.with_label_values(&[a.as_str(), f.as_str(), r.name()]))
                })
            })),
        })
    }

    /// Counts `n` signatures.
    pub fn observe(&self, algorithm: Algorithm, format: Format, result: SignatureResult, n: usize) {
        self.counts[algorithm_index(algorithm)][format_index(format)][result as usize]
            .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }
}

/// The group commit: batch sizes and how long each batch's transaction took.
#[derive(Clone)]
pub struct CommitMetrics {
    batch_size: Histogram,
    commit_seconds: Histogram,
}

impl CommitMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self::unregistered()?;
        registry.register(Box::new(m.batch_size.clone()))?;
        registry.register(Box::new(m.commit_seconds.clone()))?;
        Ok(m)
    }

    /// Handles that no registry reads (a committer outside an application: tests, tools).
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        Ok(Self {
            batch_size: Histogram::with_opts(
                HistogramOpts::new(
                    "fincert_group_commit_batch_size",
                    "Changes per group-commit transaction",
                )
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0]),
            )?,
            commit_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "fincert_audit_commit_seconds",
                    "Time of one group-commit transaction (changes and audit append), failed or not",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
            )?,
        })
    }

    /// Records one batch of `size` changes whose transaction took `seconds`.
    pub fn observe_batch(&self, size: usize, seconds: f64) {
        self.batch_size.observe(size as f64);
        self.commit_seconds.observe(seconds);
    }
}

/// Signed audit checkpoints: how many, which stage failed, and when the job last succeeded
/// (alert on `time() - max(fincert_audit_checkpoint_last_success_timestamp_seconds)` across
/// nodes: only the node holding the job lock sets it).
#[derive(Clone)]
pub struct CheckpointMetrics {
    signed: IntCounter,
    failures: IntCounterVec,
    last_success: IntGauge,
}

impl CheckpointMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self::unregistered()?;
        registry.register(Box::new(m.signed.clone()))?;
        registry.register(Box::new(m.failures.clone()))?;
        registry.register(Box::new(m.last_success.clone()))?;
        Ok(m)
    }

    /// Handles that no registry reads (tools, the CLI).
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        let failures = IntCounterVec::new(
            Opts::new(
                "fincert_audit_checkpoint_failures_total",
                "Audit checkpoint runs that failed, by stage (sign, witness)",
            ),
            &["stage"],
        )?;
        for stage in ["sign", "witness"] {
            failures.with_label_values(&[stage]);
        }
        Ok(Self {
            signed: IntCounter::new(
                "fincert_audit_checkpoints_signed_total",
                "Audit checkpoints this node signed",
            )?,
            failures,
            last_success: IntGauge::new(
                "fincert_audit_checkpoint_last_success_timestamp_seconds",
                "When this node last ran the checkpoint job without failure (Unix seconds)",
            )?,
        })
    }

    /// One checkpoint signed.
    pub fn signed(&self) {
        self.signed.inc();
    }

    /// One failure at `stage` (`sign` or `witness`).
    pub fn failed(&self, stage: &str) {
        self.failures.with_label_values(&[stage]).inc();
    }

    /// A run that failed nowhere, at Unix time `at`.
    pub fn succeeded(&self, at: i64) {
        self.last_success.set(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_with_their_labels() {
        let m = Metrics::new().unwrap();
        m.observe_request("GET", "/healthz", "200", 0.002);
        m.kms.observe(KmsOp::Decrypt, KmsOutcome::Unavailable, 0.01);
        m.signatures.observe(
            Algorithm::EcdsaP256Sha256,
            Format::CmsDetached,
            SignatureResult::Ok,
            3,
        );
        m.commit.observe_batch(5, 0.004);
        m.set_sampler(Box::new(|g| {
            g.activations_live.set(2);
            g.ready.set(1);
        }));
        let text = m.render().unwrap();
        for line in [
            r#"fincert_http_requests_total{method="GET",route="/healthz",status="200"} 1"#,
            r#"fincert_kms_calls_total{operation="Decrypt",outcome="unavailable"} 1"#,
            r#"fincert_kms_calls_total{operation="Decrypt",outcome="ok"} 0"#,
            r#"fincert_kms_call_duration_seconds_count{operation="Decrypt"} 1"#,
            r#"fincert_signatures_total{algorithm="ecdsa-p256-sha256",format="cms-detached",result="ok"} 3"#,
            "fincert_group_commit_batch_size_sum 5",
            "fincert_audit_commit_seconds_count 1",
            "fincert_activations_live 2",
            "fincert_ready 1",
            r#"fincert_db_pool_connections{state="in_use"} 0"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(text.contains(&format!(
            "fincert_build_info{{git_sha=\"{}\",version=\"{}\"}} 1",
            option_env!("GIT_SHA").unwrap_or("unknown"),
            env!("CARGO_PKG_VERSION")
        )));
        assert!(text.contains("fincert_http_request_duration_seconds_bucket"));
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
    }
}
