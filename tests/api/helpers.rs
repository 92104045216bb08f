//! Spawning the app on a fresh database, and typed helpers to talk to it.
//!
//! PostgreSQL databases are created per test as `<prefix>_<n>` on the server named by
//! `TEST_FINCERT_PG_ADMIN_URL` (default: the local server, trust auth) and dropped when the test
//! ends; the test command also drops every database with the run's prefix when it exits.

#![allow(dead_code)]

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
};

use chrono::{DateTime, Utc};
use fincert::{
    clock::FixedClock,
    config::{Engine, Settings},
    startup::Application,
    store,
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// Runs an async test body once per engine: `both_engines!(name)` makes `name::sqlite` and
/// `name::postgres` from `async fn name(engine: Engine)`.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(fincert::config::Engine::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(fincert::config::Engine::Postgres).await
            }
        }
    )*};
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn admin_url() -> String {
    std::env::var("TEST_FINCERT_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn pg_base_url() -> String {
    let admin = admin_url();
    admin
        .rsplit_once('/')
        .map(|(base, _)| base.to_string())
        .unwrap_or(admin)
}

/// Prefix of every database this test run creates.
pub fn db_prefix() -> String {
    std::env::var("TEST_FINCERT_DB_PREFIX")
        .unwrap_or_else(|_| format!("fincert_test_{}", std::process::id()))
}

/// A fresh, empty database; dropped (PostgreSQL) or deleted (SQLite) with this value.
pub struct TestDb {
    pub engine: Engine,
    pub url: String,
    pub data_dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(engine: Engine) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        match engine {
            Engine::Sqlite => {
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.path().join("test.sqlite3").display()
                );
                Self {
                    engine,
                    url,
                    data_dir,
                    pg_name: None,
                }
            }
            Engine::Postgres => {
                let n = COUNTER.fetch_add(1, Ordering::SeqCst);
                let name = format!(
                    "{}_{n}_{}",
                    db_prefix(),
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                );
                let admin = Database::connect(admin_url()).await.expect(
                    "PostgreSQL must be reachable at TEST_FINCERT_PG_ADMIN_URL (or 127.0.0.1:5432)",
                );
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let url = format!("{}/{name}", pg_base_url());
                Self {
                    engine,
                    url,
                    data_dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// Settings for an app on this database: loopback, port 0, one worker.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::default();
        // Test CAs use P-256 keys: RSA key generation costs 70 ms (median) on these machines.
        s.pki.ca_algorithm = "p256".into();
        s.data_dir = self.data_dir.path().to_path_buf();
        s.database.url = self.url.clone();
        s.database.connect_timeout_secs = 3;
        s.database.max_connections = 5;
        s.http.listen = "127.0.0.1:0".into();
        s.http.workers = 2;
        s.http.shutdown_timeout_secs = 5;
        // Test webhooks go to a receiver on loopback over plain HTTP.
        s.signing.allow_http_webhooks = true;
        s
    }

    /// Drops the PostgreSQL database now, cutting every connection to it.
    pub async fn drop_now(&mut self) {
        if let Some(name) = self.pg_name.take() {
            drop_pg(&name).await;
        }
    }
}

async fn drop_pg(name: &str) {
    if let Ok(admin) = Database::connect(admin_url()).await {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
        admin.close().await.ok();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop runs outside async context: use a thread with its own small runtime.
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_pg(&name));
                }
            })
            .join();
        }
    }
}

/// A running app on a fresh database, with a fixed clock.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    /// A separate connection to the app's database, for arranging and inspecting rows.
    pub db: DatabaseConnection,
    pub clock: FixedClock,
    pub settings: Settings,
    pub test_db: TestDb,
    handle: actix_web::dev::ServerHandle,
    /// The app's custody service (same KMS and activations as the server).
    pub custody: Arc<fincert::custody::Custody>,
    /// The app's certificate authority.
    pub pki: Arc<fincert::pki::Pki>,
    /// The development message outbox (one-time codes land here).
    pub outbox: Arc<fincert::auth::messaging::DevOutbox>,
    /// The app's remote-signing service (tests run webhook deliveries through it).
    pub signing: Arc<fincert::signing::Signing>,
}

/// The instant every test app's clock starts at: now, in whole seconds (outside verifiers such
/// as openssl check OCSP freshness against the real clock). Tests move it with `advance`.
pub fn t0() -> DateTime<Utc> {
    let now = fincert::clock::Clock::now(&fincert::clock::SystemClock);
    DateTime::from_timestamp(now.timestamp(), 0).expect("valid")
}

