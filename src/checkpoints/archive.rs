//! Archives of the audit log (#17): `fincert audit archive --before YYYY-MM --to DIR` exports
//! whole months, oldest first, and removes them from the live log; `audit verify --archive DIR`
//! walks the chain through the archives and on into the live table.
//!
//! ```text
//!  for each month M before --before, oldest first (the current month never):
//!    live events of M, in seq order, checked as a chain from where the last archive ended
//!      ──► DIR/audit-M.events.jsonl         one event per line, every column the hash covers
//!      ──► DIR/audit-M.manifest.json        seq range, first prev_hash, last hash, SHA-256 of
//!                                            the events file, the checkpoints of its events
//!    a clean cut? (every live event before M's end is in the file, and nothing after it is)
//!    one transaction: audit_archives row + audit.archived event + DROP the partition of M
//!                     (SQLite: DELETE its rows)
//! ```
//!
//! Time never goes back along the chain (`store::audit` stamps a batch no earlier than the
//! event before it), so a month is a prefix of what is left and removing it leaves no gap.
//! Files are written under temporary names, synced, and renamed into place; a rerun after a
//! crash between the files and the database step finds the same bytes and goes on, and never
//! overwrites different ones.
//!
//! **What an archive proves.** The files are as tamperable as any file; what pins them is the
//! chain itself and the signed checkpoints (which stay in the database and in the witnesses):
//! `verify --archive` recomputes every hash from genesis through the archives, so an edited
//! archived event fails its own hash, a recomputed one fails the next checkpoint, and a
//! missing month is a gap. `audit_archives` (append-only) records each month's seq range, last
//! hash and file digest: a file swapped for another is named. Without `--archive`, `verify`
//! starts the walk where the last archive ended and says so; the archived events are then
//! checked only as far as the first checkpoint after them pins the hash they end in.

use std::{
    fmt,
    fs::{self, File},
    io::{BufRead, BufReader, BufWriter, Write},
    path::{Path, PathBuf},
    str::FromStr,
};

use aws_lc_rs::digest;
use chrono::{DateTime, Datelike, SecondsFormat, TimeZone, Utc};
use fincert_client::proto::audit as wire;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::witness::{from_wire, to_wire};
use crate::{
    audit::{Action, Actor, Break, Checkpoint, GENESIS, NewEvent, Record, Verifier},
    clock::SharedClock,
    store::{self, StoreError, audit::ArchivedMonth},
};

/// The archive format's name, in every manifest.
pub const FORMAT: &str = "fincert-audit-archive-v1";

/// A calendar month in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// The month `t` falls in.
    pub fn of(t: DateTime<Utc>) -> Self {
        Self {
            year: t.year(),
            month: t.month(),
        }
    }

    /// Its first instant.
    pub fn start(self) -> DateTime<Utc> {
        // Valid by construction: years 1000–9999, months 1–12, day 1 at midnight UTC.
        Utc.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The month after.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The first instant after it.
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    /// Its PostgreSQL partition of `audit_events` (see migration 000029).
    pub fn partition(self) -> String {
        format!("audit_events_y{:04}m{:02}", self.year, self.month)
    }

    fn events_file(self) -> String {
        format!("audit-{self}.events.jsonl")
    }

    fn manifest_file(self) -> String {
        format!("audit-{self}.manifest.json")
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = String;

    /// `YYYY-MM`, nothing else.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a month: write it as YYYY-MM, e.g. 2026-11");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || year < 1000 {
            return Err(bad());
        }
        Ok(Self { year, month })
    }
}

/// One archived event: every column the hash covers, hashes in hex.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    seq: i64,
    occurred_at: String,
    actor_kind: String,
    actor_id: String,
    action: String,
    subject: Option<String>,
    details: String,
    prev_hash: String,
    hash: String,
}

impl Line {
    fn of(r: &Record) -> Self {
        Self {
            seq: r.seq,
            occurred_at: r.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            actor_kind: r.actor_kind.clone(),
            actor_id: r.actor_id.clone(),
            action: r.action.clone(),
            subject: r.subject.clone(),
            details: r.details.clone(),
            prev_hash: hex::encode(&r.prev_hash),
            hash: hex::encode(&r.hash),
        }
    }

    fn record(self) -> Option<Record> {
        Some(Record {
            seq: self.seq,
            occurred_at: DateTime::parse_from_rfc3339(&self.occurred_at)
                .ok()?
                .with_timezone(&Utc),
            actor_kind: self.actor_kind,
            actor_id: self.actor_id,
            action: self.action,
            subject: self.subject,
            details: self.details,
            prev_hash: hex::decode(self.prev_hash).ok()?,
            hash: hex::decode(self.hash).ok()?,
        })
    }
}

