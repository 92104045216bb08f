//! The audit log at scale (#17 part 2): monthly partitions on PostgreSQL, `fincert audit
//! archive` and `audit verify --archive` on both engines. Whole months leave the live log into
//! files and the chain is still walked from genesis through them; an archived event edited, a
//! month's chain recomputed, a month's files missing are each reported. Time never goes back
//! along the chain, which is what makes a month a clean cut. Also: the migration carries a
//! database's existing events into the partitions with the chain intact.

use std::{path::Path, sync::Arc};

use chrono::{DateTime, Duration, Utc};
use fincert::{
    audit::{Action, Actor, NewEvent, Record, chain},
    checkpoints::archive::{self, ArchiveError, Month},
    clock::{Clock, SharedClock},
    config::Engine,
    store::{self, audit::ArchivedMonth},
};
use fincert_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

use crate::{
    both_engines,
    checkpoints::{append_some, broken, checkpoint, head, verify_cli},
    helpers::*,
};

/// Archives every month before the app clock's month into `dir`.
async fn archive_now(app: &TestApp, dir: &Path) -> Result<Vec<ArchivedMonth>, ArchiveError> {
    let clock: SharedClock = Arc::new(app.clock.clone());
    archive::archive(&app.db, &clock, Month::of(app.clock.now()), dir).await
}

/// Moves the app clock on and makes the partitions the service's ticker would.
async fn advance_days(app: &TestApp, days: i64) {
    app.clock.advance(Duration::days(days));
    let now = app.clock.now();
    store::audit::ensure_partitions(&app.db, now, now + Duration::days(62))
        .await
        .unwrap();
}

