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
