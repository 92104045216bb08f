//! Typed rows at the store's edge. A stored value that does not parse is a corrupt row: one
//! store error naming its table and column, answered as a 500 `internal_error` (CSC:
//! `server_error`, not the retryable 503 of an outage) that names nothing of it — never read
//! as some other status. And what the typed rows write is what was always stored.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{
    clock::Clock,
    config::Engine,
    pki::profile::Usage,
    signing::institution::Sector,
    store::{self, StoreError},
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

/// Runs SQL with positional `$n` values on either engine.
async fn exec(app: &TestApp, sql: &str, values: Vec<sea_orm::Value>) {
    let backend = app.db.get_database_backend();
    let sql = if backend == DbBackend::Sqlite {
        sql.replace('$', "?")
    } else {
        sql.to_owned()
    };
    let done = app
        .db
        .execute_raw(Statement::from_sql_and_values(backend, &sql, values))
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1, "{sql}");
}

/// The text in column `col` of the row of `table` with this id, as stored.
async fn stored(app: &TestApp, table: &str, col: &str, id: &str) -> String {
    let backend = app.db.get_database_backend();
    let p = if backend == DbBackend::Sqlite {
        "?1"
    } else {
        "$1"
    };
    app.db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!("SELECT {col} AS v FROM {table} WHERE id = {p}"),
            [id.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "v")
        .unwrap()
}

fn assert_corrupt(err: StoreError, table: &str, column: &str) {
    match err {
        StoreError::Corrupt {
            table: t,
            column: c,
            ..
        } => assert_eq!((t, c), (table, column)),
        other => panic!("expected a corrupt {table}.{column}, got {other:?}"),
    }
}

/// A 500 problem that says nothing of what is corrupt.
async fn assert_internal(resp: reqwest::Response, hidden: &[&str]) {
    let body = assert_problem(resp, 500, "internal_error").await;
    for h in hidden {
        assert!(!body.to_string().contains(h), "{h} in {body}");
    }
}

async fn a_corrupt_certificate_row_is_an_internal_error(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330900000001", Usage::General).await;
    consent(&h, &bank).await;
    let id = h.cert.id.to_string();

    // What the typed row wrote is what was always stored: the names, a lower-case id.
    for (col, text) in [
        ("status", "active"),
        ("kind", "financial"),
        ("usage", "general"),
        ("storage", "cloud"),
        ("id", id.as_str()),
    ] {
        assert_eq!(stored(&app, "certificates", col, &id).await, text, "{col}");
    }
    let key = h.cert.custody_key_id.unwrap();
    assert_eq!(
        stored(&app, "certificates", "custody_key_id", &id).await,
        key.hyphenated().to_string()
    );

    // An unknown status is no status: not revoked, not active, but a corrupt row.
    exec(
        &app,
        "UPDATE certificates SET status = 'on_hold' WHERE id = $1",
        vec![id.clone().into()],
    )
    .await;
    assert_corrupt(
        store::pki::certificate_by_id(&app.db, &id)
            .await
            .unwrap_err(),
        "certificates",
        "status",
    );
    let hidden = ["on_hold", "certificates"];
    let path = format!("/v1/certificates/{id}");
    assert_internal(get(&app, &path, &h.token).await, &hidden).await;
    assert_internal(get(&app, "/v1/certificates", &h.token).await, &hidden).await;
    assert_internal(
        get(&app, "/v1/institution/certificates", &bank.token).await,
        &hidden,
    )
    .await;
    // CSC answers it as the server error it is: a retry (what its 503 asks for) cannot mend it.
    let resp = post(
        &app,
        "/csc/v1/credentials/info",
        bank.token.as_str(),
        json!({"credentialID": id}),
    )
    .await;
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "server_error", "{body}");
    assert!(!body.to_string().contains("on_hold"), "{body}");
    // Reading wrote nothing: the value is still there for the operator to find and mend.
    assert_eq!(stored(&app, "certificates", "status", &id).await, "on_hold");

    // The same for an id of the wrong form (it could not be found again by its own id), and for
    // a revocation reason RFC 5280 does not define.
    exec(
        &app,
        "UPDATE certificates SET status = 'revoked', custody_key_id = $1 WHERE id = $2",
        vec![key.simple().to_string().into(), id.clone().into()],
    )
    .await;
    assert_corrupt(
        store::pki::certificate_by_id(&app.db, &id)
            .await
            .unwrap_err(),
        "certificates",
        "custody_key_id",
    );
    exec(
        &app,
        "UPDATE certificates SET custody_key_id = $1, revocation_reason = 7 WHERE id = $2",
        vec![key.to_string().into(), id.clone().into()],
    )
    .await;
    assert_corrupt(
        store::pki::revoked_for_crl(&app.db, "issuing", app.clock.now())
            .await
            .unwrap_err(),
        "certificates",
        "revocation_reason",
    );
    exec(
        &app,
        "UPDATE certificates SET revocation_reason = 1 WHERE id = $1",
        vec![id.clone().into()],
    )
    .await;
    let revoked = store::pki::certificate_by_id(&app.db, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        revoked.revocation_reason,
        Some(fincert::domain::revocation_reason::CrlReason::KeyCompromise)
    );
}

