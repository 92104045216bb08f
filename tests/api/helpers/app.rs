//! `TestApp`: the service running on a fresh database with a fixed clock, on a loopback port of
//! its own, with handles on its internals (custody, CA, outbox, signing) for arranging state and
//! a typed client (`fincert_client`) for talking to it as a customer would.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use fincert::{
    clock::FixedClock,
    config::{Engine, Settings},
    startup::Application,
    store,
};
use sea_orm::DatabaseConnection;

use super::db::TestDb;

/// A running app on a fresh database, with a fixed clock.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// The metrics listener's port, when `http.metrics_listen` is set.
    pub metrics_port: Option<u16>,
    pub client: reqwest::Client,
    /// The typed client for this app's base URL, signed in as nobody (`sign_in`,
    /// `institution` and `with_token` give signed-in copies).
    pub api: fincert_client::Client,
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
    /// The app's audit checkpoint signer (tests run it at once instead of waiting a minute).
    pub checkpoints: Arc<fincert::checkpoints::Checkpoints>,
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

/// Spawns an app on a fresh database with the test settings changed by `tune` (limits,
/// adapters, listen address…).
pub async fn spawn_app_tuned(engine: Engine, tune: impl FnOnce(&mut Settings)) -> TestApp {
    let test_db = TestDb::new(engine).await;
    let mut settings = test_db.settings();
    tune(&mut settings);
    spawn_app_with(test_db, settings).await
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
    let metrics_port = app.metrics_port();
    let handle = app.handle();
    let custody = app.custody();
    let pki = app.pki();
    let outbox = app.outbox();
    let signing = app.signing();
    let checkpoints = app.checkpoints();
    tokio::spawn(app.run_until_stopped());
    let db = store::connect(&settings).await.expect("test connection");
    let address = format!("http://127.0.0.1:{port}");
    TestApp {
        api: fincert_client::Client::new(&address).expect("typed client"),
        address,
        port,
        metrics_port,
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
        checkpoints,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// An anonymous GET (`http::get` sends one with a bearer token).
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
