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

async fn verify_catches_a_changed_row(engine: Engine) {
    let app = spawn_app(engine).await;
    append_some(&app, 5).await;
    // Start-up's migration event plus five.
    assert_eq!(verify_cli(&app).await, (0, "ok 6 events".to_string()));

    tamper(
        &app,
        r#"UPDATE audit_events SET details = '{"n":2,"note":"changed"}' WHERE seq = 4"#,
    )
    .await;
    let (code, out) = verify_cli(&app).await;
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out,
        "broken: event 4: content does not match its hash (the row was changed)"
    );
}

async fn verify_catches_deleted_rows(engine: Engine) {
    let app = spawn_app(engine).await;
    append_some(&app, 4).await;
    tamper(&app, "DELETE FROM audit_events WHERE seq = 3").await;
    let (code, out) = verify_cli(&app).await;
    assert_eq!(
        (code, out.as_str()),
        (
            1,
            "broken: event 4: expected seq 3 (an event is missing or was inserted)"
        )
    );

    let app = spawn_app(engine).await;
    append_some(&app, 4).await;
    tamper(&app, "DELETE FROM audit_events WHERE seq = 5").await;
    let (code, out) = verify_cli(&app).await;
    assert_eq!(
        (code, out.as_str()),
        (
            1,
            "broken: chain head names event 5 but the log ends at event 4"
        )
    );
}

/// A rewritten row with a recomputed hash still breaks the link to the next row.
async fn verify_catches_a_rehashed_row(engine: Engine) {
    let app = spawn_app(engine).await;
    append_some(&app, 3).await;
    let mut rows = store::audit::page_after(&app.db, 0).await.unwrap();
    let victim = &mut rows[1];
    victim.actor_id = "someone-else".into();
    let new_hash = hex::encode(victim.expected_hash());
    let sql = match engine {
        Engine::Postgres => format!(
            "UPDATE audit_events SET actor_id = 'someone-else', hash = '\\x{new_hash}' WHERE seq = 2"
        ),
        Engine::Sqlite => format!(
            "UPDATE audit_events SET actor_id = 'someone-else', hash = X'{new_hash}' WHERE seq = 2"
        ),
    };
    tamper(&app, &sql).await;
    let (code, out) = verify_cli(&app).await;
    assert_eq!(
        (code, out.as_str()),
        (
            1,
            "broken: event 3: prev_hash does not match the hash of event 2"
        )
    );
}

/// The table refuses UPDATE and DELETE outright; only a database owner who drops the
/// triggers can change it, and `verify` catches that.
async fn the_log_is_append_only(engine: Engine) {
    let app = spawn_app(engine).await;
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
    assert_eq!(verify_cli(&app).await, (0, "ok 3 events".to_string()));
}

/// Concurrent appenders queue on the head: no fork, no gap, no lost event.
async fn concurrent_appends_keep_one_chain(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let db = app.db.clone();
        let at = app.clock.now();
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                let txn = db.begin().await.unwrap();
                store::audit::append(&txn, at, &[event(t * 10 + i), event(t * 10 + i + 100)])
                    .await
                    .unwrap();
                txn.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store::audit::verify(&app.db).await.unwrap(), Ok(81));
}

/// A rolled-back transaction leaves no event and no moved head.
async fn rolled_back_appends_leave_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let txn = app.db.begin().await.unwrap();
    store::audit::append(&txn, app.clock.now(), &[event(1)])
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(store::audit::head(&app.db).await.unwrap().0, 1);
    assert_eq!(verify_cli(&app).await, (0, "ok 1 events".to_string()));
}

both_engines!(
    verify_catches_a_changed_row,
    verify_catches_deleted_rows,
    verify_catches_a_rehashed_row,
    the_log_is_append_only,
    concurrent_appends_keep_one_chain,
    rolled_back_appends_leave_nothing,
);
