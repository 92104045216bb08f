//! Revocation at scale: the OCSP responder over HTTP, revocation and CRL regeneration with a
//! large population of certificates.
//!
//! `cargo bench --bench pki_load` starts the service in-process (local KMS, its own two-worker
//! runtime, as `fincert serve`) on the embedded SQLite and, when the PostgreSQL at
//! `FINCERT_BENCH_PG_ADMIN_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! answers, on a fresh PostgreSQL database too (dropped at the end). Each setup inserts
//! `FINCERT_BENCH_CERTS` certificate rows (default 100,000) directly through the store, a
//! tenth of them revoked, and measures:
//!
//! - **OCSP first answers**: the first request for each of `FINCERT_BENCH_WARM` serials
//!   (default 10,000; nine good to one revoked), each signed and stored (a status change or the
//!   background refresh does this ahead of time in service);
//! - **OCSP pre-signed**: RFC 5019 GETs for the same mix from 64 concurrent clients for five
//!   seconds — the steady state, served from the node's OCSP cache (`pki::ocsp_cache`) once
//!   each serial has been read; every answer's status is checked against the row it is for;
//!   then the same paced at the target rate (10,000 a second) and 10 % above it, for the
//!   latency at that rate and the headroom;
//! - **revoke**: `Pki::revoke` of 200 more certificates one after another at that size;
//! - **CRL regeneration**: signing the CRL of every revoked certificate (a tenth of the
//!   population plus the 200), three times.
//!
//! It prints a table, then one line per figure and engine against its target, e.g.
//! `ratio ocsp_per_s/target sqlite: 1.20` (above 1 is better for rates, below 1 for times).
//! Clients, server and database share this machine's cores.

// Test and benchmark code may unwrap, expect and panic: the `[workspace.lints]` denials are for
// the library and the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

mod common;

use common::{Row, pg_admin, row};

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use aws_lc_rs::{digest, rand::SecureRandom};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use der::{Decode, Encode};
use fincert::{
    clock::{Clock, SharedClock, SystemClock},
    config::{Engine, Settings},
    custody::OwnerId,
    domain::{
        cert_kind::{CertKind, Storage},
        cert_status::CertStatus,
        revocation_reason::CrlReason,
        usage::Usage,
    },
    pki::{Pki, lifecycle::RevocationReason},
    startup::Application,
    store,
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, TransactionTrait};
use x509_ocsp::{BasicOcspResponse, CertId, OcspRequest, OcspResponse, Request, TbsRequest};

/// The server binary's allocator, so the benchmark measures what `fincert serve` runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const THREADS: usize = 2;
const CLIENTS: usize = 64;
const BUDGET: Duration = Duration::from_secs(5);
const REVOKES: usize = 200;
const OWNERS: usize = 100;

// Targets of issue 15.
const TARGET_OCSP_PER_S: f64 = 10_000.0;
const TARGET_OCSP_P99: Duration = Duration::from_millis(10);
const TARGET_REVOKE: Duration = Duration::from_millis(10);
const TARGET_CRL: Duration = Duration::from_secs(1);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn label(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    }
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

/// One inserted certificate: its serial, id, owner, and whether it is revoked.
#[derive(Clone)]
struct Cert {
    serial: String,
    id: uuid::Uuid,
    owner: OwnerId,
    revoked: bool,
}

struct Setup {
    base: String,
    handle: actix_web::dev::ServerHandle,
    server: tokio::task::JoinHandle<Result<(), std::io::Error>>,
    pki: Arc<Pki>,
    db: DatabaseConnection,
    certs: Vec<Cert>,
    issuing: x509_cert::Certificate,
    _dir: tempfile::TempDir,
    pg_db: Option<String>,
}

fn random_serial() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .unwrap();
    bytes[0] = (bytes[0] & 0x7f).max(1);
    hex::encode(bytes)
}

