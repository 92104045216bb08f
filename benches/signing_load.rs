//! End-to-end load benchmark: signatures per second and latency percentiles over HTTP for an
//! activated RSA-2048 key, next to the raw aws-lc-rs signing rate measured in the same run.
//!
//! `cargo bench --bench signing_load` starts the service in-process (embedded SQLite and local
//! KMS by default; `FINCERT_BENCH_DATABASE_URL=postgres://…` for PostgreSQL;
//! `FINCERT_BENCH_GROUP_COMMIT_MAX_BATCH=1` turns group commit off), registers an
//! institution and a holder, and drives it with concurrent clients over loopback:
//!
//! - **CSC signHash** — the activated-key path: each client authorizes 10 hashes with the PIN
//!   (one activation), then signs them one HTTP call each. Only the signHash calls are timed.
//! - **native request + PIN approval** — the whole remote-signing round: an institution creates
//!   a request (Idempotency-Key), the holder approves it with the PIN (activation, signature,
//!   audit, commit). One row per round, i.e. two HTTP calls and one key activation.
//!
//! Clients and server share this machine's cores; the numbers are the service's cost plus the
//! load generator's.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use aws_lc_rs::{
    digest, rand,
    rsa::KeyPair,
    signature::{self, KeyPair as _},
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
    signing::institution::{self, Sector},
    startup::Application,
};
use fincert_client::{
    Client,
    types::{NewRequestBody, PinApproval},
};
use serde_json::{Value, json};

const PIN: &str = "482915";
const CLIENTS: usize = 8;
const BUDGET: Duration = Duration::from_secs(8);