async fn scalar<T: sea_orm::TryGetable>(app: &TestApp, sql: &str) -> T {
    let row = app
        .db
        .query_one_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_lines(path: &Path, lines: &[serde_json::Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

fn record_of(v: &serde_json::Value) -> Record {
    Record {
        seq: v["seq"].as_i64().unwrap(),
        occurred_at: DateTime::parse_from_rfc3339(v["occurred_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc),
        actor_kind: v["actor_kind"].as_str().unwrap().into(),
        actor_id: v["actor_id"].as_str().unwrap().into(),
        action: v["action"].as_str().unwrap().into(),
        subject: v["subject"].as_str().map(Into::into),
        details: v["details"].as_str().unwrap().into(),
        prev_hash: hex::decode(v["prev_hash"].as_str().unwrap()).unwrap(),
        hash: hex::decode(v["hash"].as_str().unwrap()).unwrap(),
    }
}

/// Three months of events with a checkpoint in each; the two older months archived. The live
/// log then starts after them (PostgreSQL: their partitions are gone), `verify` walks from where
/// the archive ended and says so, `verify --archive` walks from genesis through the files, and
/// every tamper of the files is named.
async fn archived_months_are_walked_through_the_archive(engine: Engine) {
    let app = spawn_app(engine).await;
    let dir = app.settings.data_dir.join("audit-archive");
    let dir_arg = dir.display().to_string();
    append_some(&app, 5).await;
    checkpoint(&app).await;
    let m0 = Month::of(app.clock.now());
    advance_days(&app, 32).await;
    append_some(&app, 5).await;
    checkpoint(&app).await;
    let m1 = Month::of(app.clock.now());
    advance_days(&app, 32).await;
    append_some(&app, 3).await;
    checkpoint(&app).await;

    let months = archive_now(&app, &dir).await.unwrap();
    let names: Vec<&str> = months.iter().map(|m| m.month.as_str()).collect();
    assert_eq!(names, [m0.to_string(), m1.to_string()]);
    assert_eq!(months[0].first_seq, 1);
    assert_eq!(months[1].first_seq, months[0].last_seq + 1);
    assert_eq!(
        months[1].events, 5,
        "the second month holds its five events"
    );
    let archived_upto = months[1].last_seq;
    let live = store::audit::page_after(&app.db, 0).await.unwrap();
    assert_eq!(
        live[0].seq,
        archived_upto + 1,
        "the live log starts after the archive"
    );
    assert_eq!(
        store::audit::archived_months(&app.db).await.unwrap(),
        months
    );
    if engine == Engine::Postgres {
        for m in [m0, m1] {
            let gone: bool = scalar(
                &app,
                &format!("SELECT to_regclass('{}') IS NULL", m.partition()),
            )
            .await;
            assert!(gone, "partition {} dropped", m.partition());
        }
    }
    let audited = store::audit::by_action(&app.db, Action::AuditArchived, 5)
        .await
        .unwrap();
    let subjects: Vec<_> = audited.iter().filter_map(|r| r.subject.clone()).collect();
    assert_eq!(subjects, [m1.to_string(), m0.to_string()]);
    assert_eq!(audited[0].actor_kind, "operator");

    let n = head(&app).await;
    let (code, out, err) = verify_cli(&app, &[]).await;
    assert_eq!(
        (code, out.as_str()),
        (0, format!("ok {n} events").as_str()),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "events 1..{archived_upto} are archived and were not walked"
        )),
        "{err}"
    );
    let (code, out, err) = verify_cli(&app, &["--archive", &dir_arg]).await;
    assert_eq!(
        (code, out.as_str()),
        (0, format!("ok {n} events").as_str()),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "events 1..{archived_upto} walked from the archive"
        )),
        "{err}"
    );
    assert!(
        archive_now(&app, &dir).await.unwrap().is_empty(),
        "nothing is archived twice"
    );

    // The manifest is plain JSON an auditor can read: the month's range and its checkpoints.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join(format!("audit-{m0}.manifest.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["format"], "fincert-audit-archive-v1");
    assert_eq!(manifest["first_seq"], 1);
    assert_eq!(manifest["checkpoints"].as_array().unwrap().len(), 1);

    // An archived event edited in the file fails its own hash.
    let events = dir.join(format!("audit-{m0}.events.jsonl"));
    let original = std::fs::read(&events).unwrap();
    let mut edited = read_lines(&events);
    edited[1]["details"] = serde_json::json!(r#"{"n":"rewritten"}"#);
    write_lines(&events, &edited);
    assert_eq!(
        broken(&app, &["--archive", &dir_arg]).await,
        "broken: event 2: content does not match its hash (the row was changed)"
    );
    // Every hash after it recomputed: the month's signed checkpoint contradicts it.
    let mut prev = hex::decode(edited[0]["hash"].as_str().unwrap()).unwrap();
    for line in edited.iter_mut().skip(1) {
        let mut r = record_of(line);
        r.prev_hash = prev.clone();
        r.hash = r.expected_hash().to_vec();
        line["prev_hash"] = hex::encode(&r.prev_hash).into();
        line["hash"] = hex::encode(&r.hash).into();
        prev = r.hash;
    }
    write_lines(&events, &edited);
    let out = broken(&app, &["--archive", &dir_arg]).await;
    assert!(
        out.contains("hash differs from the one checkpoint 1 signed"),
        "{out}"
    );
    std::fs::write(&events, &original).unwrap();
    assert_eq!(verify_cli(&app, &["--archive", &dir_arg]).await.0, 0);

    // A month's files gone, or the archive of another month slipped in, is named.
    let manifest1 = dir.join(format!("audit-{m1}.manifest.json"));
    let kept = std::fs::read(&manifest1).unwrap();
    std::fs::remove_file(&manifest1).unwrap();
    assert_eq!(
        broken(&app, &["--archive", &dir_arg]).await,
        format!("broken: archive {m1}: recorded as archived but not in the archive directory")
    );
    std::fs::write(&manifest1, &kept).unwrap();
    let stranger = m1.next().next().next();
    std::fs::write(dir.join(format!("audit-{stranger}.manifest.json")), &kept).unwrap();
    assert_eq!(
        broken(&app, &["--archive", &dir_arg]).await,
        format!(
            "broken: archive {stranger}: in the archive directory but not recorded as archived"
        )
    );
    std::fs::remove_file(dir.join(format!("audit-{stranger}.manifest.json"))).unwrap();
    assert_eq!(verify_cli(&app, &["--archive", &dir_arg]).await.0, 0);
}

/// What cannot be archived is refused with its reason and removes nothing: a bad month, the
/// month still being written, a file of another log in the way, and (PostgreSQL) events that
/// went to the default partition.
async fn what_cannot_be_archived_is_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let dir = app.settings.data_dir.join("audit-archive");
    let dir_arg = dir.display().to_string();
    let url = app.settings.database_url();
    let data = app.settings.data_dir.display().to_string();
    let cli = |before: String| {
        let (url, data, dir_arg) = (url.clone(), data.clone(), dir_arg.clone());
        tokio::task::spawn_blocking(move || {
            run_cli(
                &["audit", "archive", "--before", &before, "--to", &dir_arg],
                &[
                    ("FINCERT_DATABASE_URL", url.as_str()),
                    ("FINCERT_DATA_DIR", data.as_str()),
                ],
            )
        })
    };
    let (code, _, err) = cli("2026-13".into()).await.unwrap();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a month: write it as YYYY-MM"), "{err}");
    let next = Month::of(fincert::clock::SystemClock.now()).next();
    let (code, _, err) = cli(next.to_string()).await.unwrap();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is still being written"), "{err}");
    let this = Month::of(fincert::clock::SystemClock.now());
    let (code, out, err) = cli(this.to_string()).await.unwrap();
    assert_eq!(
        (code, out.trim()),
        (0, format!("nothing to archive before {this}").as_str()),
        "{err}"
    );

    // A file of the same name with other contents is never overwritten.
    let m0 = Month::of(app.clock.now());
    std::fs::create_dir_all(&dir).unwrap();
    let squatter = dir.join(format!("audit-{m0}.events.jsonl"));
    std::fs::write(&squatter, "not ours\n").unwrap();
    append_some(&app, 2).await;
    let first_head = head(&app).await;
    // Far ahead, with no partition made for it (the ticker did not run).
    app.clock.advance(Duration::days(5 * 365));
    append_some(&app, 2).await;
    app.clock.advance(Duration::days(40));
    let err = archive_now(&app, &dir).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("is already there with other contents"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&squatter).unwrap(), "not ours\n");
    assert!(
        store::audit::archived_months(&app.db)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store::audit::page_after(&app.db, 0).await.unwrap()[0].seq,
        1
    );
    std::fs::remove_file(&squatter).unwrap();

    let far = Month::of(app.clock.now() - Duration::days(40));
    match engine {
        Engine::Postgres => {
            let part: String = scalar(
                &app,
                &format!(
                    "SELECT tableoid::regclass::text FROM audit_events WHERE seq = {}",
                    first_head + 1
                ),
            )
            .await;
            assert_eq!(part, "audit_events_default");
            let err = archive_now(&app, &dir).await.unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "the events of {far} are in the default partition audit_events_default (no \
                     partition of their own was made in time), which cannot be archived by \
                     month (archived before stopping: {m0})"
                )
            );
        }
        Engine::Sqlite => {
            let months = archive_now(&app, &dir).await.unwrap();
            let names: Vec<_> = months.iter().map(|m| m.month.clone()).collect();
            assert_eq!(names, [m0.to_string(), far.to_string()]);
        }
    }
    assert_eq!(verify_cli(&app, &["--archive", &dir_arg]).await.0, 0);
}