async fn setup(engine: Engine, n: usize) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    settings.http.listen = "127.0.0.1:0".into();
    settings.http.workers = THREADS;
    settings.pki.ca_algorithm =
        std::env::var("FINCERT_BENCH_CA_ALG").unwrap_or_else(|_| "rsa2048".into());
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
    let s = settings.clone();
    let (base, handle, server, pki) = server_runtime()
        .spawn(async move {
            let clock: SharedClock = Arc::new(SystemClock);
            let app = Application::build(s, clock).await.expect("app");
            let base = format!("http://127.0.0.1:{}", app.port());
            let handle = app.handle();
            let pki = app.pki();
            let server = tokio::spawn(app.run_until_stopped());
            (base, handle, server, pki)
        })
        .await
        .expect("server set-up");
    let db = store::connect(&settings).await.expect("db");
    let now = SystemClock.now();
    let mut certs = Vec::with_capacity(n);
    let started = Instant::now();
    for chunk in 0..n.div_ceil(1000) {
        let txn = db.begin().await.expect("txn");
        for i in chunk * 1000..((chunk + 1) * 1000).min(n) {
            let revoked = i % 10 == 0;
            let cert = Cert {
                serial: random_serial(),
                id: uuid::Uuid::new_v4(),
                owner: OwnerId::parse(&format!("bench-owner-{}", i % OWNERS)).expect("owner"),
                revoked,
            };
            store::pki::insert_certificate(
                &txn,
                store::pki::CertificateRow {
                    id: cert.id,
                    owner_id: cert.owner.clone(),
                    kind: CertKind::Financial,
                    usage: Usage::General,
                    storage: Storage::Device,
                    status: if revoked {
                        CertStatus::Revoked
                    } else {
                        CertStatus::Active
                    },
                    serial_hex: cert.serial.clone(),
                    subject: format!("bench {i}"),
                    not_before: now,
                    not_after: now + chrono::Duration::days(365),
                    issuer_id: "issuing".into(),
                    custody_key_id: None,
                    // The responder never reads the certificate itself.
                    certificate_der: vec![0x30, 0x00],
                    revoked_at: revoked.then_some(now),
                    revocation_reason: revoked.then_some(CrlReason::KeyCompromise),
                    replaces_id: None,
                    renewed_by_id: None,
                    created_at: now,
                    updated_at: now,
                    foreign_chain: None,
                },
            )
            .await
            .expect("insert");
            certs.push(cert);
        }
        txn.commit().await.expect("commit");
    }
    println!(
        "{}: {n} certificates inserted in {:.1} s",
        label(engine),
        started.elapsed().as_secs_f64()
    );
    let issuing = x509_cert::Certificate::from_der(pki.ca_certificate("issuing").expect("issuing"))
        .expect("issuing certificate");
    Setup {
        base,
        handle,
        server,
        pki,
        db,
        certs,
        issuing,
        _dir: dir,
        pg_db,
    }
}

/// A DER OCSP request (SHA-1 CertID, no nonce: the RFC 5019 profile) for one serial.
fn ocsp_request(issuer: &x509_cert::Certificate, serial: &str) -> Vec<u8> {
    let name = issuer.tbs_certificate.subject.to_der().unwrap();
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let sha1 = |d: &[u8]| {
        der::asn1::OctetString::new(
            digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, d)
                .as_ref()
                .to_vec(),
        )
        .unwrap()
    };
    let id = CertId {
        hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ID_SHA_1,
            parameters: Some(der::asn1::Null.into()),
        },
        issuer_name_hash: sha1(&name),
        issuer_key_hash: sha1(key),
        serial_number: x509_cert::serial_number::SerialNumber::new(&hex::decode(serial).unwrap())
            .unwrap(),
    };
    OcspRequest {
        tbs_request: TbsRequest {
            version: x509_ocsp::Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id,
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
    .unwrap()
}

/// Whether an answer says "revoked" (panics on anything but a one-certificate success).
fn says_revoked(der: &[u8]) -> bool {
    let resp = OcspResponse::from_der(der).expect("an OCSP response");
    let bytes = resp.response_bytes.expect("a successful answer");
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).expect("basic");
    matches!(
        basic.tbs_response_data.responses[0].cert_status,
        x509_ocsp::CertStatus::Revoked(_)
    )
}

