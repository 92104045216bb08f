//! Witnesses: somewhere outside the database that keeps a copy of every signed checkpoint, so
//! that a database owner who rewrites the events *and* the checkpoints table (or drops it) is
//! still contradicted. [`CheckpointWitness`] is the trait; [`DirWitness`] the development
//! adapter (a directory, one file per checkpoint, never overwritten), `s3::S3Witness` the
//! production one (S3 Object Lock). Each copy is the checkpoint's public JSON
//! (`fincert_client::proto::audit::Checkpoint`), the same bytes `GET /v1/audit/checkpoints`
//! serves.
//!
//! Write-once: a witness never replaces a copy. Sending a checkpoint it already holds with the
//! same bytes succeeds (a retry after a lost answer); different bytes are a
//! [`WitnessError::Conflict`], reported and never "fixed" by overwriting.

use std::path::{Path, PathBuf};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, SecondsFormat, Utc};
use fincert_client::proto::audit as wire;

use crate::audit::Checkpoint;

/// What a witness can answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The witness could not be reached or refused the write.
    #[error("witness unavailable: {0}")]
    Unavailable(String),
    /// The witness already holds different bytes for this checkpoint.
    #[error("witness holds a different copy of checkpoint {0}")]
    Conflict(i64),
}

/// Somewhere outside the database that keeps every checkpoint.
#[async_trait::async_trait]
pub trait CheckpointWitness: Send + Sync {
    /// A stable name (its progress row in `audit_witness_progress`).
    fn name(&self) -> &str;

    /// Stores `cp` once; the same bytes again are fine, different ones a conflict.
    async fn put(&self, cp: &Checkpoint) -> Result<(), WitnessError>;
}

/// The public JSON of a checkpoint.
pub fn to_wire(cp: &Checkpoint) -> wire::Checkpoint {
    wire::Checkpoint {
        seq: cp.seq,
        event_seq: cp.event_seq,
        head_hash: hex::encode(&cp.head_hash),
        signed_at: cp.signed_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        prev: hex::encode(&cp.prev),
        key_id: cp.key_id.clone(),
        signature: STANDARD.encode(&cp.signature),
    }
}

/// A checkpoint from its public JSON.
pub fn from_wire(w: &wire::Checkpoint) -> Result<Checkpoint, String> {
    let hex = |field: &str, v: &str| hex::decode(v).map_err(|_| format!("{field} is not hex"));
    Ok(Checkpoint {
        seq: w.seq,
        event_seq: w.event_seq,
        head_hash: hex("head_hash", &w.head_hash)?,
        signed_at: DateTime::parse_from_rfc3339(&w.signed_at)
            .map_err(|_| "signed_at is not RFC 3339".to_string())?
            .with_timezone(&Utc),
        prev: hex("prev", &w.prev)?,
        key_id: w.key_id.clone(),
        signature: STANDARD
            .decode(&w.signature)
            .map_err(|_| "signature is not base64".to_string())?,
    })
}

/// The bytes a witness keeps for `cp`.
pub fn document(cp: &Checkpoint) -> Vec<u8> {
    let mut body = serde_json::to_vec_pretty(&to_wire(cp)).unwrap_or_default();
    body.push(b'\n');
    body
}

/// The name of `cp`'s copy: its seq, zero-padded so names sort in order.
pub fn object_name(seq: i64) -> String {
    format!("{seq:020}.json")
}

/// A local directory, one read-only file per checkpoint, never overwritten: for development
/// and single-host deployments (point it at storage the database host cannot write, e.g. a
/// mount from another machine).
pub struct DirWitness {
    dir: PathBuf,
    name: String,
}

impl DirWitness {
    /// A witness writing into `dir` (created on first use).
    pub fn new(dir: PathBuf) -> Self {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, dir.to_string_lossy().as_bytes());
        let name = format!("dir:{}", hex::encode(&digest.as_ref()[..8]));
        Self { dir, name }
    }

    /// Every checkpoint in `dir`, in seq order (for `audit verify --witness DIR`).
    pub fn read_all(dir: &Path) -> Result<Vec<Checkpoint>, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let w: wire::Checkpoint = serde_json::from_str(&text)
                .map_err(|e| format!("{}: not a checkpoint: {e}", path.display()))?;
            out.push(from_wire(&w).map_err(|e| format!("{}: {e}", path.display()))?);
        }
        out.sort_by_key(|c| c.seq);
        Ok(out)
    }
}

fn write_once(dir: &Path, seq: i64, body: &[u8]) -> Result<(), WitnessError> {
    use std::io::Write;
    let io = |e: std::io::Error| WitnessError::Unavailable(e.to_string());
    std::fs::create_dir_all(dir).map_err(io)?;
    let target = dir.join(object_name(seq));
    let same = |path: &Path| -> Result<(), WitnessError> {
        if std::fs::read(path).map_err(io)? == body {
            Ok(())
        } else {
            Err(WitnessError::Conflict(seq))
        }
    };
    if target.exists() {
        return same(&target);
    }
    // Written whole to a temporary name, then linked into place: the link fails if the name
    // exists (so nothing is ever overwritten) and a crash never leaves half a copy there.
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        object_name(seq),
        uuid::Uuid::new_v4().simple()
    ));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        let mut perms = f.metadata()?.permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&tmp, perms)?;
        std::fs::hard_link(&tmp, &target)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => same(&target),
        Err(e) => Err(io(e)),
    }
}

#[async_trait::async_trait]
impl CheckpointWitness for DirWitness {
    fn name(&self) -> &str {
        &self.name
    }

    async fn put(&self, cp: &Checkpoint) -> Result<(), WitnessError> {
        let dir = self.dir.clone();
        let seq = cp.seq;
        let body = document(cp);
        tokio::task::spawn_blocking(move || write_once(&dir, seq, &body))
            .await
            .map_err(|e| WitnessError::Unavailable(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(seq: i64, sig: u8) -> Checkpoint {
        Checkpoint {
            seq,
            event_seq: seq * 3,
            head_hash: vec![7; 32],
            signed_at: DateTime::from_timestamp_micros(1_800_000_000_123_456).unwrap(),
            prev: vec![0; 32],
            key_id: "k".into(),
            signature: vec![sig; 70],
        }
    }

    #[tokio::test]
    async fn the_directory_is_write_once() {
        let dir = tempfile::tempdir().unwrap();
        let w = DirWitness::new(dir.path().to_path_buf());
        w.put(&cp(1, 1)).await.unwrap();
        // The same copy again (a retry) is fine; a different one is refused and changes nothing.
        w.put(&cp(1, 1)).await.unwrap();
        assert_eq!(w.put(&cp(1, 2)).await, Err(WitnessError::Conflict(1)));
        w.put(&cp(2, 1)).await.unwrap();
        let back = DirWitness::read_all(dir.path()).unwrap();
        assert_eq!(back, vec![cp(1, 1), cp(2, 1)]);
        let meta = std::fs::metadata(dir.path().join(object_name(1))).unwrap();
        assert!(meta.permissions().readonly());
    }

    #[test]
    fn the_public_json_round_trips() {
        let c = cp(5, 9);
        assert_eq!(from_wire(&to_wire(&c)), Ok(c));
    }
}