struct Row {
    name: &'static str,
    ops: usize,
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

fn row(name: &'static str, mut lat: Vec<Duration>, wall: Duration) -> Row {
    lat.sort();
    let pick = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    Row {
        name,
        ops: lat.len(),
        per_sec: lat.len() as f64 / wall.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

/// Raw aws-lc-rs RSA-2048 PKCS#1 v1.5 signing on `threads` threads for the budget.
fn raw_rate(threads: usize) -> Row {
    let pkcs8 = KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .and_then(|k| {
            aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&k)
                .map(|d| d.as_ref().to_vec())
        })
        .expect("key");
    let key = Arc::new(KeyPair::from_pkcs8(&pkcs8).expect("key"));
    let _ = key.public_key();
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let key = key.clone();
            std::thread::spawn(move || {
                let rng = rand::SystemRandom::new();
                let mut sig = vec![0u8; key.public_modulus_len()];
                let mut lat = Vec::new();
                while start.elapsed() < BUDGET / 2 {
                    let t = Instant::now();
                    key.sign(
                        &signature::RSA_PKCS1_SHA256,
                        &rng,
                        b"benchmark message",
                        &mut sig,
                    )
                    .expect("sign");
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let lat: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    row(
        if threads == 1 {
            "raw aws-lc-rs RSA-2048 sign, 1 thread"
        } else {
            "raw aws-lc-rs RSA-2048 sign, 2 threads"
        },
        lat,
        start.elapsed(),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.data_dir = dir.path().to_path_buf();
    settings.http.listen = "127.0.0.1:0".into();
    settings.http.workers = 2;
    settings.pki.ca_algorithm = "p256".into();
    settings.pki.user_key_algorithm = "rsa2048".into();
    settings.signing.requests_per_institution_per_minute = 1_000_000;
    settings.custody.activation_max_signatures = 10;
    if let Some(n) = std::env::var("FINCERT_BENCH_GROUP_COMMIT_MAX_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        settings.signing.group_commit_max_batch = n;
    }
    if let Ok(url) = std::env::var("FINCERT_BENCH_DATABASE_URL") {
        settings.database.url = url;
        settings.database.max_connections = 20;
    }
    let engine = if settings.database.url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let clock: SharedClock = Arc::new(SystemClock);
    let app = Application::build(settings.clone(), clock.clone())
        .await
        .expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let (pki, custody) = (app.pki(), app.custody());
    let db = fincert::store::connect(&settings).await.expect("db");
    let server = tokio::spawn(app.run_until_stopped());

    // One institution; one holder per client (each with an RSA-2048 cloud key and a consent).
    let creds = institution::register(
        &db,
        custody.kms().as_ref(),
        clock.now(),
        "Bench Bank",
        Sector::Bank,
    )
    .await
    .expect("institution");
    let api = Client::new(&base).expect("client");
    let bank = api
        .institution(&creds.institution.client_id, &creds.client_secret, None)
        .await
        .expect("token");
    let mut holders = Vec::new();
    for i in 0..CLIENTS {
        let owner = OwnerId::parse(&format!("bench-user-{i}")).expect("owner");
        let cert = pki
            .issue(
                &db,
                IssueRequest {
                    owner,
                    holder: HolderName::parse("홍길동").expect("name"),
                    kind: CertKind::Financial,
                    usage: Usage::General,
                    key: KeySource::Cloud(&Pin::parse(PIN).expect("pin")),
                },
            )
            .await
            .expect("certificate");
        let user = api.sign_in(cert.id, PIN).await.expect("sign in");
        user.consent(&fincert_client::types::ConsentBody {
            institution_id: creds.institution.id.parse().expect("id"),
            certificate_id: cert.id,
        })
        .await
        .expect("consent");
        holders.push((cert.id, user));
    }
    let http = reqwest::Client::new();
    let bank_token = bank.token().expect("token").to_owned();

    // CSC signHash with activated keys.
    let start = Instant::now();
    let tasks: Vec<_> = holders
        .iter()
        .map(|(cert, _)| {
            let (http, base, token, cert) = (http.clone(), base.clone(), bank_token.clone(), cert.to_string());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut n = 0u64;
                while start.elapsed() < BUDGET {
                    let hashes: Vec<String> = (0..10)
                        .map(|j| { n += 1; STANDARD.encode(digest::digest(&digest::SHA256, format!("{cert}-{n}-{j}").as_bytes())) })
                        .collect();
                    let auth: Value = http.post(format!("{base}/csc/v2/credentials/authorize")).bearer_auth(&token)
                        .json(&json!({"credentialID": cert, "numSignatures": 10, "hashes": hashes, "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "authData": [{"id": "PIN", "value": PIN}]}))
                        .send().await.expect("authorize").json().await.expect("json");
                    let sad = auth["SAD"].as_str().expect("SAD").to_owned();
                    for h in &hashes {
                        let t = Instant::now();
                        let resp = http.post(format!("{base}/csc/v2/signatures/signHash")).bearer_auth(&token)
                            .json(&json!({"credentialID": cert, "SAD": sad, "hashes": [h], "signAlgo": "1.2.840.113549.1.1.11"}))
                            .send().await.expect("signHash");
                        assert!(resp.status().is_success(), "signHash {}", resp.status());
                        lat.push(t.elapsed());
                    }
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let csc = row(
        "CSC signHash over HTTP (activated key)",
        lat,
        start.elapsed(),
    );

    // Native round: request + PIN approval.
    let start = Instant::now();
    let tasks: Vec<_> = holders
        .iter()
        .map(|(cert, user)| {
            let (bank, user, cert) = (bank.clone(), user.clone(), *cert);
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut n = 0u64;
                while start.elapsed() < BUDGET {
                    n += 1;
                    let t = Instant::now();
                    let d = STANDARD.encode(digest::digest(
                        &digest::SHA256,
                        format!("{cert}-{n}").as_bytes(),
                    ));
                    let req = bank
                        .create_request(
                            &NewRequestBody {
                                certificate_id: Some(cert),
                                digests: Some(vec![d]),
                                display_text: format!("Pay {n} KRW"),
                                ..Default::default()
                            },
                            &format!("{cert}-{n}"),
                        )
                        .await
                        .expect("request");
                    let signed = user
                        .approve(
                            req.id.parse().expect("id"),
                            &PinApproval {
                                pin: zeroize::Zeroizing::new(PIN.into()),
                                request_digest: req.request_digest,
                            },
                        )
                        .await
                        .expect("approve");
                    assert!(signed.result.is_some());
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let native = row(
        "request + PIN approval over HTTP (round)",
        lat,
        start.elapsed(),
    );

    let raw1 = raw_rate(1);
    let raw2 = raw_rate(2);
    println!(
        "\nsigning load: {CLIENTS} concurrent clients, {engine}, local KMS, 2 server workers, group commit up to {}, {}s per row\n",
        settings.signing.group_commit_max_batch,
        BUDGET.as_secs()
    );
    println!("| scenario | ops | ops/s | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|");
    for r in [csc, native, raw1, raw2] {
        println!(
            "| {} | {} | {:.0} | {:.2} ms | {:.2} ms |",
            r.name,
            r.ops,
            r.per_sec,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3
        );
    }
    server.abort();
}
