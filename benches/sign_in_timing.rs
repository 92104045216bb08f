//! How long a refused PIN sign-in takes, by why it was refused (issue 17, "no oracles").
//!
//! `cargo bench --bench sign_in_timing` starts the service in-process on a runtime of its own
//! with two workers (as `fincert serve` on this machine kind), on the embedded SQLite with the
//! local KMS, and sends `POST /v1/auth/pin` one at a time, `FINCERT_BENCH_TRIES` (default 200)
//! times for each of three cases, interleaved so that the machine's noise falls on all three
//! alike:
//!
//! - **wrong**: a wrong PIN for an existing, active certificate (each certificate gets at most
//!   `custody.max_pin_failures − 1` of them, so none locks and the case stays "wrong");
//! - **unknown**: a random certificate id;
//! - **locked**: any PIN for a certificate whose PIN is locked.
//!
//! Each case moves to a new id after as many tries as a wrong-PIN certificate takes, so the
//! work that depends on an id's history and not on what it names (its per-certificate rate
//! limit bucket, made on an id's first try and updated after) falls on all three alike.
//!
//! All three must answer the same `401 wrong_pin` (checked on every try). It prints each case's
//! median and p99, and `ratio median_spread: X`, the largest median over the smallest minus one:
//! the target is at most 0.10 (the three medians within 10 % of each other). The load
//! generator shares this machine's cores with the server.

// Benchmark code may unwrap, expect and panic: the `[workspace.lints]` denials are for the
// library and the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

// `pg_admin`: this benchmark runs on the embedded SQLite only.
#[allow(dead_code)]
mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

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
use uuid::Uuid;

/// The server binary's allocator, so the benchmark measures what `fincert serve` runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PIN: &str = "604172";
const WRONG: &str = "000001";
const TARGET_SPREAD: f64 = 0.10;

fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fincert-server")
        .enable_all()
        .build()
        .expect("server runtime")
}

fn main() {
    let tries: usize = std::env::var("FINCERT_BENCH_TRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        data_dir: dir.path().join("data"),
        ..Settings::default()
    };
    settings.http.listen = "127.0.0.1:0".into();
    settings.http.workers = 2;
    settings.pki.ca_algorithm = "p256".into();
    settings.pki.user_key_algorithm = "p256".into();
    settings.auth.sign_in_per_ip_per_minute = 1_000_000;
    settings.auth.sign_in_per_certificate_per_minute = 1_000_000;
    let wrong_per_cert = usize::try_from(settings.custody.max_pin_failures - 1).unwrap();
    let ids_per_case = tries.div_ceil(wrong_per_cert);

    let server = server_runtime();
    let (base, open, locked) = server.block_on(async {
        let clock: SharedClock = Arc::new(SystemClock);
        let app = Application::build(settings.clone(), clock)
            .await
            .expect("app");
        let base = format!("http://127.0.0.1:{}", app.port());
        let pki = app.pki();
        tokio::spawn(app.run_until_stopped());
        let db = fincert::store::connect(&settings).await.expect("db");
        let mut ids = Vec::new();
        for n in 0..2 * ids_per_case {
            let cert = pki
                .issue(
                    &db,
                    IssueRequest {
                        owner: OwnerId::parse(&format!("bench-timing-{n}")).expect("owner"),
                        holder: HolderName::parse("홍길동").expect("name"),
                        kind: CertKind::Financial,
                        usage: Usage::Restricted,
                        key: KeySource::Cloud(&Pin::parse(PIN).expect("pin")),
                    },
                )
                .await
                .expect("certificate");
            ids.push((cert.id, cert.custody_key_id.expect("a cloud key")));
        }
        // Locked in the database (as five wrong PINs leave it), not over HTTP: no id of any
        // case has had a try before it is measured.
        let now = fincert::clock::Clock::now(&SystemClock);
        for (_, key) in &ids[ids_per_case..] {
            let key = key.to_string();
            fincert::store::custody::lock_pin_state(&db, &key, now)
                .await
                .expect("counter");
            fincert::store::custody::set_pin_failures(&db, &key, 5, true, now)
                .await
                .expect("lock");
        }
        db.close().await.ok();
        let mut ids: Vec<Uuid> = ids.into_iter().map(|(id, _)| id).collect();
        let locked = ids.split_off(ids_per_case);
        (base, ids, locked)
    });
    let unknown: Vec<Uuid> = (0..ids_per_case).map(|_| Uuid::new_v4()).collect();

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    client.block_on(async move {
        let http = reqwest::Client::new();
        let url = format!("{base}/v1/auth/pin");
        let try_once = |cert: Uuid, pin: &'static str| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let started = Instant::now();
                let resp = http
                    .post(&url)
                    .json(&serde_json::json!({"certificate_id": cert, "pin": pin}))
                    .send()
                    .await
                    .expect("answer");
                let status = resp.status().as_u16();
                let body: serde_json::Value = resp.json().await.expect("problem body");
                let took = started.elapsed();
                (
                    status,
                    body["code"].as_str().unwrap_or_default().to_owned(),
                    took,
                )
            }
        };
        // Warm-up: the decoy slot is made on the first unknown id; connections open.
        for _ in 0..5 {
            try_once(Uuid::new_v4(), PIN).await;
        }
        let mut lat: [Vec<Duration>; 3] = Default::default();
        for i in 0..tries {
            let n = i / wrong_per_cert;
            let cases = [(open[n], WRONG), (unknown[n], PIN), (locked[n], PIN)];
            // Rotate which case goes first, so none always follows another.
            for k in 0..3 {
                let case = (i + k) % 3;
                let (cert, pin) = cases[case];
                let (status, code, took) = try_once(cert, pin).await;
                assert_eq!(
                    (status, code.as_str()),
                    (401, "wrong_pin"),
                    "case {case}, try {i}"
                );
                lat[case].push(took);
            }
        }
        println!(
            "{:<30} {:>6} {:>10} {:>10}",
            "refused PIN sign-in", "tries", "median", "p99"
        );
        let mut medians = Vec::new();
        for (name, l) in ["wrong PIN", "unknown certificate", "locked PIN"]
            .into_iter()
            .zip(lat)
        {
            let spent = l.iter().sum();
            let r = common::row(name.into(), l, spent);
            println!(
                "{:<30} {:>6} {:>10.2?} {:>10.2?}",
                r.name, r.ops, r.p50, r.p99
            );
            medians.push(r.p50.as_secs_f64());
        }
        let max = medians.iter().copied().fold(f64::MIN, f64::max);
        let min = medians.iter().copied().fold(f64::MAX, f64::min);
        let spread = max / min - 1.0;
        println!("ratio median_spread: {spread:.3} (target <= {TARGET_SPREAD:.2})");
    });
    drop(server);
}
