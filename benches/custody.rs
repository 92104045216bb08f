//! Key custody benchmark: what activation costs, what signing with an activated key costs, and
//! how that compares with raw aws-lc-rs signing on the same machine in the same run.
//!
//! `cargo bench --bench custody` prints a table. Set `FINCERT_BENCH_MOTO_URL` to also measure
//! activation through AWS KMS (moto) instead of the local keyring.

// Test and benchmark code may unwrap, expect and panic: the `[workspace.lints]` denials are for
// the library and the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

use aws_lc_rs::digest;
use fincert::{
    clock::{SharedClock, SystemClock},
    config::Settings,
    custody::{
        Custody, OwnerId,
        keys::{self, KeyAlgorithm, SignatureScheme, SigningKey},
        kms,
    },
    domain::pin::Pin,
    store,
};

struct Row {
    name: String,
    per_op: Duration,
    per_sec: f64,
}

/// Runs `op` for about `budget`, after a short warm-up; returns the mean time per op.
fn measure(budget: Duration, mut op: impl FnMut()) -> (Duration, u64) {
    for _ in 0..20 {
        op();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        op();
        n += 1;
    }
    (start.elapsed() / u32::try_from(n).unwrap_or(u32::MAX), n)
}

async fn measure_async<F, Fut>(budget: Duration, mut op: F) -> (Duration, u64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..5 {
        op().await;
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        op().await;
        n += 1;
    }
    (start.elapsed() / u32::try_from(n).unwrap_or(u32::MAX), n)
}

fn row(name: &str, (per_op, _): (Duration, u64)) -> Row {
    Row {
        name: name.into(),
        per_op,
        per_sec: 1.0 / per_op.as_secs_f64(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let budget = Duration::from_millis(
        std::env::var("FINCERT_BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    // One activation serves the whole measurement (the service caps this at 10,000).
    settings.custody.activation_max_signatures = u32::MAX;
    settings.custody.activation_ttl_secs = 3600;
    let backend = if let Ok(url) = std::env::var("FINCERT_BENCH_MOTO_URL") {
        settings.kms = bench_moto_settings(&url).await;
        "aws (moto)"
    } else {
        "local"
    };
    let db = store::connect(&settings).await.expect("database");
    store::migrate(&db).await.expect("migrations");
    let clock: SharedClock = Arc::new(SystemClock);
    let kms = kms::connect(&settings).await.expect("kms");
    let custody = Custody::new(kms, &settings.custody, clock);
    let owner = OwnerId::parse("bench-user").expect("owner");
    let pin = Pin::parse("482915").expect("pin");
    let msg = b"transfer 1,000,000 KRW to 110-123-456789";
    let sha = digest::digest(&digest::SHA256, msg);

    let mut rows = Vec::new();
    for (alg, scheme, label) in [
        (
            KeyAlgorithm::Rsa2048,
            SignatureScheme::RsaPkcs1Sha256,
            "RSA-2048 PKCS#1 v1.5",
        ),
        (
            KeyAlgorithm::Rsa2048,
            SignatureScheme::RsaPssSha256,
            "RSA-2048 PSS",
        ),
        (
            KeyAlgorithm::P256,
            SignatureScheme::EcdsaP256Sha256,
            "ECDSA P-256",
        ),
    ] {
        // Raw aws-lc-rs: a parsed key, signing a precomputed digest.
        let generated = keys::generate(alg).expect("keygen");
        let raw = SigningKey::from_pkcs8(alg, &generated.pkcs8).expect("parse");
        rows.push(row(
            &format!("raw aws-lc-rs sign, {label}"),
            measure(budget, || {
                black_box(raw.sign_digest(scheme, sha.as_ref()).expect("sign"));
            }),
        ));

        // Through custody: an activated key, looked up per signature.
        let key = custody
            .create_key(&db, &owner, alg, &pin)
            .await
            .expect("create");
        let act = custody
            .activate_with_pin(&db, &owner, key.id, &pin, None)
            .await
            .expect("activate");
        rows.push(row(
            &format!("activated key sign, {label}"),
            measure(budget, || {
                black_box(
                    custody
                        .sign_digest(&owner, act.id, scheme, sha.as_ref())
                        .expect("sign"),
                );
            }),
        ));
        if scheme != SignatureScheme::RsaPssSha256 {
            rows.push(row(
                &format!(
                    "unwrap + activate ({backend} KMS, SQLite), {}",
                    alg.as_str()
                ),
                measure_async(budget, || async {
                    let a = custody
                        .activate_with_pin(&db, &owner, key.id, &pin, Some(1))
                        .await
                        .expect("activate");
                    custody.activations().remove(a.id);
                })
                .await,
            ));
        }
    }

    println!(
        "\nfincert custody benchmark ({} ms per row, 1 thread)\n",
        budget.as_millis()
    );
    println!("| operation | per op | ops/s |");
    println!("|---|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.1} µs | {:.0} |",
            r.name,
            r.per_op.as_secs_f64() * 1e6,
            r.per_sec
        );
    }
    println!();
    for label in ["RSA-2048 PKCS#1 v1.5", "RSA-2048 PSS", "ECDSA P-256"] {
        let raw = rows
            .iter()
            .find(|r| r.name == format!("raw aws-lc-rs sign, {label}"))
            .map(|r| r.per_op.as_secs_f64());
        let act = rows
            .iter()
            .find(|r| r.name == format!("activated key sign, {label}"))
            .map(|r| r.per_op.as_secs_f64());
        if let (Some(raw), Some(act)) = (raw, act) {
            println!(
                "overhead of custody over raw signing, {label}: {:.2}x",
                act / raw
            );
        }
    }
}

async fn bench_moto_settings(url: &str) -> fincert::config::KmsSettings {
    use aws_config::{BehaviorVersion, Region};
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("ap-northeast-2"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "test", "test", None, None, "bench",
        ))
        .load()
        .await;
    let client = aws_sdk_kms::Client::new(&conf);
    let key = client
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata")
        .key_id;
    let mac = client
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata")
        .key_id;
    let mut s = Settings::default().kms;
    s.backend = fincert::config::KmsBackend::Aws;
    s.aws_endpoint_url = url.into();
    s.aws_key_id = key;
    s.aws_mac_key_id = mac;
    s.aws_access_key_id = "test".into();
    s.aws_secret_access_key = "test".into();
    s
}