/// What `audit-M.manifest.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    month: String,
    first_seq: i64,
    last_seq: i64,
    events: i64,
    /// The `prev_hash` of its first event (the last hash of the month before).
    prev_hash: String,
    last_hash: String,
    /// SHA-256 of the events file.
    events_sha256: String,
    /// The signed checkpoints of its events, as `GET /v1/audit/checkpoints` serves them.
    checkpoints: Vec<wire::Checkpoint>,
}

/// Why an archive run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be written or read.
    #[error("{0}")]
    Io(String),
    /// The month cannot be archived as things are (said why); nothing was removed.
    #[error("{0}")]
    Refused(String),
    /// The live chain is broken where it would be archived; nothing was removed.
    #[error("the live chain is broken: {0}")]
    Broken(Break),
}

fn io(path: &Path, e: std::io::Error) -> ArchiveError {
    ArchiveError::Io(format!("{}: {e}", path.display()))
}

/// Archives every whole month of the live log before `before` into `dir` (made if missing),
/// oldest first; returns the months archived. The current month (by `clock`) and later are
/// refused: their events are still being written.
pub async fn archive(
    db: &DatabaseConnection,
    clock: &SharedClock,
    before: Month,
    dir: &Path,
) -> Result<Vec<ArchivedMonth>, ArchiveError> {
    let now = clock.now();
    if before > Month::of(now) {
        return Err(ArchiveError::Refused(format!(
            "{} is still being written: archive months before {} at the latest",
            Month::of(now),
            Month::of(now)
        )));
    }
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let done = store::audit::archived_months(db).await?;
    let checkpoints = store::checkpoints::all_checkpoints(db).await?;
    let (mut after, mut prev) = done
        .last()
        .map_or((0, GENESIS.to_vec()), |a| (a.last_seq, a.last_hash.clone()));
    let mut archived = Vec::new();
    loop {
        let Some(first) = store::audit::page_after(db, after)
            .await?
            .into_iter()
            .next()
        else {
            break;
        };
        let month = Month::of(first.occurred_at);
        if month >= before {
            break;
        }
        if !store::audit::partition_exists(db, &month.partition()).await? {
            return Err(refused(
                &archived,
                format!(
                    "the events of {month} are in the default partition audit_events_default \
                     (no partition of their own was made in time), which cannot be archived by \
                     month"
                ),
            ));
        }
        let row = write_month(db, month, after, &prev, &checkpoints, dir, now).await?;
        let (by_time, by_seq) = store::audit::counts_before(db, month.end(), row.last_seq).await?;
        let size = u64::try_from(row.events).unwrap_or(0);
        if by_time != size || by_seq != size {
            return Err(refused(
                &archived,
                format!(
                    "{month} is not a clean cut of the chain: {by_time} live events happened \
                     before its end and {by_seq} are at or before its last event {}, but the \
                     archive holds {size}",
                    row.last_seq
                ),
            ));
        }
        let event = NewEvent::new(Actor::Operator, Action::AuditArchived)
            .subject(row.month.clone())
            .details(json!({
                "first_seq": row.first_seq,
                "last_seq": row.last_seq,
                "events": row.events,
                "sha256": hex::encode(&row.sha256),
            }));
        store::audit::remove_archived(db, &row, &month.partition(), now, event).await?;
        after = row.last_seq;
        prev = row.last_hash.clone();
        archived.push(row);
    }
    Ok(archived)
}

/// A refusal, naming the months archived before it (they stay archived).
fn refused(archived: &[ArchivedMonth], why: String) -> ArchiveError {
    if archived.is_empty() {
        return ArchiveError::Refused(why);
    }
    let months: Vec<&str> = archived.iter().map(|a| a.month.as_str()).collect();
    ArchiveError::Refused(format!(
        "{why} (archived before stopping: {})",
        months.join(", ")
    ))
}

