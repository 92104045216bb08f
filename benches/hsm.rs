//! The PKCS#11 backend against SoftHSM2, next to the local backend in the same run (#19):
//!
//! - **CA signing**: RSA-2048 PKCS#1 v1.5 signatures by a CA key created on the token, through
//!   the backend's session pool (`CaSigner::hsm`, what the CA signs certificates, CRLs and OCSP
//!   answers with), on as many threads as the pool has sessions; beside the same signature by
//!   a local (sealed, aws-lc-rs) CA key on the same number of threads;
//! - **data-key unwrap**: `Kms::decrypt` of a wrapped data key (what every key activation
//!   does), one at a time: latency p50 / p99 on the HSM and on the local keyring.
//!
//! `cargo bench --bench hsm` makes a SoftHSM2 token in a directory of its own (`softhsm2-util`,
//! Debian package softhsm2; the module at `TEST_FINCERT_SOFTHSM_MODULE`, default
//! `/usr/lib/softhsm/libsofthsm2.so`) and runs itself again with `SOFTHSM2_CONF` naming it (a
//! PKCS#11 module reads its configuration once per process). It ends with
//! `ratio rsa2048 hsm/local sign: X` and `ratio unwrap p50 hsm/local: X`. SoftHSM is software
//! on the same cores: a network HSM's figures are its own (and its round trip), which is what
//! this row is for measuring on the bank's side.

// Benchmark code may unwrap, expect and panic: the `[workspace.lints]` denials are for the
// library and the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use fincert::{
    config::{KmsBackend, Settings},
    custody::{
        keys::{self, KeyAlgorithm, SigningKey},
        kms::{self, EncryptionContext, Kms},
    },
    pki::signer::{CaKeyStore, CaSigner, pkcs11::Pkcs11CaKeys},
};

const USER_PIN: &str = "bench-5c28b3f6";
const SO_PIN: &str = "bench-so-4a7d0e91";
const LABEL: &str = "fincert-bench";
const THREADS: usize = 2;
const BUDGET: Duration = Duration::from_secs(3);
const UNWRAPS: usize = 2000;

fn module() -> String {
    std::env::var("TEST_FINCERT_SOFTHSM_MODULE")
        .unwrap_or_else(|_| "/usr/lib/softhsm/libsofthsm2.so".into())
}

/// The parent: a token of its own, then this binary again with `SOFTHSM2_CONF` set.
fn prepare_and_rerun() -> std::process::ExitCode {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("tokens")).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            dir.path().join("tokens").display()
        ),
    )
    .unwrap();
    let init = std::process::Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            LABEL,
            "--so-pin",
            SO_PIN,
            "--pin",
            USER_PIN,
        ])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("softhsm2-util runs (Debian package softhsm2)");
    assert!(
        init.status.success(),
        "softhsm2-util --init-token: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(std::env::args().skip(1))
        .env("SOFTHSM2_CONF", &conf)
        .env("FINCERT_BENCH_HSM_CHILD", "1")
        .status()
        .expect("the benchmark runs again");
    if status.success() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// Signatures per second by `signer` on `THREADS` threads for `BUDGET`.
fn sign_rate(signer: Arc<CaSigner>) -> f64 {
    let message = [0x5au8; 64];
    for _ in 0..10 {
        signer.sign_message(&message).unwrap();
    }
    let start = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let signer = signer.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while start.elapsed() < BUDGET {
                    signer.sign_message(&message).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    total as f64 / start.elapsed().as_secs_f64()
}

/// p50 and p99 of `UNWRAPS` decrypts of one wrapped data key, one at a time.
async fn unwrap_latency(kms: &dyn Kms) -> (Duration, Duration) {
    let ctx = EncryptionContext::new()
        .with("fincert:owner", "bench")
        .with("fincert:key", "00000000-0000-0000-0000-000000000001")
        .with("fincert:slot", "pin");
    let dk = kms.generate_data_key(&ctx).await.unwrap();
    let wrapped = kms.encrypt(dk.as_ref(), &ctx).await.unwrap();
    for _ in 0..20 {
        kms.decrypt(&wrapped, &ctx).await.unwrap();
    }
    let mut lat = Vec::with_capacity(UNWRAPS);
    for _ in 0..UNWRAPS {
        let started = Instant::now();
        let plain = kms.decrypt(&wrapped, &ctx).await.unwrap();
        lat.push(started.elapsed());
        assert_eq!(plain.as_slice(), dk.as_ref());
    }
    lat.sort();
    (lat[lat.len() / 2], lat[lat.len() * 99 / 100])
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn run() {
    let data = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        data_dir: data.path().to_path_buf(),
        ..Settings::default()
    };
    settings.kms.backend = KmsBackend::Pkcs11;
    settings.kms.pkcs11_module = module();
    settings.kms.pkcs11_token_label = LABEL.into();
    settings.kms.pkcs11_pin = USER_PIN.into();
    settings.kms.pkcs11_create_keys = true;
    settings.kms.pkcs11_pool_size = u32::try_from(THREADS).unwrap();
    let hsm = kms::pkcs11::Pkcs11Kms::connect(&settings.kms)
        .await
        .expect("the token answers");
    let local = kms::local::LocalKms::open_or_create(&settings.local_keyring_path())
        .expect("local keyring");

    let ca = Pkcs11CaKeys::connect(&settings, None).expect("the HSM's CA keys");
    let hsm_signer = Arc::new(
        ca.create("bench", KeyAlgorithm::Rsa2048)
            .await
            .expect("an RSA-2048 CA key on the token")
            .signer,
    );
    let local_signer = {
        let made = keys::generate(KeyAlgorithm::Rsa2048).expect("RSA key");
        let key = SigningKey::from_pkcs8(KeyAlgorithm::Rsa2048, &made.pkcs8).expect("parsed");
        Arc::new(CaSigner::sealed(key).expect("signer"))
    };
    let hsm_rate = tokio::task::spawn_blocking(move || sign_rate(hsm_signer))
        .await
        .unwrap();
    let local_rate = tokio::task::spawn_blocking(move || sign_rate(local_signer))
        .await
        .unwrap();
    let (hsm_p50, hsm_p99) = unwrap_latency(&hsm).await;
    let (local_p50, local_p99) = unwrap_latency(&local).await;

    println!(
        "\nPKCS#11 backend (SoftHSM2, {THREADS} pool sessions) next to the local backend, {}s per signing row, {UNWRAPS} unwraps\n",
        BUDGET.as_secs()
    );
    println!("| row | local | PKCS#11 (SoftHSM2) |");
    println!("|---|---:|---:|");
    println!("| CA RSA-2048 signatures/s on {THREADS} threads | {local_rate:.0} | {hsm_rate:.0} |");
    println!(
        "| data-key unwrap p50 | {:.1} µs | {:.1} µs |",
        us(local_p50),
        us(hsm_p50)
    );
    println!(
        "| data-key unwrap p99 | {:.1} µs | {:.1} µs |",
        us(local_p99),
        us(hsm_p99)
    );
    println!();
    println!("ratio rsa2048 hsm/local sign: {:.2}", hsm_rate / local_rate);
    println!(
        "ratio unwrap p50 hsm/local: {:.2}",
        hsm_p50.as_secs_f64() / local_p50.as_secs_f64()
    );
}

fn main() -> std::process::ExitCode {
    if std::env::var_os("FINCERT_BENCH_HSM_CHILD").is_none() {
        return prepare_and_rerun();
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
    std::process::ExitCode::SUCCESS
}
