//! End-to-end load benchmark of the signing path, next to the raw aws-lc-rs signing rate
//! measured in the same run on the same number of threads (the server's two workers).
//!
//! `cargo bench --bench signing_load` runs every row on the embedded SQLite and, when the
//! PostgreSQL at `FINCERT_BENCH_PG_ADMIN_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! answers, on a fresh PostgreSQL database too (dropped at the end). Each setup starts the
//! service in-process with the local KMS, registers an institution and one holder per client,
//! and drives it with concurrent clients over loopback:
//!
//! - **CSC signHash** (RSA-2048 and P-256): the hot path. Clients authorize their SADs first
//!   (50 hashes each, untimed), then sign one hash per HTTP call; the rate is signatures per
//!   second of wall time.
//! - **2 nodes** (PostgreSQL): two `fincert serve` nodes on one database; every SAD is
//!   authorized on one node and signed on the other, which opens its activation record.
//! - **latency at half load**: the same calls paced at half the measured maximum rate.
//! - **request + PIN approval** (RSA-2048): the native remote-signing round, two HTTP calls and
//!   one key activation.
//!
//! It ends with one line per engine, `ratio rsa2048 signHash/raw <engine>: 0.83`, for scripts.
//! Clients, server and database share this machine's cores: the ratio is the figure that
//! carries from one machine to another, not the absolute rates.

// Test and benchmark code may unwrap, expect and panic: the `[workspace.lints]` denials are for
// the library and the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

mod common;

use common::{Row, pg_admin, row};

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use aws_lc_rs::{
    digest,
    encoding::{AsDer, Pkcs8V1Der},
    rand,
    rsa::KeyPair as RsaKeyPair,
    signature::{self, EcdsaKeyPair},
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
    proto::{approvals::PinApproval, consents::ConsentBody, institutions::NewRequestBody},
};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

/// The server binary's allocator, so the benchmark measures what `fincert serve` runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PIN: &str = "482915";
/// Holders (one certificate and key each): the native round's concurrent customers, each
/// waiting for its own round trips (request, approval) like a person at a phone would.
const CLIENTS: usize = 32;
/// Concurrent clients per signHash row: enough in flight to fill a group commit. Each waits
/// for its own commit (a closed loop), so a cheap signature's rate is bounded by clients /
/// (commit time + HTTP); `FINCERT_BENCH_CLIENTS_P256` / `FINCERT_BENCH_CLIENTS_RSA2048` set
/// them for a run (1 to 1,024).
fn clients_for(alg: Alg) -> usize {
    let (var, default) = match alg {
        Alg::Rsa2048 => ("FINCERT_BENCH_CLIENTS_RSA2048", 64),
        Alg::P256 => ("FINCERT_BENCH_CLIENTS_P256", 64),
    };
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=1024).contains(n))
        .unwrap_or(default)
}
const THREADS: usize = 2;
const BUDGET: Duration = Duration::from_secs(5);
const HASHES_PER_SAD: usize = 50;

#[derive(Clone, Copy, PartialEq)]
enum Alg {
    Rsa2048,
    P256,
}

impl Alg {
    fn setting(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa2048",
            Self::P256 => "p256",
        }
    }
    fn sign_algo(self) -> &'static str {
        match self {
            Self::Rsa2048 => "1.2.840.113549.1.1.11",
            Self::P256 => "1.2.840.10045.4.3.2",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Self::Rsa2048 => "RSA-2048",
            Self::P256 => "P-256",
        }
    }
}

