//! `/healthz` while hostile uploads run (issue 17, "nothing heavy on the workers").
//!
//! `cargo bench --bench heavy_uploads` starts the service in-process on a runtime of its own
//! with two workers (as `fincert serve` on this machine kind), on the embedded SQLite, signs a
//! holder in, and keeps ten PKCS#12 uploads in flight for `FINCERT_BENCH_SECONDS` (default
//! 10): each file asks for the highest KDF cost a file may (100,000 iterations, MAC and key,
//! made with the openssl CLI) and is sent with a wrong password, so every upload spends the
//! whole MAC derivation on the heavy-work pool (`src/heavy.rs`) and is refused with 422 (or
//! 503 when the pool's queue is full). Meanwhile a prober GETs `/healthz` every 10 ms. It
//! prints the probes' p50, p99 and maximum, the uploads' outcome counts, and
//! `ratio healthz_p99/target: X` against the 50 ms target (below 1 is better). The load
//! generator shares this machine's cores with the server.

// Benchmark code may unwrap, expect and panic: the `[workspace.lints]` denials are for the
// library and the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

// `pg_admin`: this benchmark runs on the embedded SQLite only.
#[allow(dead_code)]
mod common;

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{
    clock::{SharedClock, SystemClock},
    config::Settings,
    custody::OwnerId,
    domain::pin::Pin,
    pki::{
        IssueRequest, KeySource,
        profile::{CertKind, HolderName, Usage},
    },
    startup::Application,
};

/// The server binary's allocator, so the benchmark measures what `fincert serve` runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const UPLOADS_IN_FLIGHT: usize = 10;
const PROBE_EVERY: Duration = Duration::from_millis(10);
const TARGET_HEALTHZ_P99: Duration = Duration::from_millis(50);
const PIN: &str = "604172";

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl {args:?}");
}

/// A PKCS#12 file at the KDF limit (a self-signed P-256 certificate and its key).
fn hostile_p12(dir: &std::path::Path) -> Vec<u8> {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "k.pem",
            "-out",
            "c.pem",
            "-subj",
            "/CN=hostile",
            "-days",
            "30",
        ],
    );
    openssl(
        dir,
        &[
            "pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-out", "h.p12", "-passout",
            "pass:pw", "-iter", "100000", "-macalg", "sha256",
        ],
    );
    std::fs::read(dir.join("h.p12")).unwrap()
}

fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fincert-server")
        .enable_all()
        .build()
        .expect("server runtime")
}

fn main() {
    let seconds = std::env::var("FINCERT_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10u64);
    let dir = tempfile::tempdir().expect("temp dir");
    let p12 = hostile_p12(dir.path());
    let mut settings = Settings {
        data_dir: dir.path().join("data"),
        ..Settings::default()
    };
    settings.http.listen = "127.0.0.1:0".into();
    settings.http.workers = 2;
    settings.pki.ca_algorithm = "p256".into();
    settings.pki.user_key_algorithm = "p256".into();
    settings.auth.sign_in_per_ip_per_minute = 1_000_000;

    let server = server_runtime();
    let (base, cert) = server.block_on(async {
        let clock: SharedClock = Arc::new(SystemClock);
        let app = Application::build(settings.clone(), clock)
            .await
            .expect("app");
        let base = format!("http://127.0.0.1:{}", app.port());
        let pki = app.pki();
        tokio::spawn(app.run_until_stopped());
        let db = fincert::store::connect(&settings).await.expect("db");
        let cert = pki
            .issue(
                &db,
                IssueRequest {
                    owner: OwnerId::parse("bench-hostile").expect("owner"),
                    holder: HolderName::parse("홍길동").expect("name"),
                    kind: CertKind::Financial,
                    usage: Usage::General,
                    key: KeySource::Cloud(&Pin::parse(PIN).expect("pin")),
                },
            )
            .await
            .expect("certificate");
        db.close().await.ok();
        (base, cert.id)
    });

    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");
    client.block_on(async move {
        let api = fincert_client::Client::new(&base).expect("client");
        let user = api.sign_in(cert, PIN).await.expect("sign in");
        let token = user.token().expect("token").to_owned();
        let http = reqwest::Client::new();
        let body = serde_json::json!({
            "pkcs12": STANDARD.encode(&p12), "password": "not-pw", "pin": PIN,
        });
        let until = Instant::now() + Duration::from_secs(seconds);
        let uploaders: Vec<_> = (0..UPLOADS_IN_FLIGHT)
            .map(|_| {
                let (http, base, token, body) =
                    (http.clone(), base.clone(), token.clone(), body.clone());
                tokio::spawn(async move {
                    let mut outcomes = BTreeMap::<u16, usize>::new();
                    while Instant::now() < until {
                        let status = http
                            .post(format!("{base}/v1/foreign-certificates/pkcs12"))
                            .bearer_auth(&token)
                            .json(&body)
                            .send()
                            .await
                            .map_or(0, |r| r.status().as_u16());
                        *outcomes.entry(status).or_default() += 1;
                    }
                    outcomes
                })
            })
            .collect();
        let started = Instant::now();
        let mut probes = Vec::new();
        while Instant::now() < until {
            let t = Instant::now();
            let ok = http
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            assert!(ok, "/healthz failed");
            probes.push(t.elapsed());
            tokio::time::sleep(PROBE_EVERY).await;
        }
        let wall = started.elapsed();
        let mut outcomes = BTreeMap::<u16, usize>::new();
        for u in uploaders {
            for (status, n) in u.await.expect("uploader") {
                *outcomes.entry(status).or_default() += n;
            }
        }
        let max = probes.iter().max().copied().unwrap_or_default();
        let r = common::row("healthz during hostile uploads".into(), probes, wall);
        println!(
            "{:<34} {:>8} {:>8} {:>10} {:>10} {:>10}",
            "", "probes", "per s", "p50", "p99", "max"
        );
        println!(
            "{:<34} {:>8} {:>8.1} {:>10.2?} {:>10.2?} {:>10.2?}",
            r.name, r.ops, r.per_sec, r.p50, r.p99, max
        );
        println!("uploads by status: {outcomes:?}");
        println!(
            "ratio healthz_p99/target: {:.2}",
            r.p99.as_secs_f64() / TARGET_HEALTHZ_P99.as_secs_f64()
        );
    });
    drop(server);
}
