//! A TCP gate in front of a server: open, it passes bytes both ways; closed, it drops every
//! connection it carries and refuses new ones — the server behind it vanishes from the
//! network while it keeps its state (a KMS outage that the KMS itself survives).

use std::sync::Arc;

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// A loopback port that forwards to `target` while open.
pub struct Gate {
    /// `http://127.0.0.1:<port>`: where clients connect.
    pub url: String,
    open: Arc<watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Gate {
    /// Opens a gate in front of `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let open = Arc::new(watch::Sender::new(true));
        let (target, state) = (target.to_owned(), open.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut closed = state.subscribe();
                if !*closed.borrow_and_update() {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = closed.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Self { url, open, task }
    }

    /// Cuts every connection now and refuses new ones.
    pub fn close(&self) {
        self.open.send_replace(false);
    }

    /// Lets connections through again.
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}