/// Raw aws-lc-rs signing of a SHA-256 message on `THREADS` threads.
fn raw_rate(alg: Alg, budget: Duration) -> Row {
    enum Key {
        Rsa(RsaKeyPair),
        Ec(EcdsaKeyPair),
    }
    let key = Arc::new(match alg {
        Alg::Rsa2048 => {
            let k = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("key");
            let der = AsDer::<Pkcs8V1Der>::as_der(&k).expect("der");
            Key::Rsa(RsaKeyPair::from_pkcs8(der.as_ref()).expect("key"))
        }
        Alg::P256 => {
            let rng = rand::SystemRandom::new();
            let doc =
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                    .expect("key");
            Key::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref())
                    .expect("key"),
            )
        }
    });
    let start = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let key = key.clone();
            std::thread::spawn(move || {
                let rng = rand::SystemRandom::new();
                let mut lat = Vec::new();
                while start.elapsed() < budget {
                    let t = Instant::now();
                    match &*key {
                        Key::Rsa(k) => {
                            let mut sig = vec![0u8; k.public_modulus_len()];
                            k.sign(&signature::RSA_PKCS1_SHA256, &rng, b"benchmark", &mut sig)
                                .expect("sign");
                        }
                        Key::Ec(k) => {
                            k.sign(&rng, b"benchmark").expect("sign");
                        }
                    }
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
        format!("raw aws-lc-rs {} sign, {THREADS} threads", alg.label()),
        lat,
        start.elapsed(),
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// A running cluster of `nodes` on one fresh database, with holders registered at a bank.
struct Setup {
    bases: Vec<String>,
    servers: Vec<tokio::task::JoinHandle<Result<(), std::io::Error>>>,
    handles: Vec<actix_web::dev::ServerHandle>,
    bank_token: String,
    bank: Client,
    holders: Vec<(uuid::Uuid, Client)>,
    http: reqwest::Client,
    alg: Alg,
    dir: tempfile::TempDir,
    pg_db: Option<String>,
}

async fn setup(engine: Engine, alg: Alg, nodes: usize) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    settings.http.listen = "127.0.0.1:0".into();
    settings.http.workers = THREADS;
    settings.pki.ca_algorithm = "p256".into();
    settings.pki.user_key_algorithm = alg.setting().into();
    settings.signing.requests_per_institution_per_minute = 10_000_000;
    settings.auth.sign_in_per_certificate_per_minute = 1_000_000;
    settings.auth.sign_in_per_ip_per_minute = 1_000_000;
    settings.custody.activation_max_signatures = HASHES_PER_SAD as u32;
    if let Some(n) = std::env::var("FINCERT_BENCH_GROUP_COMMIT_MAX_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        settings.signing.group_commit_max_batch = n;
    }
    let mut pg_db = None;
    if engine == Engine::Postgres {
        let name = format!(
            "fincert_bench_{}_{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        );
        let admin = Database::connect(pg_admin()).await.expect("admin");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create database");
        admin.close().await.ok();
        let base = pg_admin()
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .expect("url");
        settings.database.url = format!("{base}/{name}");
        settings.database.max_connections = 20;
        pg_db = Some(name);
    }
    // The service runs on a runtime of its own, as `fincert serve` would: the load
    // generator's tasks must not queue ahead of the server's own (the group committer).
    let (bases, handles, servers, creds, certs) = server_runtime()
        .spawn(async move {
            let clock: SharedClock = Arc::new(SystemClock);
            let mut bases = Vec::new();
            let mut servers = Vec::new();
            let mut handles = Vec::new();
            let mut first = None;
            for _ in 0..nodes {
                let app = Application::build(settings.clone(), clock.clone())
                    .await
                    .expect("app");
                bases.push(format!("http://127.0.0.1:{}", app.port()));
                handles.push(app.handle());
                if first.is_none() {
                    first = Some((app.pki(), app.custody()));
                }
                servers.push(tokio::spawn(app.run_until_stopped()));
            }
            let (pki, custody) = first.expect("a node");
            let db = fincert::store::connect(&settings).await.expect("db");
            let creds = institution::register(
                &db,
                custody.kms().as_ref(),
                clock.now(),
                "Bench Bank",
                Sector::Bank,
            )
            .await
            .expect("institution");
            let mut certs = Vec::new();
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
                certs.push(cert.id);
            }
            db.close().await.ok();
            (bases, handles, servers, creds, certs)
        })
        .await
        .expect("server set-up");
    let api = Client::new(&bases[0]).expect("client");
    let bank = api
        .institution(&creds.institution.client_id, &creds.client_secret, None)
        .await
        .expect("token");
    let mut holders = Vec::new();
    for cert in certs {
        let user = api.sign_in(cert, PIN).await.expect("sign in");
        user.consent(&ConsentBody {
            institution_id: creds.institution.id.parse().expect("id"),
            certificate_id: cert,
        })
        .await
        .expect("consent");
        holders.push((cert, user));
    }
    Setup {
        bases,
        servers,
        handles,
        bank_token: bank.token().expect("token").to_owned(),
        bank,
        holders,
        // Idle connections are dropped by the client well before the server's keep-alive
        // closes them: a request sent on a connection the server is closing at that moment
        // fails with `IncompleteMessage` (seen once between the authorize and sign phases),
        // and a signHash cannot simply be retried (each hash is signed once).
        http: reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(1))
            .build()
            .expect("client"),
        alg,
        dir,
        pg_db,
    }
}

impl Setup {
    async fn stop(self) {
        for h in &self.handles {
            h.stop(false).await;
        }
        for s in self.servers {
            let _ = s.await;
        }
        if let Some(name) = self.pg_db
            && let Ok(admin) = Database::connect(pg_admin()).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
            admin.close().await.ok();
        }
    }

    /// Authorizes `sads` SADs of `HASHES_PER_SAD` fresh hashes for client `i` on node `on`.
    async fn authorize(
        &self,
        i: usize,
        on: usize,
        sads: usize,
        tag: String,
    ) -> Vec<(String, Vec<String>)> {
        let cert = self.holders[i % CLIENTS].0.to_string();
        let mut out = Vec::with_capacity(sads);
        for s in 0..sads {
            let hashes: Vec<String> = (0..HASHES_PER_SAD)
                .map(|j| {
                    STANDARD.encode(digest::digest(
                        &digest::SHA256,
                        format!("{tag}-{cert}-{s}-{j}").as_bytes(),
                    ))
                })
                .collect();
            let auth: Value = self
                .http
                .post(format!("{}/csc/v2/credentials/authorize", self.bases[on]))
                .bearer_auth(&self.bank_token)
                .json(&json!({"credentialID": cert, "numSignatures": HASHES_PER_SAD, "hashes": hashes,
                              "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "authData": [{"id": "PIN", "value": PIN}]}))
                .send()
                .await
                .expect("authorize")
                .json()
                .await
                .expect("json");
            out.push((auth["SAD"].as_str().expect("SAD").to_owned(), hashes));
        }
        out
    }

    /// Every client signs one hash per call on node `sign_on(i)` for the budget, from SADs
    /// authorized beforehand on node `auth_on(i)`; `pace` spaces each client's calls.
    async fn sign_hash(
        &self,
        name: String,
        expected_rate: f64,
        auth_on: impl Fn(usize) -> usize,
        sign_on: impl Fn(usize) -> usize,
        pace: Option<Duration>,
    ) -> Row {
        // Enough SADs for the budget at the expected rate (HTTP caps it well below the raw
        // P-256 rate), authorized by all clients at once before the clock starts.
        let expected = expected_rate.min(40_000.0);
        let clients = clients_for(self.alg);
        let per_client =
            (expected * BUDGET.as_secs_f64() * 1.2 / clients as f64) as usize + HASHES_PER_SAD;
        let sads = per_client.div_ceil(HASHES_PER_SAD).max(1);
        let tag = format!("{name}-{:?}", Instant::now());
        let work = futures_util::future::join_all(
            (0..clients).map(|i| self.authorize(i, auth_on(i), sads, format!("{tag}-{i}"))),
        )
        .await;
        let before = Snapshot::take(&self.http, &self.bases[sign_on(0)]).await;
        let start = Instant::now();
        let tasks: Vec<_> = work
            .into_iter()
            .enumerate()
            .map(|(i, sads)| {
                let (http, base, token, cert) = (
                    self.http.clone(),
                    self.bases[sign_on(i)].clone(),
                    self.bank_token.clone(),
                    self.holders[i % CLIENTS].0.to_string(),
                );
                let algo = self.alg.sign_algo();
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    // Clients are spread evenly over one pacing interval (no bursts).
                    let mut next = Instant::now()
                        + pace.map_or(Duration::ZERO, |p| p.mul_f64(i as f64 / clients as f64));
                    'outer: for (sad, hashes) in sads {
                        for h in hashes {
                            if start.elapsed() >= BUDGET {
                                break 'outer;
                            }
                            if let Some(p) = pace {
                                next += p;
                                tokio::time::sleep_until(next.into()).await;
                            }
                            let t = Instant::now();
                            let resp = http
                                .post(format!("{base}/csc/v2/signatures/signHash"))
                                .bearer_auth(&token)
                                .json(&json!({"credentialID": cert, "SAD": sad, "hashes": [h], "signAlgo": algo}))
                                .send()
                                .await
                                .expect("signHash");
                            assert!(resp.status().is_success(), "signHash {}", resp.status());
                            let _ = resp.bytes().await;
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
        let wall = start.elapsed().min(BUDGET).max(Duration::from_millis(1));
        let after = Snapshot::take(&self.http, &self.bases[sign_on(0)]).await;
        println!("{name}: {}", after.since(&before));
        row(name, lat, wall)
    }

    /// The floor under every HTTP call: `GET /healthz` from the same client, at the same
    /// concurrency, for a second. No signature, no database, no JSON.
    async fn http_floor(&self) -> Row {
        let start = Instant::now();
        let budget = Duration::from_secs(1);
        let tasks: Vec<_> = (0..clients_for(self.alg))
            .map(|_| {
                let (http, url) = (self.http.clone(), format!("{}/healthz", self.bases[0]));
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    while start.elapsed() < budget {
                        let t = Instant::now();
                        let resp = http.get(&url).send().await.expect("healthz");
                        assert!(resp.status().is_success(), "healthz {}", resp.status());
                        let _ = resp.bytes().await;
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
        row(
            "  HTTP floor: GET /healthz, same client and concurrency".into(),
            lat,
            start.elapsed(),
        )
    }

    /// The native round: an institution's request, then the holder's PIN approval. Prints
    /// the two calls' own latencies beside the round's.
    async fn native_round(&self, name: String) -> Row {
        let before = Snapshot::take(&self.http, &self.bases[0]).await;
        let start = Instant::now();
        let tasks: Vec<_> = self
            .holders
            .iter()
            .map(|(cert, user)| {
                let (bank, user, cert) = (self.bank.clone(), user.clone(), *cert);
                tokio::spawn(async move {
                    let (mut lat, mut created, mut approved) = (Vec::new(), Vec::new(), Vec::new());
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
                                &uuid::Uuid::new_v4().to_string(),
                            )
                            .await
                            .expect("request");
                        created.push(t.elapsed());
                        let a = Instant::now();
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
                        assert!(signed.request.result.is_some());
                        approved.push(a.elapsed());
                        lat.push(t.elapsed());
                    }
                    (lat, created, approved)
                })
            })
            .collect();
        let (mut lat, mut created, mut approved) = (Vec::new(), Vec::new(), Vec::new());
        for t in tasks {
            let (l, c, a) = t.await.expect("task");
            lat.extend(l);
            created.extend(c);
            approved.extend(a);
        }
        let wall = start.elapsed();
        let after = Snapshot::take(&self.http, &self.bases[0]).await;
        let (c, a) = (
            row(String::new(), created, wall),
            row(String::new(), approved, wall),
        );
        println!(
            "{name}: {}; request p50 {:.2} ms p99 {:.2} ms, approval p50 {:.2} ms p99 {:.2} ms",
            after.since(&before),
            c.p50.as_secs_f64() * 1e3,
            c.p99.as_secs_f64() * 1e3,
            a.p50.as_secs_f64() * 1e3,
            a.p99.as_secs_f64() * 1e3
        );
        row(name, lat, wall)
    }
}

/// What a row did to the machine and to one node's group commit: read before and after it.
struct Snapshot {
    /// (busy, total) jiffies of all CPUs (`/proc/stat`), when readable.
    cpu: Option<(u64, u64)>,
    /// (batches, changes, seconds) of the node's group commit (`/metrics`).
    commit: (f64, f64, f64),
}

impl Snapshot {
    async fn take(http: &reqwest::Client, base: &str) -> Self {
        let cpu = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            let fields: Vec<u64> = s
                .lines()
                .next()?
                .split_whitespace()
                .skip(1)
                .filter_map(|f| f.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal …
            let total: u64 = fields.iter().take(8).sum();
            let idle = fields.get(3)? + fields.get(4)?;
            Some((total - idle, total))
        });
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        Self {
            cpu,
            commit: (
                value("fincert_group_commit_batch_size_count "),
                value("fincert_group_commit_batch_size_sum "),
                value("fincert_audit_commit_seconds_sum "),
            ),
        }
    }

    /// One line: the CPUs' busy share, and the group commit's batches in between.
    fn since(&self, before: &Self) -> String {
        let cpu = match (before.cpu, self.cpu) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                format!(
                    "CPUs busy {:.0} %",
                    100.0 * (b1 - b0) as f64 / (t1 - t0) as f64
                )
            }
            _ => "CPUs busy: not readable".into(),
        };
        let batches = self.commit.0 - before.commit.0;
        let changes = self.commit.1 - before.commit.1;
        let seconds = self.commit.2 - before.commit.2;
        format!(
            "{cpu}; one node's group commit: {batches:.0} transactions, {:.1} changes and {:.2} ms each on average",
            changes / batches.max(1.0),
            1e3 * seconds / batches.max(1.0)
        )
    }
}

/// The durable-commit floor of the disk under `dir`: a 4 KiB append and `fdatasync`, the
/// least a committed transaction waits for (SQLite's WAL with `synchronous = FULL`, and
/// PostgreSQL's WAL flush, on the same disk here). No answer that waits for a commit can be
/// faster than this row's latencies.
fn durable_floor(dir: &std::path::Path) -> Row {
    use std::io::Write as _;
    let path = dir.join("fsync-floor");
    let mut file = std::fs::File::create(&path).expect("floor file");
    let block = [0x5au8; 4096];
    let mut lat = Vec::new();
    let start = Instant::now();
    for _ in 0..200 {
        let t = Instant::now();
        file.write_all(&block).expect("write");
        file.sync_data().expect("fdatasync");
        lat.push(t.elapsed());
    }
    let wall = start.elapsed();
    drop(file);
    let _ = std::fs::remove_file(&path);
    row(
        "  durable-commit floor: 4 KiB append + fdatasync on the same disk".into(),
        lat,
        wall,
    )
}

/// The runtime the service runs on (two workers, like the server's own).
fn server_runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(THREADS)
            .thread_name("fincert-server")
            .enable_all()
            .build()
            .expect("server runtime")
    })
}

async fn pg_available() -> bool {
    match Database::connect(pg_admin()).await {
        Ok(db) => {
            let ok = db.execute_unprepared("SELECT 1").await.is_ok();
            db.close().await.ok();
            ok
        }
        Err(_) => false,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut engines = vec![Engine::Sqlite];
    if pg_available().await {
        engines.push(Engine::Postgres);
    } else {
        println!("PostgreSQL not reachable at FINCERT_BENCH_PG_ADMIN_URL: SQLite rows only");
    }
    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    for engine in engines {
        let e = engine.label();
        for alg in [Alg::Rsa2048, Alg::P256] {
            // `FINCERT_BENCH_ONLY=postgres-p256` (or sqlite-rsa2048 …) runs one block.
            if let Ok(only) = std::env::var("FINCERT_BENCH_ONLY")
                && only != format!("{e}-{}", alg.setting())
            {
                continue;
            }
            let raw = raw_rate(alg, Duration::from_secs(2));
            let s = setup(engine, alg, 1).await;
            let max = s
                .sign_hash(
                    format!("CSC signHash {} {e}, 1 node", alg.label()),
                    raw.per_sec,
                    |_| 0,
                    |_| 0,
                    None,
                )
                .await;
            let half = max.per_sec / 2.0;
            let pace = Duration::from_secs_f64(clients_for(alg) as f64 / half.max(1.0));
            let paced = s
                .sign_hash(
                    format!("  latency at half load ({half:.0}/s)"),
                    half,
                    |_| 0,
                    |_| 0,
                    Some(pace),
                )
                .await;
            let native = if alg == Alg::Rsa2048 {
                Some(
                    s.native_round(format!("request + PIN approval round {} {e}", alg.label()))
                        .await,
                )
            } else {
                None
            };
            let floor = s.http_floor().await;
            let durable = durable_floor(s.dir.path());
            s.stop().await;
            let raw_after = raw_rate(alg, Duration::from_secs(2));
            let raw_mean = (raw.per_sec + raw_after.per_sec) / 2.0;
            // Both share the two cores: a signature over HTTP costs at least one raw signature
            // plus one bare HTTP round, so signHash/raw cannot pass floor / (raw + floor).
            let ceiling = floor.per_sec / (raw_mean + floor.per_sec);
            println!(
                "{} {e}: HTTP floor {:.0}/s: signHash/raw cannot pass {ceiling:.2} on this machine",
                alg.label(),
                floor.per_sec
            );
            if alg == Alg::Rsa2048 {
                ratios.push(format!(
                    "ratio rsa2048 signHash/raw {e}: {:.2}",
                    max.per_sec / raw_mean
                ));
            }
            let mut two = None;
            if engine == Engine::Postgres {
                let s = setup(engine, alg, 2).await;
                two = Some(
                    s.sign_hash(
                        format!(
                            "CSC signHash {} {e}, 2 nodes (authorized on one, signed on the other)",
                            alg.label()
                        ),
                        max.per_sec,
                        |i| i % 2,
                        |i| (i + 1) % 2,
                        None,
                    )
                    .await,
                );
                s.stop().await;
            }
            let ratio = max.per_sec / raw_mean;
            println!(
                "{} {e}: signHash {:.0}/s, raw {:.0}/s (before {:.0}, after {:.0}), ratio {ratio:.2}",
                alg.label(),
                max.per_sec,
                raw_mean,
                raw.per_sec,
                raw_after.per_sec
            );
            rows.push(raw);
            rows.push(max);
            rows.push(paced);
            rows.push(floor);
            rows.push(durable);
            rows.extend(two);
            rows.extend(native);
            rows.push(raw_after);
        }
    }
    println!(
        "\nsigning load: {} / {} concurrent signHash clients (RSA-2048 / P-256), {CLIENTS} for the native round, local KMS, {THREADS} server workers per node, {}s per row, {HASHES_PER_SAD} hashes per SAD\n",
        clients_for(Alg::Rsa2048),
        clients_for(Alg::P256),
        BUDGET.as_secs()
    );
    println!("| scenario | ops | ops/s | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {:.2} ms | {:.2} ms |",
            r.name,
            r.ops,
            r.per_sec,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3
        );
    }
    println!();
    for r in ratios {
        println!("{r}");
    }
}
