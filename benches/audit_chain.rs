//! The audit chain at volume: append throughput in the group commit's transaction shape, and
//! `audit verify` speed with signed checkpoints.
//!
//! `cargo bench --bench audit_chain` runs on a fresh embedded SQLite file and, when the
//! PostgreSQL at `FINCERT_BENCH_PG_ADMIN_URL` answers, on a fresh PostgreSQL database (dropped
//! at the end). It measures:
//!
//! - **append**: `FINCERT_BENCH_APPENDERS` (default 4) concurrent writers each appending
//!   batches of `FINCERT_BENCH_BATCH` events (default 64, `signing.group_commit_max_batch`)
//!   in one transaction apiece (`store::audit::append_within`, as the group committer does:
//!   one head lock, one insert statement, one commit per batch) until
//!   `FINCERT_BENCH_EVENTS` (default 200,000) events are in; a row's latencies are the
//!   batches' commit times, its rate events per second;
//! - **verify**: `checkpoints::verify` of the whole chain with a signed checkpoint every
//!   10,000 events (the walk `fincert audit verify` does), in events per second.
//!
//! Each against its raw limit measured in the same run: **raw commit**, as many transactions
//! on as many writers, each only updating one shared row (the serialised commit every batch
//! makes, without the events), and **raw read**, the same pages read without hashing. It ends
//! with `ratio audit append batches/raw commits <engine>: x` and `ratio audit verify/raw read
//! <engine>: x` per engine (on PostgreSQL the events land in the month's partition).

// Test and benchmark code may unwrap, expect and panic: the `[workspace.lints]` denials are for
// the library and the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

mod common;

use common::{Row, pg_admin, row};

use std::time::{Duration, Instant};

use aws_lc_rs::{
    encoding::{AsDer, PublicKeyX509Der},
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair},
};
use fincert::{
    audit::{Action, Actor, AuditPublicKey, Checkpoint, NewEvent},
    checkpoints,
    clock::{Clock, SystemClock},
    config::Settings,
    store,
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, TransactionTrait};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `writers` tasks, each running `step(db, writer, i)` for i in 0..`per_writer`: every step's
/// latency, and the wall time of the whole.
async fn run_writers<F, Fut>(
    db: &DatabaseConnection,
    writers: usize,
    per_writer: usize,
    step: F,
) -> (Vec<Duration>, Duration)
where
    F: Fn(DatabaseConnection, usize, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (db, step) = (db.clone(), step.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_writer);
            for i in 0..per_writer {
                let t = Instant::now();
                step(db.clone(), w, i).await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    (lat, started.elapsed())
}

async fn append(db: &DatabaseConnection, label: &str, total: usize) -> Row {
    let writers = env_usize("FINCERT_BENCH_APPENDERS", 4).max(1);
    let batch = env_usize("FINCERT_BENCH_BATCH", 64).max(1);
    let per_writer = total / writers / batch;
    let (lat, wall) = run_writers(db, writers, per_writer, move |db, w, b| async move {
        let events: Vec<_> = (0..batch)
            .map(|i| {
                NewEvent::new(
                    Actor::Institution(format!("inst-{w}")),
                    Action::SignatureCreated,
                )
                .subject(format!("req-{w}-{b}-{i}"))
                .details(serde_json::json!({"digest": "ab".repeat(32), "n": i}))
            })
            .collect();
        let txn = db.begin().await.unwrap();
        store::audit::append_within(&txn, SystemClock.now(), &events)
            .await
            .unwrap();
        txn.commit().await.unwrap();
    })
    .await;
    let mut r = row(
        format!("audit append {label}, {writers} writers x batches of {batch}"),
        lat,
        wall,
    );
    r.per_sec *= batch as f64;
    r
}

async fn verify(db: &DatabaseConnection, label: &str) -> Row {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki: PublicKeyX509Der<'static> = pair.public_key().as_der().unwrap();
    let key = AuditPublicKey::new(spki.as_ref().to_vec());
    let (head_seq, _) = store::audit::head(db).await.unwrap();
    let mut prev: Option<Checkpoint> = None;
    let mut at = 10_000;
    while at <= head_seq {
        let rows = store::audit::page_after(db, at - 1).await.unwrap();
        let mut cp = Checkpoint::next(
            prev.as_ref(),
            at,
            &rows[0].hash,
            SystemClock.now(),
            &key.key_id,
        );
        cp.signature = pair
            .sign(&SystemRandom::new(), &cp.message())
            .unwrap()
            .as_ref()
            .to_vec();
        store::checkpoints::insert(db, &cp).await.unwrap();
        prev = Some(cp);
        at += 10_000;
    }
    let started = Instant::now();
    let report = checkpoints::verify(db, vec![key], None, None)
        .await
        .unwrap()
        .unwrap();
    let wall = started.elapsed();
    let mut r = row(
        format!(
            "audit verify {label}, {} events / {} checkpoints",
            report.events, report.checkpoints
        ),
        vec![wall],
        wall,
    );
    r.per_sec = report.events as f64 / wall.as_secs_f64();
    r
}

/// The raw limit of a batch: as many transactions as [`append`] commits, each only updating
/// one shared row (the head bump every batch makes, with the same contention), on the same
/// number of writers. Rows are transactions per second.
async fn raw_commits(db: &DatabaseConnection, label: &str, total: usize) -> Row {
    let writers = env_usize("FINCERT_BENCH_APPENDERS", 4).max(1);
    let batch = env_usize("FINCERT_BENCH_BATCH", 64).max(1);
    let per_writer = total / writers / batch;
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS bench_counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)",
    )
    .await
    .unwrap();
    db.execute_unprepared("INSERT INTO bench_counter (id, n) VALUES (1, 0)")
        .await
        .unwrap();
    let (lat, wall) = run_writers(db, writers, per_writer, |db, _, _| async move {
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared("UPDATE bench_counter SET n = n + 1 WHERE id = 1")
            .await
            .unwrap();
        txn.commit().await.unwrap();
    })
    .await;
    row(
        format!("raw commit {label} (one shared row), {writers} writers"),
        lat,
        wall,
    )
}