/// Writes month `month`'s events (the chain after `after`, whose hash is `prev`) and manifest
/// into `dir`; returns its `audit_archives` row.
async fn write_month(
    db: &DatabaseConnection,
    month: Month,
    after: i64,
    prev: &[u8],
    checkpoints: &[Checkpoint],
    dir: &Path,
    now: DateTime<Utc>,
) -> Result<ArchivedMonth, ArchiveError> {
    let events_path = dir.join(month.events_file());
    let tmp = dir.join(format!(".{}.partial", month.events_file()));
    let file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
    let mut out = BufWriter::new(file);
    let mut sha = digest::Context::new(&digest::SHA256);
    let mut verifier = Verifier::default().resume_after(after, prev);
    let mut cursor = after;
    loop {
        let page = store::audit::page_before(db, cursor, month.end()).await?;
        let Some(last) = page.last() else { break };
        cursor = last.seq;
        for record in &page {
            if let Err(b) = verifier.push(record) {
                let _ = fs::remove_file(&tmp);
                return Err(ArchiveError::Broken(b));
            }
            let mut line = serde_json::to_vec(&Line::of(record))
                .map_err(|e| ArchiveError::Io(e.to_string()))?;
            line.push(b'\n');
            sha.update(&line);
            out.write_all(&line).map_err(|e| io(&tmp, e))?;
        }
    }
    let file = out.into_inner().map_err(|e| io(&tmp, e.into_error()))?;
    file.sync_all().map_err(|e| io(&tmp, e))?;
    let last_seq = verifier.checked();
    if last_seq == after {
        return Err(ArchiveError::Refused(format!(
            "{month} has no events to archive"
        )));
    }
    let sha256 = sha.finish().as_ref().to_vec();
    let row = ArchivedMonth {
        month: month.to_string(),
        first_seq: after + 1,
        last_seq,
        last_hash: verifier.last_hash().to_vec(),
        events: last_seq - after,
        sha256,
        archived_at: now,
    };
    let manifest = Manifest {
        format: FORMAT.into(),
        month: row.month.clone(),
        first_seq: row.first_seq,
        last_seq: row.last_seq,
        events: row.events,
        prev_hash: hex::encode(prev),
        last_hash: hex::encode(&row.last_hash),
        events_sha256: hex::encode(&row.sha256),
        checkpoints: checkpoints
            .iter()
            .filter(|c| (row.first_seq..=row.last_seq).contains(&c.event_seq))
            .map(to_wire)
            .collect(),
    };
    let manifest_bytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| ArchiveError::Io(e.to_string()))?;
    place(&tmp, &events_path)?;
    let manifest_path = dir.join(month.manifest_file());
    let manifest_tmp = dir.join(format!(".{}.partial", month.manifest_file()));
    fs::write(&manifest_tmp, &manifest_bytes).map_err(|e| io(&manifest_tmp, e))?;
    File::open(&manifest_tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&manifest_tmp, e))?;
    place(&manifest_tmp, &manifest_path)?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))?;
    Ok(row)
}

/// Moves `tmp` to `path`, unless `path` already holds the same bytes (a rerun); refuses to
/// replace different ones.
fn place(tmp: &Path, path: &Path) -> Result<(), ArchiveError> {
    if path.exists() {
        let same = same_bytes(path, tmp)?;
        fs::remove_file(tmp).map_err(|e| io(tmp, e))?;
        if !same {
            return Err(ArchiveError::Refused(format!(
                "{} is already there with other contents; it is never overwritten (move it \
                 away if it is not an archive of this log)",
                path.display()
            )));
        }
        return Ok(());
    }
    fs::rename(tmp, path).map_err(|e| io(path, e))
}

/// Whether two files hold the same bytes, read in blocks (a month's file may be large).
fn same_bytes(a: &Path, b: &Path) -> Result<bool, ArchiveError> {
    let len = |p: &Path| fs::metadata(p).map(|m| m.len()).map_err(|e| io(p, e));
    if len(a)? != len(b)? {
        return Ok(false);
    }
    let open = |p: &Path| File::open(p).map(BufReader::new).map_err(|e| io(p, e));
    let (mut ra, mut rb) = (open(a)?, open(b)?);
    loop {
        let (ba, bb) = (
            ra.fill_buf().map_err(|e| io(a, e))?,
            rb.fill_buf().map_err(|e| io(b, e))?,
        );
        let n = ba.len().min(bb.len());
        if n == 0 {
            return Ok(ba.is_empty() && bb.is_empty());
        }
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
        ra.consume(n);
        rb.consume(n);
    }
}

/// The archives in `dir`, by month.
fn manifests(dir: &Path) -> Result<Vec<(Month, Manifest)>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(month) = name
            .strip_prefix("audit-")
            .and_then(|n| n.strip_suffix(".manifest.json"))
        else {
            continue;
        };
        let Ok(month) = month.parse::<Month>() else {
            continue;
        };
        let path = entry.path();
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not an archive manifest ({e})", path.display()))?;
        found.push((month, manifest));
    }
    found.sort_by_key(|(m, _)| *m);
    Ok(found)
}

