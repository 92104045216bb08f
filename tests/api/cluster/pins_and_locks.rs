//! PIN attempts decided one at a time across nodes (exactly five wrong ones count), and a held
//! database lock answered with a bounded 503 instead of a hang.

use std::time::{Duration, Instant};

use fincert::{config::Engine, pki::profile::Usage};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::Value;

use super::pin_login;
use crate::helpers::*;

/// 20 parallel sign-ins with the right PIN all succeed; 100 parallel wrong ones (over both
/// nodes on PostgreSQL) count exactly five and lock the PIN.
pub(super) async fn pin_attempts_are_decided_one_at_a_time(engine: Engine) {
    let app = spawn_app_tuned(engine, |s| {
        s.auth.sign_in_per_certificate_per_minute = 1000;
        s.auth.sign_in_per_ip_per_minute = 1000;
    })
    .await;
    let b = if engine == Engine::Postgres {
        Some(spawn_node(&app).await)
    } else {
        None
    };
    let h = holder(&app, "330200000103", Usage::General).await;
    let id = h.cert.id.to_string();
    let fire = |pin: &'static str, n: usize| {
        let mut tasks = Vec::new();
        for i in 0..n {
            let base = match (&b, i % 2) {
                (Some(b), 1) => b.address.clone(),
                _ => app.address.clone(),
            };
            let (client, id) = (app.client.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                let r = pin_login(&client, &base, &id, pin).await;
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                (status, body["code"].as_str().unwrap_or("").to_owned())
            }));
        }
        tasks
    };
    for t in fire(PIN, 20) {
        assert_eq!(
            t.await.unwrap().0,
            200,
            "a right PIN is never locked out by its neighbours"
        );
    }
    // Without a selection ticket a locked PIN answers like a wrong one; the counter below says
    // how many were counted.
    for t in fire("135792", 100) {
        match t.await.unwrap() {
            (401, c) if c == "wrong_pin" => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    let decided: Vec<String> =
        fincert::store::audit::by_action(&app.db, fincert::audit::Action::KeyActivationFailed, 200)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.details)
            .collect();
    let locked = decided.iter().filter(|d| d.contains("PIN locked")).count();
    assert_eq!((decided.len() - locked, locked), (5, 95), "{decided:?}");
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            app.db.get_database_backend(),
            "SELECT failures, locked_at IS NOT NULL AS locked FROM pin_attempts WHERE custody_key_id = $1",
            [h.cert.custody_key_id.unwrap().to_string().into()],
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i32>("", "failures").unwrap(), 5);
    assert!(row.try_get::<bool>("", "locked").unwrap());
    assert_eq!(
        pin_login(&app.client, &app.address, &id, PIN)
            .await
            .status(),
        401
    );
    if let Some(b) = b {
        b.kill().await;
    }
    app.stop().await;
}

/// A transaction holding the audit chain's head (every change takes it) makes requests fail
/// within about two seconds with 503 and Retry-After, and /readyz says so while it lasts.
pub(super) async fn a_held_lock_is_a_503_within_two_and_a_half_seconds(engine: Engine) {
    let app = spawn_app(engine).await;
    let h = holder(&app, "330200000104", Usage::General).await;
    let id = h.cert.id.to_string();
    let locker = fincert::store::connect(&app.settings).await.unwrap();
    let txn = locker.begin().await.unwrap();
    let hold = match engine {
        Engine::Postgres => "SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE",
        Engine::Sqlite => "UPDATE audit_head SET seq = seq WHERE id = 1",
    };
    txn.execute_unprepared(hold).await.unwrap();

    let started = Instant::now();
    let resp = pin_login(&app.client, &app.address, &id, PIN).await;
    let took = started.elapsed();
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert_problem(resp, 503, "service_unavailable").await;
    assert!(
        took <= Duration::from_millis(2500),
        "the sign-in waited {took:?}"
    );
    if engine == Engine::Postgres {
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), 503, "/readyz while the lock is held");
        assert!(ready.headers().get("retry-after").is_some());
    }
    txn.rollback().await.unwrap();
    assert_eq!(
        pin_login(&app.client, &app.address, &id, PIN)
            .await
            .status(),
        200
    );
    assert_eq!(app.get("/readyz").await.status(), 200);
    let verified = fincert::store::audit::verify(&app.db).await.unwrap();
    assert!(verified.is_ok(), "nothing half-written: {verified:?}");
    locker.close().await.ok();
    app.stop().await;
}
