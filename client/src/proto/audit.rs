//! `/v1/audit/checkpoints` and `/v1/audit/keys`: the signed checkpoints of the audit chain
//! head and the public keys that verify them, public so auditors and institutions can keep
//! copies. A witness outside the database holds each checkpoint as this same JSON.

use serde::{Deserialize, Serialize};

/// One signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Position among checkpoints, from 1, without gaps.
    pub seq: i64,
    /// The last audit event it covers.
    pub event_seq: i64,
    /// That event's hash (hex): the chain head when it was signed.
    pub head_hash: String,
    /// When it was signed (RFC 3339, microseconds, `Z`).
    pub signed_at: String,
    /// Hex SHA-256 link to the previous checkpoint (64 zeros for the first).
    pub prev: String,
    /// The audit key that signed it (see `/v1/audit/keys`).
    pub key_id: String,
    /// ECDSA P-256 SHA-256 signature (DER, base64) of the checkpoint's message.
    pub signature: String,
}

/// A page of checkpoints, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointPage {
    /// The checkpoints.
    pub items: Vec<Checkpoint>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An audit public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditKey {
    /// Hex of the first 16 bytes of SHA-256 of `spki`.
    pub key_id: String,
    /// Always `ES256` (ECDSA P-256 with SHA-256, DER signatures).
    pub algorithm: String,
    /// SubjectPublicKeyInfo DER, base64.
    pub spki: String,
    /// The same key as PEM (`PUBLIC KEY`).
    pub pem: String,
    /// When the key was made or adopted.
    pub created_at: String,
}
