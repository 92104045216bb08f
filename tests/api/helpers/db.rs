//! A fresh, empty database per test: a SQLite file in a temporary directory, or a PostgreSQL
//! database created as `<prefix>_<n>_<random>` on the server named by
//! `TEST_FINCERT_PG_ADMIN_URL` (default: the local server, trust auth) and dropped when the test
//! ends; the test command also drops every database with the run's prefix when it exits.
//!
//! Never point it at a database that holds anything: it creates and drops databases by name.

use std::sync::atomic::{AtomicU32, Ordering};

use fincert::config::{Engine, Settings};
use sea_orm::{ConnectionTrait, Database};

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
