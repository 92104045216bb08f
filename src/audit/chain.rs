//! The chain itself: the stored [`Record`], the hash that covers every stored column, and
//! [`chain`], which links new events after the current head. Pure: no queries here.

use aws_lc_rs::digest;
use chrono::{DateTime, SecondsFormat, Utc};

use super::NewEvent;

/// Length of every hash in the chain.
pub const HASH_LEN: usize = 32;
/// The `prev_hash` of the first event.
pub const GENESIS: [u8; HASH_LEN] = [0; HASH_LEN];
const DOMAIN: &[u8] = b"fincert-audit-v1";

/// An event as stored: every column the hash covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When it happened (microsecond precision).
    pub occurred_at: DateTime<Utc>,
    /// Actor kind.
    pub actor_kind: String,
    /// Actor id.
    pub actor_id: String,
    /// Action name.
    pub action: String,
    /// Subject, if any.
    pub subject: Option<String>,
    /// Details as canonical JSON text (keys sorted).
    pub details: String,
    /// Hash of the previous record (genesis for the first).
    pub prev_hash: Vec<u8>,
    /// Hash of this record.
    pub hash: Vec<u8>,
}

impl Record {
    /// The hash this record must have, given its content and `prev_hash`.
    pub fn expected_hash(&self) -> [u8; HASH_LEN] {
        let canonical = serde_json::json!([
            self.seq,
            self.occurred_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
            self.actor_kind,
            self.actor_id,
            self.action,
            self.subject,
            self.details,
        ]);
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(DOMAIN);
        ctx.update(&self.prev_hash);
        ctx.update(canonical.to_string().as_bytes());
        let mut out = [0u8; HASH_LEN];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }
}

/// Chains `events` after a head at `(head_seq, head_hash)`; all get the time `at`.
pub fn chain(
    head_seq: i64,
    head_hash: &[u8],
    at: DateTime<Utc>,
    events: &[NewEvent],
) -> Vec<Record> {
    let mut prev = head_hash.to_vec();
    events
        .iter()
        .zip(head_seq + 1..)
        .map(|(event, seq)| {
            let (actor_kind, actor_id) = event.actor.parts();
            let mut record = Record {
                seq,
                occurred_at: at,
                actor_kind: actor_kind.into(),
                actor_id: actor_id.into(),
                action: event.action.as_str().into(),
                subject: event.subject.clone(),
                // serde_json's map is ordered by key, so this text is canonical.
                details: event.details.to_string(),
                prev_hash: prev.clone(),
                hash: Vec::new(),
            };
            record.hash = record.expected_hash().to_vec();
            prev = record.hash.clone();
            record
        })
        .collect()
}
