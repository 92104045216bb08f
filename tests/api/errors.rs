//! Every failure the framework can produce comes back as problem+json with a stable code.

use crate::helpers::*;
use fincert::config::Engine;

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = spawn_app(Engine::Sqlite).await;
    let body = assert_problem(app.get("/v1/nothing-here").await, 404, "route_not_found").await;
    assert!(body["request_id"].is_string());

    let resp = app.request(reqwest::Method::DELETE, "/healthz").await;
    assert_eq!(resp.headers().get("allow").unwrap(), "GET");
    assert_problem(resp, 405, "method_not_allowed").await;

    let resp = app
        .client
        .post(app.url("/v1/terms"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_replaced() {
    let app = spawn_app(Engine::Sqlite).await;
    let resp = app
        .client
        .get(app.url("/nowhere"))
        .header("x-request-id", "bank-trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("x-request-id").unwrap(), "bank-trace-42");
    let body = assert_problem(resp, 404, "route_not_found").await;
    assert_eq!(body["request_id"], "bank-trace-42");

    // A malformed id (spaces, too long) is not trusted: a fresh UUID replaces it.
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "x".repeat(100))
        .send()
        .await
        .unwrap();
    let id = resp
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
}

#[tokio::test]
async fn responses_carry_safe_headers() {
    let app = spawn_app(Engine::Sqlite).await;
    let resp = app.get("/v1/terms").await;
    assert_eq!(
        resp.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
}