/// A batch stamped earlier than the event before it (a node whose clock is behind) takes the
/// time of that event: time never goes back along the chain.
async fn time_never_goes_back_along_the_chain(engine: Engine) {
    let app = spawn_app(engine).await;
    let event =
        |n: usize| NewEvent::new(Actor::System, Action::SchemaMigrated).subject(format!("{n}"));
    let t = app.clock.now();
    store::audit::append(&app.db, t, &[event(1)]).await.unwrap();
    store::audit::append(&app.db, t - Duration::hours(1), &[event(2)])
        .await
        .unwrap();
    store::audit::append(&app.db, t + Duration::hours(1), &[event(3)])
        .await
        .unwrap();
    let n = head(&app).await;
    let last = store::audit::page_after(&app.db, n - 3).await.unwrap();
    let times: Vec<_> = last.iter().map(|r| r.occurred_at).collect();
    assert_eq!(times, [t, t, t + Duration::hours(1)]);
    assert_eq!(store::audit::verify(&app.db).await.unwrap(), Ok(n));
}

both_engines!(
    archived_months_are_walked_through_the_archive,
    what_cannot_be_archived_is_refused,
    time_never_goes_back_along_the_chain,
);

/// PostgreSQL: `audit_events` is partitioned by month, each event in its month's partition,
/// and every partition is as append-only as the table (row triggers cloned, `TRUNCATE` refused
/// on each). Months are made once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_partitions_are_monthly_and_append_only() {
    let app = spawn_app(Engine::Postgres).await;
    let partitioned: i64 = scalar(
        &app,
        "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'audit_events'::regclass",
    )
    .await;
    assert_eq!(partitioned, 1);
    let month = Month::of(app.clock.now());
    let part: String = scalar(
        &app,
        "SELECT tableoid::regclass::text FROM audit_events WHERE seq = 1",
    )
    .await;
    assert_eq!(part, month.partition());
    for sql in [
        format!(
            "UPDATE {} SET action = 'x' WHERE seq = 1",
            month.partition()
        ),
        format!("DELETE FROM {}", month.partition()),
        format!("TRUNCATE {}", month.partition()),
        "TRUNCATE audit_events_default".into(),
        "TRUNCATE audit_events".into(),
    ] {
        let err = app.db.execute_unprepared(&sql).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let later = app.clock.now() + Duration::days(200);
    let made = store::audit::ensure_partitions(&app.db, later, later + Duration::days(62))
        .await
        .unwrap();
    assert_eq!(made, 3);
    let again = store::audit::ensure_partitions(&app.db, later, later + Duration::days(62))
        .await
        .unwrap();
    assert_eq!(again, 0, "a month is made once");
}

