//! `openapi.yaml` and the route table stay in step: every route is described and every
//! described operation exists on the running server.

use std::collections::BTreeSet;

use fincert::config::Engine;

use crate::helpers::*;

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn spec() -> serde_json::Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    serde_norway::from_str(&text).expect("openapi.yaml parses")
}

fn spec_operations(spec: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

fn strip_patterns(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    let mut skipping = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push(c);
            }
            ':' if in_param => skipping = true,
            '}' => {
                in_param = false;
                skipping = false;
                out.push(c);
            }
            _ if skipping => {}
            _ => out.push(c),
        }
    }
    out
}

#[test]
fn spec_and_routes_match() {
    let spec = spec();
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3.1"),
        "OpenAPI 3.1"
    );
    let documented = spec_operations(&spec);
    // actix's `{name:regex}` is OpenAPI's `{name}`.
    let routed: BTreeSet<_> = fincert::api::endpoints()
        .iter()
        .map(|e| (e.method.to_string(), strip_patterns(e.path)))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes the spec does not describe: {undocumented:?}"
    );
    assert!(
        missing.is_empty(),
        "spec operations with no route: {missing:?}"
    );
}

#[test]
fn every_operation_has_an_id_and_an_error_response() {
    let spec = spec();
    let mut ids = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: operationId"));
            assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
            assert!(
                op["responses"]["default"].is_object(),
                "{method} {path}: default problem response"
            );
        }
    }
}

/// Against the live server: each documented operation is routed (never the 404/405 of an
/// unknown route), and the served spec is the file.
#[tokio::test]
async fn documented_operations_exist_on_the_server() {
    let app = spawn_app(Engine::Sqlite).await;
    for (method, path) in spec_operations(&spec()) {
        let concrete = path
            .replace("{name}", "root.crt")
            .replace('{', "")
            .replace('}', "");
        let resp = app
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                &concrete,
            )
            .await;
        let status = resp.status().as_u16();
        if status == 404 || status == 405 {
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            assert!(
                body["code"] != "route_not_found" && body["code"] != "method_not_allowed",
                "{method} {path} is documented but not routed"
            );
        }
    }
    let served = app.get("/openapi.yaml").await;
    assert_eq!(
        served.headers().get("content-type").unwrap(),
        "application/yaml"
    );
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    assert_eq!(served.text().await.unwrap(), file);
}
