//! More nodes of one cluster: another `fincert serve` on the same database, KMS keyring and
//! clock as a `TestApp`, either in this process (`spawn_node`) or as a separate process
//! (`ProcessNode`) that shares nothing in memory with the tests.

use std::sync::Arc;

use fincert::startup::Application;

use super::{app::TestApp, cli::fincert_bin};

/// Another node of the same cluster (same database, KMS keyring and clock as `app`), in this
/// process: its activations, caches and group committer are its own.
pub struct Node {
    pub address: String,
    handle: actix_web::dev::ServerHandle,
    pub custody: Arc<fincert::custody::Custody>,
    /// The node's certificate authority (its own caches; the same database).
    pub pki: Arc<fincert::pki::Pki>,
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
    let pki = node.pki();
    tokio::spawn(node.run_until_stopped());
    Node {
        address: format!("http://127.0.0.1:{port}"),
        handle,
        custody,
        pki,
    }
}

/// Another node as a separate `fincert serve` process on the same database and keyring: it
/// shares nothing in memory with this process (not even statics), so what it learns of the
/// cluster it learns through the database. Killed (SIGKILL) on drop.
pub struct ProcessNode {
    child: Option<std::process::Child>,
    pub address: String,
    pub port: u16,
    /// Every `FINCERT_*` variable it was started with (a restart uses the same).
    env: Vec<(String, String)>,
    client: reqwest::Client,
}

/// A free loopback port (bound, read and released: another process may take it first, which
/// on one test machine it does not).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `FINCERT_KMS_*` variables that point a `fincert serve` process at the same KMS keys as
/// `kms` (the AWS backend on moto, or the local keyring of the data directory).
pub fn kms_env(kms: &fincert::config::KmsSettings) -> Vec<(String, String)> {
    if kms.backend == fincert::config::KmsBackend::Local {
        return Vec::new();
    }
    let var = |k: &str, v: &dyn ToString| (format!("FINCERT_KMS_{k}"), v.to_string());
    vec![
        var("BACKEND", &"aws"),
        var("AWS_REGION", &kms.aws_region),
        var("AWS_ENDPOINT_URL", &kms.aws_endpoint_url),
        var("AWS_KEY_ID", &kms.aws_key_id),
        var("AWS_MAC_KEY_ID", &kms.aws_mac_key_id),
        var("AWS_ACCESS_KEY_ID", &kms.aws_access_key_id),
        var("AWS_SECRET_ACCESS_KEY", &kms.aws_secret_access_key.expose()),
        var("AWS_TIMEOUT_MS", &kms.aws_timeout_ms),
    ]
}

impl ProcessNode {
    /// Starts a node on a free port and waits until it answers `/healthz`.
    pub async fn start(app: &TestApp, extra: &[(&str, &str)]) -> Self {
        let node = Self::spawn(app, free_port(), extra);
        node.wait_healthy().await;
        node
    }

    /// Starts a node on `port` without waiting for it (several start side by side; then
    /// `wait_healthy` each). The node runs `app`'s database, KMS keys and CA algorithm, with
    /// `extra` variables on top.
    pub fn spawn(app: &TestApp, port: u16, extra: &[(&str, &str)]) -> Self {
        let s = &app.settings;
        let mut env: Vec<(String, String)> = [
            ("FINCERT_LOG_LEVEL", "warn".to_owned()),
            ("FINCERT_DATA_DIR", s.data_dir.display().to_string()),
            ("FINCERT_DATABASE_URL", s.database.url.clone()),
            ("FINCERT_DATABASE_MIGRATE_ON_START", "false".to_owned()),
            ("FINCERT_HTTP_LISTEN", format!("127.0.0.1:{port}")),
            ("FINCERT_HTTP_WORKERS", "2".to_owned()),
            ("FINCERT_PKI_CA_ALGORITHM", s.pki.ca_algorithm.clone()),
            ("FINCERT_PKI_AUTO_INIT", "false".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(kms_env(&s.kms));
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        let mut node = Self {
            child: None,
            address: format!("http://127.0.0.1:{port}"),
            port,
            env,
            client: app.client.clone(),
        };
        node.launch();
        node
    }

    fn launch(&mut self) {
        let mut cmd = std::process::Command::new(fincert_bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("FINCERT_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg("serve")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit());
        self.child = Some(cmd.spawn().expect("start fincert serve"));
    }

    /// Waits (up to 20 s) until the node answers `/healthz`.
    pub async fn wait_healthy(&self) {
        assert!(
            self.wait_for("/healthz", std::time::Duration::from_secs(20))
                .await
                .is_some(),
            "node process on port {} did not start",
            self.port
        );
    }

    /// Polls `path` on the node every 50 ms until it answers 2xx; returns how long that took,
    /// or `None` after `limit`.
    pub async fn wait_for(
        &self,
        path: &str,
        limit: std::time::Duration,
    ) -> Option<std::time::Duration> {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if let Ok(r) = self
                .client
                .get(format!("{}{path}", self.address))
                .send()
                .await
                && r.status().is_success()
            {
                return Some(started.elapsed());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }

    /// `kill -9`: the process dies at once, mid-request, with whatever it held in memory.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` is SIGKILL on Unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same settings on the same port (as a supervisor
    /// restarts a crashed pod); does not wait for it.
    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }
}

impl Drop for ProcessNode {
    fn drop(&mut self) {
        self.kill9();
    }
}