pub async fn spawn_app(engine: Engine) -> TestApp {
    let test_db = TestDb::new(engine).await;
    spawn_app_on(test_db).await
}

pub async fn spawn_app_on(test_db: TestDb) -> TestApp {
    let settings = test_db.settings();
    spawn_app_with(test_db, settings).await
}

pub async fn spawn_app_with(test_db: TestDb, settings: Settings) -> TestApp {
    let clock = FixedClock::at(t0());
    let app = Application::build(settings.clone(), Arc::new(clock.clone()))
        .await
        .expect("app builds");
    let port = app.port();
    let handle = app.handle();
    let custody = app.custody();
    let pki = app.pki();
    let outbox = app.outbox();
    let signing = app.signing();
    tokio::spawn(app.run_until_stopped());
    let db = store::connect(&settings).await.expect("test connection");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("client"),
        db,
        clock,
        settings,
        test_db,
        handle,
        custody,
        pki,
        outbox,
        signing,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn request(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Stops the server gracefully.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }

    /// Kills the node at once, wiping what it held in memory (activated keys, caches).
    pub async fn kill(&self) {
        self.handle.stop(false).await;
        self.custody.activations().clear();
    }
}

/// Asserts a problem+json response with `status` and `code`; returns the body.
pub async fn assert_problem(resp: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(ctype, "application/problem+json");
    let body: serde_json::Value = resp.json().await.expect("problem body is JSON");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], format!("urn:fincert:problem:{code}"));
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}

/// The `fincert` binary built for this test run.
pub fn fincert_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fincert"))
}

/// Runs the binary with only the given `FINCERT_*` variables; returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(fincert_bin());
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("FINCERT_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("FINCERT_LOG_LEVEL", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run fincert");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// KMS: moto as the AWS KMS endpoint, and the backend matrix.

/// Which KMS backend a custody test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    Aws,
}

/// Runs an async test body on every engine × KMS backend: `custody_matrix!(name)` makes
/// `name::{sqlite_local, postgres_local, sqlite_aws, postgres_aws}` from
/// `async fn name(engine: Engine, backend: Backend)`.
#[macro_export]
macro_rules! custody_matrix {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use fincert::config::Engine;
            use $crate::helpers::Backend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_local() { super::$name(Engine::Sqlite, Backend::Local).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_local() { super::$name(Engine::Postgres, Backend::Local).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_aws() { super::$name(Engine::Sqlite, Backend::Aws).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_aws() { super::$name(Engine::Postgres, Backend::Aws).await }
        }
    )*};
}

/// The moto server the test command started.
pub fn moto_url() -> String {
    std::env::var("TEST_FINCERT_MOTO_URL").expect(
        "TEST_FINCERT_MOTO_URL is unset: run the suite with scripts/test.sh, which starts moto",
    )
}