/// The raw limit of a walk: reading every event page by page as `verify` does, without
/// hashing or checking anything. Rows are events per second.
async fn raw_read(db: &DatabaseConnection, label: &str) -> Row {
    let started = Instant::now();
    let mut after = 0;
    let mut n = 0usize;
    loop {
        let page = store::audit::page_after(db, after).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        n += page.len();
    }
    let wall = started.elapsed();
    let mut r = row(format!("raw read {label}, {n} events"), vec![wall], wall);
    r.per_sec = n as f64 / wall.as_secs_f64();
    r
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let total = env_usize("FINCERT_BENCH_EVENTS", 200_000).max(1000);
    let mut rows = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    let db = store::connect(&sqlite).await.unwrap();
    store::migrate(&db).await.unwrap();
    let mut ratios = Vec::new();
    engine_rows(&db, "sqlite", total, &mut rows, &mut ratios).await;
    db.close().await.ok();

    let name = format!("fincert_bench_audit_{}", std::process::id());
    if let Ok(admin) = Database::connect(pg_admin()).await {
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let base = pg_admin()
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .unwrap();
        let mut pg = Settings::default();
        pg.database.url = format!("{base}/{name}");
        let db = store::connect(&pg).await.unwrap();
        store::migrate(&db).await.unwrap();
        engine_rows(&db, "postgres", total, &mut rows, &mut ratios).await;
        db.close().await.ok();
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .ok();
    } else {
        println!("PostgreSQL not reachable at FINCERT_BENCH_PG_ADMIN_URL: SQLite rows only");
    }
    println!("| row | ops | events (raw commit: transactions) per s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {} | {} |",
            r.name,
            r.ops,
            r.per_sec,
            ms(r.p50),
            ms(r.p99)
        );
    }
    for line in &ratios {
        println!("{line}");
    }
}

/// One engine's rows: append and its raw commit limit, verify and its raw read limit, and
/// the two ratio lines.
async fn engine_rows(
    db: &DatabaseConnection,
    label: &str,
    total: usize,
    rows: &mut Vec<Row>,
    ratios: &mut Vec<String>,
) {
    let batch = env_usize("FINCERT_BENCH_BATCH", 64).max(1) as f64;
    let raw = raw_commits(db, label, total).await;
    let appended = append(db, label, total).await;
    ratios.push(format!(
        "ratio audit append batches/raw commits {label}: {:.2}",
        appended.per_sec / batch / raw.per_sec
    ));
    rows.push(raw);
    rows.push(appended);
    // Once to warm the caches (the first pass reads from disk), then the measured one.
    raw_read(db, label).await;
    let read = raw_read(db, label).await;
    let verified = verify(db, label).await;
    ratios.push(format!(
        "ratio audit verify/raw read {label}: {:.2}",
        verified.per_sec / read.per_sec
    ));
    rows.push(read);
    rows.push(verified);
}
