//! The raw HTTP helpers: one way to send a request with or without a bearer token, for tests
//! that check status codes, headers and problem documents (the typed client, `TestApp::api`,
//! hides those). Argument order everywhere: app, path, who (`Bearer`), body.

use fincert_client::proto::{ErrorCode, Problem};
use serde::Serialize;
use serde_json::Value;

use super::app::TestApp;

/// Who a raw request is sent as: a bearer token (`&str`, `&String`, `Some(..)`) or nobody
/// (`ANON`).
pub trait Bearer {
    fn bearer(&self) -> Option<&str>;
}

impl Bearer for str {
    fn bearer(&self) -> Option<&str> {
        Some(self)
    }
}

impl Bearer for String {
    fn bearer(&self) -> Option<&str> {
        Some(self)
    }
}

impl<T: Bearer + ?Sized> Bearer for &T {
    fn bearer(&self) -> Option<&str> {
        (**self).bearer()
    }
}

impl<T: Bearer> Bearer for Option<T> {
    fn bearer(&self) -> Option<&str> {
        self.as_ref().and_then(Bearer::bearer)
    }
}

/// No bearer token.
pub const ANON: Option<&str> = None;

/// Sends `method path` as `who`, with a JSON `body` and an `Idempotency-Key` if given.
pub async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    who: impl Bearer,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = who.bearer() {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(k) = idempotency_key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.expect("request sent")
}

/// A typed wire body (`fincert_client::proto`) as the JSON the raw helpers send.
pub fn body(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("a wire body is JSON")
}

/// `POST path` with a JSON body, as `who`.
pub async fn post(app: &TestApp, path: &str, who: impl Bearer, body: Value) -> reqwest::Response {
    call(app, reqwest::Method::POST, path, who, Some(body), None).await
}

/// `GET path`, as `who`.
pub async fn get(app: &TestApp, path: &str, who: impl Bearer) -> reqwest::Response {
    call(app, reqwest::Method::GET, path, who, None, None).await
}

/// Asserts a problem+json response with `status` and `code` (one `ErrorCode` knows); returns
/// the body.
pub async fn assert_problem(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert!(
        !matches!(ErrorCode::parse(code), ErrorCode::Other(_)),
        "{code} is not a stable code (fincert_client::proto::ErrorCode)"
    );
    assert_eq!(resp.status().as_u16(), status, "status");
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(ctype, "application/problem+json");
    let body: Value = resp.json().await.expect("problem body is JSON");
    let problem: Problem = serde_json::from_value(body.clone()).expect("a problem document");
    assert_eq!(problem.code, code, "{body}");
    assert_eq!(problem.status, status);
    assert_eq!(problem.kind, format!("urn:fincert:problem:{code}"));
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}

/// What a browser script (`tests/browser/*.mjs`) reported: its last JSON line. Fails, with
/// both of its outputs, unless the process succeeded and the report says `"ok": true`.
pub fn browser_report(out: &std::process::Output, what: &str) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("{}");
    let result: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    assert!(
        out.status.success() && result["ok"] == true,
        "{what} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    result
}