/// PostgreSQL: a database with events from three months, migrated to partitions, keeps every
/// event in its month's partition with the chain intact, and its head's time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migration_carries_existing_events_into_partitions() {
    let tdb = TestDb::new(Engine::Postgres).await;
    let db = Database::connect(&tdb.url).await.unwrap();
    let before = Migrator::get_pending_migrations(&db).await.unwrap().len();
    // Everything up to (not including) the partitions migration.
    let upto = u32::try_from(
        Migrator::migrations()
            .iter()
            .position(|m| m.name().contains("000029"))
            .unwrap(),
    )
    .unwrap();
    Migrator::up(&db, Some(upto)).await.unwrap();
    assert!(before > usize::try_from(upto).unwrap());
    let now = fincert::clock::SystemClock.now();
    let mut seq = 0;
    let mut hash = fincert::audit::GENESIS.to_vec();
    let mut months = Vec::new();
    for back in [70, 35, 0] {
        let at = now - Duration::days(back);
        months.push(Month::of(at));
        let events: Vec<_> = (0..4)
            .map(|i| {
                NewEvent::new(Actor::System, Action::SchemaMigrated).subject(format!("{back}-{i}"))
            })
            .collect();
        for r in chain(seq, &hash, at, &events) {
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO audit_events (seq, occurred_at, actor_kind, actor_id, action, \
                 subject, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                [
                    r.seq.into(),
                    r.occurred_at.into(),
                    r.actor_kind.clone().into(),
                    r.actor_id.clone().into(),
                    r.action.clone().into(),
                    r.subject.clone().into(),
                    r.details.clone().into(),
                    r.prev_hash.clone().into(),
                    r.hash.clone().into(),
                ],
            ))
            .await
            .unwrap();
            seq = r.seq;
            hash = r.hash;
        }
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
        [seq.into(), hash.clone().into()],
    ))
    .await
    .unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(store::audit::verify(&db).await.unwrap(), Ok(12));
    for (i, m) in months.iter().enumerate() {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT count(*) FROM audit_events WHERE tableoid = '{}'::regclass \
                     AND seq BETWEEN {} AND {}",
                    m.partition(),
                    i * 4 + 1,
                    i * 4 + 4
                ),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 4, "{m}");
    }
    // The head kept the last event's time: an append from a clock behind it takes that time.
    let last_at = now;
    store::audit::append(
        &db,
        now - Duration::days(100),
        &[NewEvent::new(Actor::System, Action::SchemaMigrated)],
    )
    .await
    .unwrap();
    let appended = store::audit::page_after(&db, 12).await.unwrap();
    assert_eq!(appended[0].occurred_at, last_at);
    db.close().await.unwrap();
}
