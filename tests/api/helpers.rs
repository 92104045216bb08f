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
        s.data_dir = self.data_dir.path().to_path_buf();
        s.database.url = self.url.clone();
        s.database.connect_timeout_secs = 3;
        s.database.max_connections = 5;
        s.http.listen = "127.0.0.1:0".into();
        s.http.workers = 2;
        s.http.shutdown_timeout_secs = 5;
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
}

/// The instant every test app's clock starts at.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
        .expect("valid")
        .with_timezone(&Utc)
}

pub async fn spawn_app(engine: Engine) -> TestApp {
    let test_db = TestDb::new(engine).await;
    spawn_app_on(test_db).await
}

pub async fn spawn_app_on(test_db: TestDb) -> TestApp {
    let settings = test_db.settings();
    let clock = FixedClock::at(t0());
    let app = Application::build(settings.clone(), Arc::new(clock.clone()))
        .await
        .expect("app builds");
    let port = app.port();
    let handle = app.handle();
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
