//! Liveness and readiness (`src/api/health.rs`). Members in byte order of their names, as the
//! server has always written them.

use serde::{Deserialize, Serialize};

/// `GET /healthz`: the process serves HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// `GET /readyz`: the node can serve requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// `ok`: the database answers and its write path is not stuck.
    pub database: String,
    /// `ok`: the KMS answered its last background probe.
    pub kms: String,
    /// `ready`.
    pub status: String,
}