/// Walks the archived months recorded in `archived` through `verifier` from the files in
/// `dir`, checking each against its `audit_archives` row and the database's `checkpoints`.
/// `Err` when the directory cannot be read; `Ok(Err(_))` is the first break.
pub fn walk(
    dir: &Path,
    archived: &[ArchivedMonth],
    checkpoints: &[Checkpoint],
    verifier: &mut Verifier,
) -> Result<Result<(), Break>, String> {
    let found = manifests(dir)?;
    for (month, _) in &found {
        if !archived.iter().any(|a| a.month == month.to_string()) {
            return Ok(Err(Break::ArchiveNotRecorded {
                month: month.to_string(),
            }));
        }
    }
    for row in archived {
        let Some((month, manifest)) = found.iter().find(|(m, _)| m.to_string() == row.month) else {
            return Ok(Err(Break::ArchiveMissing {
                month: row.month.clone(),
            }));
        };
        let differs = |what: String| {
            Ok(Err(Break::ArchiveDiffers {
                month: row.month.clone(),
                what,
            }))
        };
        if manifest.format != FORMAT
            || manifest.first_seq != row.first_seq
            || manifest.last_seq != row.last_seq
            || manifest.events != row.events
            || manifest.last_hash != hex::encode(&row.last_hash)
            || manifest.events_sha256 != hex::encode(&row.sha256)
        {
            return differs("its manifest does not match audit_archives".into());
        }
        for copy in &manifest.checkpoints {
            let ours = from_wire(copy)
                .ok()
                .and_then(|c| checkpoints.iter().find(|o| **o == c));
            if ours.is_none() {
                return differs(format!(
                    "its copy of checkpoint {} is not the database's",
                    copy.seq
                ));
            }
        }
        match walk_events(&dir.join(month.events_file()), row, verifier)? {
            Ok(()) => {}
            Err(b) => return Ok(Err(b)),
        }
    }
    Ok(Ok(()))
}

fn walk_events(
    path: &PathBuf,
    row: &ArchivedMonth,
    verifier: &mut Verifier,
) -> Result<Result<(), Break>, String> {
    let differs = |what: String| {
        Ok(Err(Break::ArchiveDiffers {
            month: row.month.clone(),
            what,
        }))
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Err(Break::ArchiveMissing {
                month: row.month.clone(),
            }));
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut sha = digest::Context::new(&digest::SHA256);
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if read == 0 {
            break;
        }
        n += 1;
        sha.update(&line);
        let Some(record) = serde_json::from_slice::<Line>(&line)
            .ok()
            .and_then(Line::record)
        else {
            return differs(format!("line {n} is not an archived event"));
        };
        if record.seq > row.last_seq {
            return differs(format!(
                "event {} is past the month's last event",
                record.seq
            ));
        }
        if let Err(b) = verifier.push(&record) {
            return Ok(Err(b));
        }
    }
    if verifier.checked() != row.last_seq {
        return differs(format!(
            "it ends at event {} where audit_archives says {}",
            verifier.checked(),
            row.last_seq
        ));
    }
    if sha.finish().as_ref() != row.sha256.as_slice() {
        return differs("the events file's SHA-256 is not the one recorded".into());
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly_and_step() {
        let m: Month = "2026-12".parse().unwrap();
        assert_eq!(m.to_string(), "2026-12");
        assert_eq!(m.next().to_string(), "2027-01");
        assert_eq!(m.partition(), "audit_events_y2026m12");
        assert_eq!(m.start().to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(m.end().to_rfc3339(), "2027-01-01T00:00:00+00:00");
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-01",
            "2026/01",
            "２０２６-01",
            "",
            "0999-01",
        ] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
        assert!("2026-11".parse::<Month>().unwrap() < m);
    }

    /// A rerun finds its own bytes already in place and goes on; other bytes under the name
    /// (longer, shorter, or the same length) are refused and left as they are.
    #[test]
    fn a_file_in_place_is_kept_only_when_it_holds_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, path) = (dir.path().join("t"), dir.path().join("p"));
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&path, &big).unwrap();
        fs::write(&tmp, &big).unwrap();
        place(&tmp, &path).unwrap();
        assert!(!tmp.exists(), "the temporary copy is gone");
        assert_eq!(fs::read(&path).unwrap(), big);
        let mut other = big.clone();
        other[150_000] ^= 1;
        for theirs in [other, big[..1000].to_vec(), [big.clone(), vec![0]].concat()] {
            fs::write(&tmp, &big).unwrap();
            fs::write(&path, &theirs).unwrap();
            let err = place(&tmp, &path).unwrap_err();
            assert!(err.to_string().contains("never overwritten"), "{err}");
            assert_eq!(fs::read(&path).unwrap(), theirs, "left as it was");
        }
        fs::remove_file(&path).unwrap();
        fs::write(&tmp, b"new").unwrap();
        place(&tmp, &path).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }
}
