//! The audit chain on a real database: appends, concurrency, append-only triggers, and
//! `fincert audit verify` catching tampering done behind the service's back.

use fincert::{
    audit::{Action, Actor, NewEvent},
    clock::Clock,
    config::Engine,
    store,
};
use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};

use crate::{both_engines, helpers::*};

fn event(i: usize) -> NewEvent {
    NewEvent::new(Actor::User(format!("user-{i}")), Action::SchemaMigrated)
        .subject(format!("cert-{i}"))
        .details(serde_json::json!({ "n": i, "note": "테스트" }))
}

async fn verify_cli(app: &TestApp) -> (i32, String) {
    let url = app.settings.database_url();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run_cli(
            &["audit", "verify"],
            &[("FINCERT_DATABASE_URL", url.as_str())],
        )
    })
    .await
    .unwrap();
    assert!(code == 0 || code == 1, "unexpected exit {code}: {err}");
    (code, out.trim().to_string())
}

/// Runs SQL as a database owner would, with the append-only triggers switched off.
async fn tamper(app: &TestApp, sql: &str) {
    let db = &app.db;
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let txn = db.begin().await.unwrap();
            txn.execute_unprepared("ALTER TABLE audit_events DISABLE TRIGGER USER")
                .await
                .unwrap();
            txn.execute_unprepared(sql).await.unwrap();
            txn.execute_unprepared("ALTER TABLE audit_events ENABLE TRIGGER USER")
                .await
                .unwrap();
            txn.commit().await.unwrap();
        }
        _ => {
            db.execute_unprepared("DROP TRIGGER audit_events_no_update")
                .await
                .unwrap();
            db.execute_unprepared("DROP TRIGGER audit_events_no_delete")
                .await
                .unwrap();
            db.execute_unprepared(sql).await.unwrap();
        }
    }
}

async fn append_some(app: &TestApp, n: usize) {
    let txn = app.db.begin().await.unwrap();
    let events: Vec<_> = (0..n).map(event).collect();
    store::audit::append(&txn, app.clock.now(), &events)
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

/// Events start-up wrote (migrations, CA creation); the tests' own events follow them.
async fn base(app: &TestApp) -> i64 {
    store::audit::head(&app.db).await.unwrap().0
}

async fn verify_catches_a_changed_row(engine: Engine) {
    let app = spawn_app(engine).await;
    let b = base(&app).await;
    assert!(b >= 1, "start-up is audited");
    append_some(&app, 5).await;
    assert_eq!(verify_cli(&app).await, (0, format!("ok {} events", b + 5)));

    let victim = b + 3;
    tamper(
        &app,
        &format!(
            r#"UPDATE audit_events SET details = '{{"n":2,"note":"changed"}}' WHERE seq = {victim}"#
        ),
    )
    .await;
    let (code, out) = verify_cli(&app).await;
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out,
        format!("broken: event {victim}: content does not match its hash (the row was changed)")
    );
}

async fn verify_catches_deleted_rows(engine: Engine) {
    let app = spawn_app(engine).await;
    let b = base(&app).await;
    append_some(&app, 4).await;
    tamper(
        &app,
        &format!("DELETE FROM audit_events WHERE seq = {}", b + 2),
    )
    .await;
    let (code, out) = verify_cli(&app).await;
    assert_eq!(code, 1);
    assert_eq!(
        out,
        format!(
            "broken: event {}: expected seq {} (an event is missing or was inserted)",
            b + 3,
            b + 2
        )
    );

    let app = spawn_app(engine).await;
    let b = base(&app).await;
    append_some(&app, 4).await;
    tamper(
        &app,
        &format!("DELETE FROM audit_events WHERE seq = {}", b + 4),
    )
    .await;
    let (code, out) = verify_cli(&app).await;
    assert_eq!(code, 1);
    assert_eq!(
        out,
        format!(
            "broken: chain head names event {} but the log ends at event {}",
            b + 4,
            b + 3
        )
    );
}

/// A rewritten row with a recomputed hash still breaks the link to the next row.
async fn verify_catches_a_rehashed_row(engine: Engine) {
    let app = spawn_app(engine).await;
    let b = base(&app).await;
    append_some(&app, 3).await;
    let mut rows = store::audit::page_after(&app.db, b).await.unwrap();
    let victim = &mut rows[1];
    let seq = victim.seq;
    victim.actor_id = "someone-else".into();
    let new_hash = hex::encode(victim.expected_hash());
    let sql = match engine {
        Engine::Postgres => format!(
            "UPDATE audit_events SET actor_id = 'someone-else', hash = '\\x{new_hash}' WHERE seq = {seq}"
        ),
        Engine::Sqlite => format!(
            "UPDATE audit_events SET actor_id = 'someone-else', hash = X'{new_hash}' WHERE seq = {seq}"
        ),
    };
    tamper(&app, &sql).await;
    let (code, out) = verify_cli(&app).await;
    assert_eq!(code, 1);
    assert_eq!(
        out,
        format!(
            "broken: event {}: prev_hash does not match the hash of event {seq}",
            seq + 1
        )
    );
}

/// The table refuses UPDATE and DELETE outright; only a database owner who drops the
/// triggers can change it, and `verify` catches that.
async fn the_log_is_append_only(engine: Engine) {
    let app = spawn_app(engine).await;
    let b = base(&app).await;
    append_some(&app, 2).await;
    let err = app
        .db
        .execute_unprepared("UPDATE audit_events SET action = 'x' WHERE seq = 1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = app
        .db
        .execute_unprepared("DELETE FROM audit_events")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert_eq!(verify_cli(&app).await, (0, format!("ok {} events", b + 2)));
}

/// Concurrent appenders queue on the head: no fork, no gap, no lost event.
async fn concurrent_appends_keep_one_chain(engine: Engine) {
    let app = spawn_app(engine).await;
    let b = base(&app).await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let db = app.db.clone();
        let at = app.clock.now();
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                let events = [event(t * 10 + i), event(t * 10 + i + 100)];
                if t % 2 == 0 {
                    let txn = db.begin().await.unwrap();
                    store::audit::append(&txn, at, &events).await.unwrap();
                    txn.commit().await.unwrap();
                } else {
                    // Straight on the pool: append makes its own transaction (a bare
                    // connection once let two appenders chain from the same head).
                    store::audit::append(&db, at, &events).await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store::audit::verify(&app.db).await.unwrap(), Ok(b + 80));
}

/// A rolled-back transaction leaves no event and no moved head.
async fn rolled_back_appends_leave_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let b = base(&app).await;
    let txn = app.db.begin().await.unwrap();
    store::audit::append(&txn, app.clock.now(), &[event(1)])
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(store::audit::head(&app.db).await.unwrap().0, b);
    assert_eq!(verify_cli(&app).await, (0, format!("ok {b} events")));
}

both_engines!(
    verify_catches_a_changed_row,
    verify_catches_deleted_rows,
    verify_catches_a_rehashed_row,
    the_log_is_append_only,
    concurrent_appends_keep_one_chain,
    rolled_back_appends_leave_nothing,
);