impl Setup {
    /// The working set: `warm` certificates, one revoked to nine good, with their GET paths.
    fn mix(&self, warm: usize) -> Vec<(String, bool)> {
        let revoked = self.certs.iter().filter(|c| c.revoked);
        let good = self.certs.iter().filter(|c| !c.revoked);
        let mut mix: Vec<&Cert> = revoked.take(warm / 10).collect();
        mix.extend(good.take(warm - mix.len()));
        mix.iter()
            .map(|c| {
                let req = URL_SAFE_NO_PAD.encode(ocsp_request(&self.issuing, &c.serial));
                (format!("{}/pki/ocsp/{req}", self.base), c.revoked)
            })
            .collect()
    }

    /// GETs over `mix` from `CLIENTS` clients: once each (`budget` None) or round and round
    /// for `budget`, as fast as they are answered or, with `rate`, paced to that many a
    /// second in all (each client's calls spread evenly over one interval: no bursts). Every
    /// answer is checked against the status of its certificate.
    async fn ocsp(
        &self,
        name: String,
        mix: &[(String, bool)],
        budget: Option<Duration>,
        rate: Option<f64>,
    ) -> Row {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .unwrap();
        let mix = Arc::new(mix.to_vec());
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let pace = rate.map(|r| Duration::from_secs_f64(CLIENTS as f64 / r.max(1.0)));
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (http, mix, next) = (http.clone(), mix.clone(), next.clone());
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut due = Instant::now()
                        + pace.map_or(Duration::ZERO, |p| p.mul_f64(c as f64 / CLIENTS as f64));
                    loop {
                        if let Some(p) = pace {
                            tokio::time::sleep_until(due.into()).await;
                            due += p;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        match budget {
                            None if i >= mix.len() => break,
                            Some(b) if started.elapsed() >= b => break,
                            _ => {}
                        }
                        let (url, revoked) = &mix[i % mix.len()];
                        let t = Instant::now();
                        let resp = http.get(url).send().await.expect("OCSP GET");
                        assert_eq!(resp.status(), 200);
                        let der = resp.bytes().await.expect("body");
                        lat.push(t.elapsed());
                        assert_eq!(says_revoked(&der), *revoked, "{url}");
                    }
                    lat
                })
            })
            .collect();
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.expect("client"));
        }
        row(name, lat, started.elapsed())
    }

    /// Revokes `REVOKES` good certificates (not in the OCSP working set) one after another.
    async fn revoke(&self, name: String) -> Row {
        let victims: Vec<_> = self
            .certs
            .iter()
            .rev()
            .filter(|c| !c.revoked)
            .take(REVOKES)
            .cloned()
            .collect();
        let mut lat = Vec::new();
        let started = Instant::now();
        for c in victims {
            let (pki, db) = (self.pki.clone(), self.db.clone());
            let t = Instant::now();
            server_runtime()
                .spawn(async move {
                    pki.revoke(&db, &c.owner, c.id, RevocationReason::KeyCompromise)
                        .await
                        .expect("revoke")
                })
                .await
                .expect("revoke task");
            lat.push(t.elapsed());
        }
        row(name, lat, started.elapsed())
    }

    /// Signs the CRL three times; the row's latencies are the three runs.
    async fn crl(&self, name: String) -> (Row, usize) {
        let mut lat = Vec::new();
        let mut size = 0;
        let started = Instant::now();
        for _ in 0..3 {
            let (pki, db) = (self.pki.clone(), self.db.clone());
            let t = Instant::now();
            let der = server_runtime()
                .spawn(async move { pki.publish_crl(&db).await.expect("CRL") })
                .await
                .expect("CRL task");
            lat.push(t.elapsed());
            size = der.len();
        }
        (row(name, lat, started.elapsed()), size)
    }

    async fn stop(self) {
        self.handle.stop(true).await;
        self.server.abort();
        self.db.close().await.ok();
        if let Some(name) = self.pg_db {
            let admin = Database::connect(pg_admin()).await.expect("admin");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .ok();
            admin.close().await.ok();
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_usize("FINCERT_BENCH_CERTS", 100_000).max(100);
    let warm = env_usize("FINCERT_BENCH_WARM", 10_000).clamp(10, n);
    let mut engines = vec![Engine::Sqlite];
    if pg_available().await {
        engines.push(Engine::Postgres);
    } else {
        println!("PostgreSQL not reachable at FINCERT_BENCH_PG_ADMIN_URL: SQLite rows only");
    }
    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    for engine in engines {
        let e = label(engine);
        let s = setup(engine, n).await;
        let revoked = s.certs.iter().filter(|c| c.revoked).count();
        let mix = s.mix(warm);
        let first = s
            .ocsp(
                format!("OCSP first answers (signed, stored) {e}, {warm} serials"),
                &mix,
                None,
                None,
            )
            .await;
        let hot = s
            .ocsp(
                format!("OCSP pre-signed GET {e}, {n} certs / {revoked} revoked"),
                &mix,
                Some(BUDGET),
                None,
            )
            .await;
        // The target is a rate and a latency together: the latency at that rate (the
        // saturated row's p99 is its 64 clients queueing, Little's law, not the responder);
        // and 10 % above it, for the headroom.
        let at_target = s
            .ocsp(
                format!("  OCSP pre-signed GET {e} paced at {TARGET_OCSP_PER_S:.0}/s"),
                &mix,
                Some(BUDGET),
                Some(TARGET_OCSP_PER_S),
            )
            .await;
        let offered = TARGET_OCSP_PER_S * 1.1;
        let above = s
            .ocsp(
                format!("  OCSP pre-signed GET {e} paced at {offered:.0}/s (target + 10 %)"),
                &mix,
                Some(BUDGET),
                Some(offered),
            )
            .await;
        let revoke = s
            .revoke(format!("revoke {e}, at {n} certs / {revoked} revoked"))
            .await;
        let (crl, size) = s
            .crl(format!(
                "CRL regeneration {e}, {} entries",
                revoked + REVOKES
            ))
            .await;
        println!("{e}: CRL of {} entries is {size} bytes", revoked + REVOKES);
        ratios.push(format!(
            "ratio ocsp_per_s/target {e}: {:.2}",
            hot.per_sec / TARGET_OCSP_PER_S
        ));
        ratios.push(format!(
            "ratio ocsp_p99/target {e}: {:.2}",
            hot.p99.as_secs_f64() / TARGET_OCSP_P99.as_secs_f64()
        ));
        ratios.push(format!(
            "ratio ocsp_p99_above_target_rate/target {e}: {:.2}",
            above.p99.as_secs_f64() / TARGET_OCSP_P99.as_secs_f64()
        ));
        ratios.push(format!(
            "ratio ocsp_p99_at_target_rate/target {e}: {:.2}",
            at_target.p99.as_secs_f64() / TARGET_OCSP_P99.as_secs_f64()
        ));
        ratios.push(format!(
            "ratio revoke_p99/target {e}: {:.2}",
            revoke.p99.as_secs_f64() / TARGET_REVOKE.as_secs_f64()
        ));
        ratios.push(format!(
            "ratio crl_max/target {e}: {:.2}",
            crl.p99.as_secs_f64() / TARGET_CRL.as_secs_f64()
        ));
        ratios.push(format!(
            "ratio ocsp_presigned/first {e}: {:.2}",
            hot.per_sec / first.per_sec.max(f64::MIN_POSITIVE)
        ));
        rows.extend([first, hot, at_target, above, revoke, crl]);
        s.stop().await;
    }
    println!();
    println!("| row | ops | per s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {} | {} |",
            r.name,
            r.ops,
            r.per_sec,
            ms(r.p50),
            ms(r.p99)
        );
    }
    println!();
    println!(
        "targets: OCSP >= {TARGET_OCSP_PER_S:.0}/s per node, p99 < {} ms; revoke < {} ms; CRL of 10,000 entries < {} ms",
        TARGET_OCSP_P99.as_millis(),
        TARGET_REVOKE.as_millis(),
        TARGET_CRL.as_millis()
    );
    for r in ratios {
        println!("{r}");
    }
}
