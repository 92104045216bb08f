use crate::{both_engines, helpers::*};
use fincert::config::Engine;

async fn healthz_and_readyz_answer(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.get("/healthz").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-request-id").is_some());
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );

    let resp = app.get("/readyz").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["database"],
        "ok"
    );
}

/// With its database gone, the node says it is not ready (503 problem) but stays alive.
/// (PostgreSQL: the engine whose database can go away under a running node.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_without_the_database() {
    let mut app = spawn_app(Engine::Postgres).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.test_db.drop_now().await;
    assert_problem(app.get("/readyz").await, 503, "service_unavailable").await;
    assert_problem(app.get("/v1/terms").await, 503, "service_unavailable").await;
    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// Request counts and latencies by route pattern, never by raw path.
async fn metrics_count_requests_by_route(engine: Engine) {
    let app = spawn_app(engine).await;
    for _ in 0..3 {
        app.get("/healthz").await;
    }
    app.get("/no/such/route/123").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(
            r#"fincert_http_requests_total{method="GET",route="/healthz",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        !text.contains("/no/such/route"),
        "raw paths never become labels"
    );
    assert!(text.contains(
        "fincert_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\""
    ));
}

both_engines!(healthz_and_readyz_answer, metrics_count_requests_by_route);

/// SQLite's WAL is checkpointed beside the writer, not inside a commit: the node's writer
/// leaves the WAL alone, and its reader-side checkpoint copies what others wrote into the
/// database file within a second (here another connection that does not checkpoint either).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_run_beside_the_writer() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app(Engine::Sqlite).await;
    let file = app.test_db.data_dir.path().join("test.sqlite3");
    app.db
        .execute_unprepared("PRAGMA wal_autocheckpoint = 0")
        .await
        .unwrap();
    app.db
        .execute_unprepared("CREATE TABLE wal_probe (n INTEGER, pad BLOB)")
        .await
        .unwrap();
    // Let a checkpoint take the table's creation in, then measure from there.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let before = std::fs::metadata(&file).unwrap().len();
    for n in 0..200 {
        app.db
            .execute_unprepared(&format!(
                "INSERT INTO wal_probe VALUES ({n}, zeroblob(4000))"
            ))
            .await
            .unwrap();
    }
    // 200 pages of rows are in the WAL now; the node's checkpointer moves them.
    let mut grown = 0;
    for _ in 0..40 {
        grown = std::fs::metadata(&file)
            .unwrap()
            .len()
            .saturating_sub(before);
        if grown >= 200 * 4000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        grown >= 200 * 4000,
        "the database file grew by {grown} bytes: the WAL was not checkpointed"
    );
    // And the node still writes after the checkpoints: a holder is made and signs in.
    let h = holder(&app, "wal-probe", fincert::pki::profile::Usage::General).await;
    assert!(!h.token.is_empty());
}