async fn a_corrupt_request_or_enrolment_is_an_internal_error(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330900000002", Usage::General).await;
    consent(&h, &bank).await;
    let digest = STANDARD.encode([7u8; 32]);
    let resp = call(
        &app,
        reqwest::Method::POST,
        "/v1/signature-requests",
        &bank.token,
        Some(json!({"certificate_id": h.cert.id, "digests": [digest], "display_text": "Pay 10 KRW to A"})),
        Some(&uuid::Uuid::new_v4().to_string()),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let req: Value = resp.json().await.unwrap();
    let id = req["id"].as_str().unwrap().to_owned();
    // Stored exactly as before: the names and a compact JSON array of the base64 digests.
    for (col, text) in [
        ("status", "pending".to_owned()),
        ("purpose", "sign".to_owned()),
        ("format", "raw".to_owned()),
        ("digests", format!("[\"{digest}\"]")),
    ] {
        assert_eq!(
            stored(&app, "signature_requests", col, &id).await,
            text,
            "{col}"
        );
    }

    exec(
        &app,
        "UPDATE signature_requests SET format = 'pdf' WHERE id = $1",
        vec![id.clone().into()],
    )
    .await;
    assert_corrupt(
        store::signing::request(&app.db, &id).await.unwrap_err(),
        "signature_requests",
        "format",
    );
    let hidden = ["pdf", "signature_requests"];
    let path = format!("/v1/signature-requests/{id}");
    assert_internal(get(&app, &path, &bank.token).await, &hidden).await;
    assert_internal(get(&app, "/v1/approvals", &h.token).await, &hidden).await;

    // An enrolment at a step that does not exist is not "completed": it is corrupt.
    let resp = post(&app, "/v1/enrolments", ANON, json!({"purpose": "issue"})).await;
    assert_eq!(resp.status(), 201);
    let e: Value = resp.json().await.unwrap();
    let eid = e["id"].as_str().unwrap().to_owned();
    assert_eq!(stored(&app, "enrolments", "step", &eid).await, "terms");
    assert_eq!(stored(&app, "enrolments", "purpose", &eid).await, "issue");
    exec(
        &app,
        "UPDATE enrolments SET step = 'finished' WHERE id = $1",
        vec![eid.clone().into()],
    )
    .await;
    assert_corrupt(
        store::enrolment::get(&app.db, &eid).await.unwrap_err(),
        "enrolments",
        "step",
    );
    let hidden = ["finished", "enrolments"];
    assert_internal(
        get(&app, &format!("/v1/enrolments/{eid}"), ANON).await,
        &hidden,
    )
    .await;
}

both_engines!(
    a_corrupt_certificate_row_is_an_internal_error,
    a_corrupt_request_or_enrolment_is_an_internal_error,
);
