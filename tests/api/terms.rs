use crate::{both_engines, helpers::*};
use fincert::config::Engine;

async fn current_terms_are_listed(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.get("/v1/terms").await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    let codes: Vec<_> = items.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["identity-check", "marketing", "privacy", "service"]);
    let required: Vec<_> = items
        .iter()
        .filter(|d| d["required"] == true)
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(required, ["identity-check", "privacy", "service"]);
    assert!(
        items
            .iter()
            .all(|d| d["version"] == 1 && !d["body"].as_str().unwrap().is_empty())
    );
}

/// A version published for a future date is not current until then.
async fn future_versions_wait_for_their_date(engine: Engine) {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app(engine).await;
    let when = fincert::clock::Clock::now(&app.clock) + chrono::Duration::days(10);
    let backend = app.db.get_database_backend();
    app.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO terms_documents (code, version, title, body, required, effective_at) VALUES ($1, $2, $3, $4, $5, $6)",
            [ "service".into(), 2.into(), "Service terms v2".into(), "New text".into(), true.into(), when.into() ],
        ))
        .await
        .unwrap();
    let version_of_service = |body: serde_json::Value| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["code"] == "service")
            .unwrap()["version"]
            .clone()
    };
    let body: serde_json::Value = app.get("/v1/terms").await.json().await.unwrap();
    assert_eq!(version_of_service(body), 1);
    app.clock.advance(chrono::Duration::days(11));
    let body: serde_json::Value = app.get("/v1/terms").await.json().await.unwrap();
    assert_eq!(version_of_service(body), 2);
}

both_engines!(
    current_terms_are_listed,
    future_versions_wait_for_their_date
);
