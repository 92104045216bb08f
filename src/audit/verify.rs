//! Checking a chain: [`Verifier`] walks records in seq order and reports the first broken
//! link ([`Break`]), then checks the head, so a changed, inserted or removed row (in the
//! middle or at the end) is caught. Pure: the caller streams the rows from `store::audit`.

use super::{GENESIS, Record};

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
}

/// Walks records in seq order and reports the first broken link.
#[derive(Debug)]
pub struct Verifier {
    next_seq: i64,
    prev_hash: Vec<u8>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            next_seq: 1,
            prev_hash: GENESIS.to_vec(),
        }
    }
}

impl Verifier {
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
        Ok(last_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Action, Actor, NewEvent, chain};
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