/// A raw aws-sdk-kms client for moto (to create keys the way an operator would).
pub async fn moto_client(url: &str) -> aws_sdk_kms::Client {
    use aws_config::{BehaviorVersion, Region};
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("ap-northeast-2"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await;
    aws_sdk_kms::Client::new(&conf)
}

/// Creates a symmetric key on moto; returns its id.
pub async fn moto_symmetric_key(client: &aws_sdk_kms::Client) -> String {
    client
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .unwrap()
        .key_id
}

/// KMS settings for fresh keys (wrapping + HMAC) on the moto at `url`.
pub async fn moto_kms_settings(url: &str) -> fincert::config::KmsSettings {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let client = moto_client(url).await;
    let key = moto_symmetric_key(&client).await;
    let mac = client
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .expect("CreateKey HMAC_256")
        .key_metadata
        .unwrap()
        .key_id;
    let mut s = Settings::default().kms;
    s.backend = fincert::config::KmsBackend::Aws;
    s.aws_endpoint_url = url.to_owned();
    s.aws_key_id = key;
    s.aws_mac_key_id = mac;
    s.aws_access_key_id = "test".into();
    s.aws_secret_access_key = "test".into();
    s.aws_timeout_ms = 1500;
    s
}

/// A moto server of one test's own (so the test can stop it); killed on drop.
pub struct PrivateMoto {
    child: std::process::Child,
    pub url: String,
}

impl PrivateMoto {
    pub async fn start() -> Self {
        let bin = std::env::var("TEST_FINCERT_MOTO_BIN")
            .expect("TEST_FINCERT_MOTO_BIN is unset: run the suite with scripts/test.sh");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto_server");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "moto did not start");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Self { child, url }
    }

    /// Stops the server now (the "KMS goes down" moment).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Settings for an app on `test_db` with the given KMS backend (fresh moto keys for AWS).
pub async fn settings_for(test_db: &TestDb, backend: Backend) -> Settings {
    let mut s = test_db.settings();
    if backend == Backend::Aws {
        s.kms = moto_kms_settings(&moto_url()).await;
    }
    s
}

/// Spawns an app on a fresh database with the given KMS backend.
pub async fn spawn_custody_app(engine: Engine, backend: Backend) -> TestApp {
    let test_db = TestDb::new(engine).await;
    let settings = settings_for(&test_db, backend).await;
    spawn_app_with(test_db, settings).await
}

// ---------------------------------------------------------------------------------------------
// Independent verification with the openssl command line.

/// Verifies `signature` over `message` with openssl; `scheme` picks the padding.
pub fn openssl_verify(
    scheme: fincert::custody::keys::SignatureScheme,
    spki_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    use fincert::custody::keys::SignatureScheme as S;
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("pub.der"), spki_der).unwrap();
    std::fs::write(p("msg"), message).unwrap();
    std::fs::write(p("sig"), signature).unwrap();
    let converted = std::process::Command::new("openssl")
        .args(["pkey", "-pubin", "-inform", "DER", "-in"])
        .arg(p("pub.der"))
        .arg("-out")
        .arg(p("pub.pem"))
        .status()
        .expect("openssl");
    assert!(converted.success(), "openssl reads the public key");
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["dgst", "-sha256", "-verify"])
        .arg(p("pub.pem"))
        .arg("-signature")
        .arg(p("sig"));
    if scheme == S::RsaPssSha256 {
        cmd.args([
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
        ]);
    }
    let out = cmd.arg(p("msg")).output().expect("openssl dgst");
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

// ---------------------------------------------------------------------------------------------
// A second node: another `fincert serve` on the same database, KMS and clock.

/// Another node of the same cluster (same database, KMS keyring and clock as `app`), in this
/// process: its activations, caches and group committer are its own.
pub struct Node {
    pub address: String,
    handle: actix_web::dev::ServerHandle,
    pub custody: Arc<fincert::custody::Custody>,
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Kills the node: the server stops at once and everything in its memory (activated
    /// keys, caches) is wiped, as when a pod dies.
    pub async fn kill(&self) {
        self.handle.stop(false).await;
        self.custody.activations().clear();
    }
}

/// Starts another node beside `app`.
pub async fn spawn_node(app: &TestApp) -> Node {
    let node = Application::build(app.settings.clone(), Arc::new(app.clock.clone()))
        .await
        .expect("second node builds");
    let port = node.port();
    let handle = node.handle();
    let custody = node.custody();
    tokio::spawn(node.run_until_stopped());
    Node {
        address: format!("http://127.0.0.1:{port}"),
        handle,
        custody,
    }
}

/// Another node as a separate `fincert serve` process on the same database and keyring: it
/// shares nothing in memory with this process (not even statics), so what it learns of the
/// cluster it learns through the database. Killed on drop.
pub struct ProcessNode {
    child: std::process::Child,
    pub address: String,
}

impl ProcessNode {
    pub async fn start(app: &TestApp, extra: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = std::process::Command::new(fincert_bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("FINCERT_") {
                cmd.env_remove(k);
            }
        }
        let s = &app.settings;
        cmd.arg("serve")
            .env("FINCERT_LOG_LEVEL", "warn")
            .env("FINCERT_DATA_DIR", &s.data_dir)
            .env("FINCERT_DATABASE_URL", &s.database.url)
            .env("FINCERT_DATABASE_MIGRATE_ON_START", "false")
            .env("FINCERT_HTTP_LISTEN", format!("127.0.0.1:{port}"))
            .env("FINCERT_HTTP_WORKERS", "2")
            .env("FINCERT_PKI_CA_ALGORITHM", &s.pki.ca_algorithm)
            .env("FINCERT_PKI_AUTO_INIT", "false")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start fincert serve");
        let address = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Ok(r) = app.client.get(format!("{address}/healthz")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "node process did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Self { child, address }
    }
}

impl Drop for ProcessNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
