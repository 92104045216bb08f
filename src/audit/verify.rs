//! Checking a chain: [`Verifier`] walks records in seq order and reports the first broken
//! link ([`Break`]), then checks the head, so a changed, inserted or removed row (in the
//! middle or at the end) is caught. Given the signed checkpoints
//! ([`Verifier::with_checkpoints`]), it also compares each checkpointed event's hash with the
//! one its checkpoint signed and refuses a log that ends before a checkpoint: that is what
//! catches a recomputed chain and a truncated tail whose head was moved back. Pure: the caller
//! streams the rows from `store::audit`.

use std::collections::VecDeque;

use super::{Checkpoint, GENESIS, Record};

/// The first broken link found by [`Verifier`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    /// A seq is missing or out of order (a row was deleted or inserted).
    #[error("event {found}: expected seq {expected} (an event is missing or was inserted)")]
    Gap {
        /// The seq that should come next.
        expected: i64,
        /// The seq found.
        found: i64,
    },
    /// The row's `prev_hash` is not the previous row's hash.
    #[error("event {seq}: prev_hash does not match the hash of event {}", seq - 1)]
    PrevHash {
        /// The row.
        seq: i64,
    },
    /// The row's content does not hash to its stored hash (it was changed).
    #[error("event {seq}: content does not match its hash (the row was changed)")]
    Content {
        /// The row.
        seq: i64,
    },
    /// The head does not name the last row (rows were removed from the end or the head edited).
    #[error("chain head names event {head_seq} but the log ends at event {last_seq}")]
    Head {
        /// Seq the head names.
        head_seq: i64,
        /// Last seq in the table.
        last_seq: i64,
    },
    /// An event's hash is not the one a checkpoint signed (the chain was recomputed).
    #[error(
        "event {seq}: hash differs from the one checkpoint {checkpoint} signed (the chain was rewritten)"
    )]
    CheckpointHash {
        /// The checkpoint.
        checkpoint: i64,
        /// The event it covers.
        seq: i64,
    },
    /// A checkpoint covers events the log no longer has (its tail was cut).
    #[error(
        "checkpoint {checkpoint} signed the chain up to event {event_seq} but the log ends at event {last_seq} (events were removed from the end)"
    )]
    CheckpointBeyondLog {
        /// The checkpoint.
        checkpoint: i64,
        /// The last event it covers.
        event_seq: i64,
        /// Last seq in the table.
        last_seq: i64,
    },
    /// A checkpoint seq is missing or out of order (one was deleted or inserted).
    #[error(
        "checkpoint {found}: expected checkpoint {expected} (a checkpoint is missing or was inserted)"
    )]
    CheckpointGap {
        /// The seq that should come next.
        expected: i64,
        /// The seq found.
        found: i64,
    },
    /// A checkpoint's `prev` is not the link of the checkpoint before it.
    #[error("checkpoint {checkpoint}: prev does not match checkpoint {} (a checkpoint was replaced)", checkpoint - 1)]
    CheckpointLink {
        /// The checkpoint.
        checkpoint: i64,
    },
    /// A checkpoint names a key the verifier does not trust.
    #[error("checkpoint {checkpoint}: signed by key {key_id}, which is not a trusted audit key")]
    CheckpointKey {
        /// The checkpoint.
        checkpoint: i64,
        /// The key it names.
        key_id: String,
    },
    /// A checkpoint's signature does not verify (it was forged or changed).
    #[error(
        "checkpoint {checkpoint}: signature does not verify (the checkpoint was forged or changed)"
    )]
    CheckpointSignature {
        /// The checkpoint.
        checkpoint: i64,
    },
    /// A checkpoint covers fewer events than the one before it.
    #[error("checkpoint {checkpoint}: covers fewer events than the checkpoint before it")]
    CheckpointOrder {
        /// The checkpoint.
        checkpoint: i64,
    },
    /// A checkpoint held by a witness is not in the database.
    #[error("checkpoint {checkpoint}: held by the witness but missing from the database")]
    WitnessMissing {
        /// The checkpoint.
        checkpoint: i64,
    },
    /// A checkpoint held by a witness differs from the database's.
    #[error("checkpoint {checkpoint}: the database's copy differs from the witness's")]
    WitnessDiffers {
        /// The checkpoint.
        checkpoint: i64,
    },
    /// A month recorded in `audit_archives` has no archive in the directory given.
    #[error("archive {month}: recorded as archived but not in the archive directory")]
    ArchiveMissing {
        /// The month, `YYYY-MM`.
        month: String,
    },
    /// An archive is not the one recorded in `audit_archives` (another file, other events).
    #[error("archive {month}: the files are not the ones archived ({what})")]
    ArchiveDiffers {
        /// The month, `YYYY-MM`.
        month: String,
        /// What differs.
        what: String,
    },
    /// An archive in the directory that `audit_archives` does not record.
    #[error("archive {month}: in the archive directory but not recorded as archived")]
    ArchiveNotRecorded {
        /// The month, `YYYY-MM`.
        month: String,
    },
    /// A trusted audit key named by the database is not the key its backend holds.
    #[error(
        "audit key {key_id}: the database's public key is not the one its KMS or custody holds"
    )]
    KeyMismatch {
        /// The key.
        key_id: String,
    },
}

