//! The append-only, hash-chained audit log: what each event says and how the chain is checked.
//!
//! ```text
//!   genesis (32 zero bytes)
//!        │
//!        ▼
//!   ┌─────────┐  hash₁ = SHA-256("fincert-audit-v1" ‖ prev ‖ canonical(event₁))
//!   │ event 1 │──────────────┐
//!   └─────────┘              ▼
//!                       ┌─────────┐  hash₂ = SHA-256(… ‖ hash₁ ‖ canonical(event₂))
//!                       │ event 2 │───► … ───► audit_head (seq, hash)
//!                       └─────────┘
//! ```
//!
//! Each row stores the previous row's hash and its own; `audit_head` stores the last seq and hash,
//! so dropping rows from the end is caught as well as changing or removing one in the middle.
//! The canonical content is a JSON array of the stored columns in a fixed order, so any stored
//! column that changes changes the hash.
//!
//! This module is pure: it computes and checks chains. The queries are in `store::audit`
//! (PostgreSQL keeps the table in monthly partitions; the chain spans them), archives of whole
//! months in `checkpoints::archive`.
//! Details must never hold a secret (PIN, OTP, key material): they are stored in plaintext.
//!
//! Where things are: this file holds who ([`Actor`]) and the event before it is chained
//! ([`NewEvent`]); `action` the catalogue of what can happen ([`Action`], with the stable
//! stored names); `chain` the stored [`Record`] and its hash; `checkpoint` the signed
//! checkpoints of the head and their own chain ([`Checkpoint`], [`CheckpointVerifier`]);
//! `verify` the walk that finds the first broken link ([`Verifier`], [`Break`]).

mod action;
mod chain;
mod checkpoint;
mod verify;

use serde_json::Value;

pub use action::Action;
pub use chain::{GENESIS, HASH_LEN, Record, chain};
pub use checkpoint::{AuditPublicKey, Checkpoint, CheckpointVerifier, key_id_of};
pub use verify::{Break, Verifier};

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The service itself (background jobs, start-up).
    System,
    /// An operator on the server host, through the CLI.
    Operator,
    /// A certificate owner.
    User(String),
    /// A relying institution.
    Institution(String),
}

impl Actor {
    /// `(kind, id)` as stored.
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::System => ("system", "fincert"),
            Self::Operator => ("operator", "cli"),
            Self::User(id) => ("user", id),
            Self::Institution(id) => ("institution", id),
        }
    }
}

/// An event before it joins the chain.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: Action,
    /// The object acted on (certificate serial, user id…), if any.
    pub subject: Option<String>,
    /// Further facts; never secrets.
    pub details: Value,
}

impl NewEvent {
    /// An event with no subject and no details.
    pub fn new(actor: Actor, action: Action) -> Self {
        Self {
            actor,
            action,
            subject: None,
            details: Value::Object(Default::default()),
        }
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the details.
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}