/// Walks records in seq order and reports the first broken link.
#[derive(Debug)]
pub struct Verifier {
    next_seq: i64,
    prev_hash: Vec<u8>,
    /// `(checkpoint seq, event seq, signed head hash)` still to meet, in event order.
    pending: VecDeque<(i64, i64, Vec<u8>)>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            next_seq: 1,
            prev_hash: GENESIS.to_vec(),
            pending: VecDeque::new(),
        }
    }
}

impl Verifier {
    /// A walk that also holds the events to `checkpoints` (already verified, in seq order).
    pub fn with_checkpoints<'a>(checkpoints: impl IntoIterator<Item = &'a Checkpoint>) -> Self {
        Self {
            pending: checkpoints
                .into_iter()
                .map(|c| (c.seq, c.event_seq, c.head_hash.clone()))
                .collect(),
            ..Self::default()
        }
    }

    /// Continues a chain whose events up to `seq` (ending in `prev_hash`) are not walked here
    /// (archived and not given): checkpoints of those events are skipped; the first one after
    /// them pins `prev_hash` and everything since.
    pub fn resume_after(mut self, seq: i64, prev_hash: &[u8]) -> Self {
        self.next_seq = seq + 1;
        self.prev_hash = prev_hash.to_vec();
        self.pending.retain(|(_, event_seq, _)| *event_seq > seq);
        self
    }

    /// The last seq checked so far (0 before the first).
    pub fn checked(&self) -> i64 {
        self.next_seq - 1
    }

    /// The hash of the last record checked (genesis before the first).
    pub fn last_hash(&self) -> &[u8] {
        &self.prev_hash
    }

    /// Checks the next record.
    pub fn push(&mut self, record: &Record) -> Result<(), Break> {
        if record.seq != self.next_seq {
            return Err(Break::Gap {
                expected: self.next_seq,
                found: record.seq,
            });
        }
        if record.prev_hash != self.prev_hash {
            return Err(Break::PrevHash { seq: record.seq });
        }
        if record.hash != record.expected_hash() {
            return Err(Break::Content { seq: record.seq });
        }
        while let Some((checkpoint, event_seq, hash)) = self.pending.front() {
            if *event_seq > record.seq {
                break;
            }
            if *event_seq < record.seq || *hash != record.hash {
                return Err(Break::CheckpointHash {
                    checkpoint: *checkpoint,
                    seq: *event_seq,
                });
            }
            self.pending.pop_front();
        }
        self.next_seq += 1;
        self.prev_hash = record.hash.clone();
        Ok(())
    }

    /// Checks the head against the last record seen; returns the number of events.
    pub fn finish(self, head_seq: i64, head_hash: &[u8]) -> Result<i64, Break> {
        let last_seq = self.next_seq - 1;
        if head_seq != last_seq || head_hash != self.prev_hash.as_slice() {
            return Err(Break::Head { head_seq, last_seq });
        }
        if let Some((checkpoint, event_seq, _)) = self.pending.front() {
            return Err(Break::CheckpointBeyondLog {
                checkpoint: *checkpoint,
                event_seq: *event_seq,
                last_seq,
            });
        }
        Ok(last_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Action, Actor, Checkpoint, NewEvent, chain};
    use chrono::DateTime;
    use serde_json::json;

    fn sample(n: usize) -> Vec<Record> {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let events: Vec<_> = (0..n)
            .map(|i| {
                NewEvent::new(Actor::User(format!("u{i}")), Action::SchemaMigrated)
                    .subject("s")
                    .details(json!({"z": i, "a": "x"}))
            })
            .collect();
        chain(0, &GENESIS, at, &events)
    }

    fn verify(records: &[Record]) -> Result<i64, Break> {
        let mut v = Verifier::default();
        for r in records {
            v.push(r)?;
        }
        let (seq, hash) = records
            .last()
            .map_or((0, GENESIS.to_vec()), |r| (r.seq, r.hash.clone()));
        v.finish(seq, &hash)
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&sample(5)), Ok(5));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn details_are_canonical_json() {
        assert_eq!(sample(1)[0].details, r#"{"a":"x","z":0}"#);
    }

    #[test]
    fn every_column_is_covered_by_the_hash() {
        let base = sample(3);
        let edits: Vec<Box<dyn Fn(&mut Record)>> = vec![
            Box::new(|r| r.occurred_at += chrono::Duration::microseconds(1)),
            Box::new(|r| r.actor_kind = "system".into()),
            Box::new(|r| r.actor_id = "other".into()),
            Box::new(|r| r.action = "x".into()),
            Box::new(|r| r.subject = None),
            Box::new(|r| r.details = r#"{"a":"y","z":1}"#.into()),
        ];
        for edit in edits {
            let mut records = base.clone();
            edit(&mut records[1]);
            assert_eq!(verify(&records), Err(Break::Content { seq: 2 }));
        }
    }

    #[test]
    fn rehashing_a_changed_row_breaks_the_next_link() {
        let mut records = sample(3);
        records[1].details = "{}".into();
        records[1].hash = records[1].expected_hash().to_vec();
        assert_eq!(verify(&records), Err(Break::PrevHash { seq: 3 }));
    }

    #[test]
    fn removed_rows_are_caught() {
        let mut records = sample(4);
        records.remove(1);
        assert_eq!(
            verify(&records),
            Err(Break::Gap {
                expected: 2,
                found: 3
            })
        );

        let records = sample(4);
        let mut v = Verifier::default();
        for r in &records[..3] {
            v.push(r).unwrap();
        }
        assert_eq!(
            v.finish(4, &records[3].hash),
            Err(Break::Head {
                head_seq: 4,
                last_seq: 3
            })
        );
    }

    fn checkpoint_at(records: &[Record], n: i64, seq: i64) -> Checkpoint {
        let r = &records[usize::try_from(seq - 1).unwrap()];
        Checkpoint {
            seq: n,
            event_seq: seq,
            head_hash: r.hash.clone(),
            signed_at: r.occurred_at,
            prev: vec![],
            key_id: String::new(),
            signature: vec![],
        }
    }

    fn verify_against(records: &[Record], checkpoints: &[Checkpoint]) -> Result<i64, Break> {
        let mut v = Verifier::with_checkpoints(checkpoints);
        for r in records {
            v.push(r)?;
        }
        let (seq, hash) = records
            .last()
            .map_or((0, GENESIS.to_vec()), |r| (r.seq, r.hash.clone()));
        v.finish(seq, &hash)
    }

    #[test]
    fn a_recomputed_chain_differs_from_the_checkpoint() {
        let records = sample(5);
        let cps = [checkpoint_at(&records, 1, 2), checkpoint_at(&records, 2, 4)];
        assert_eq!(verify_against(&records, &cps), Ok(5));
        // Event 3 edited and every hash after it recomputed: a consistent chain, but event 4
        // is no longer what checkpoint 2 signed.
        let mut forged = records[..2].to_vec();
        let mut rest = records[2..].to_vec();
        rest[0].details = "{}".into();
        let mut prev = forged[1].hash.clone();
        for r in &mut rest {
            r.prev_hash = prev.clone();
            r.hash = r.expected_hash().to_vec();
            prev = r.hash.clone();
        }
        forged.extend(rest);
        assert_eq!(verify(&forged), Ok(5));
        assert_eq!(
            verify_against(&forged, &cps),
            Err(Break::CheckpointHash {
                checkpoint: 2,
                seq: 4
            })
        );
    }

    #[test]
    fn a_truncated_tail_with_its_head_moved_back_is_caught() {
        let records = sample(5);
        let cps = [checkpoint_at(&records, 1, 4)];
        // Events 4 and 5 removed and the head pointed at event 3: the bare chain agrees.
        assert_eq!(verify(&records[..3]), Ok(3));
        assert_eq!(
            verify_against(&records[..3], &cps),
            Err(Break::CheckpointBeyondLog {
                checkpoint: 1,
                event_seq: 4,
                last_seq: 3
            })
        );
    }

    #[test]
    fn chains_continue_from_a_head() {
        let first = sample(2);
        let at = DateTime::from_timestamp(1_800_000_100, 0).unwrap();
        let more = chain(
            2,
            &first[1].hash,
            at,
            &[NewEvent::new(Actor::System, Action::SchemaMigrated)],
        );
        assert_eq!(more[0].seq, 3);
        let all: Vec<_> = first.into_iter().chain(more).collect();
        assert_eq!(verify(&all), Ok(3));
    }
}
