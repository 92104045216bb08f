//! `openapi.yaml` and the route table stay in step: every route is described and every
//! described operation exists on the running server.

use std::{collections::BTreeSet, sync::OnceLock};

use fincert::config::Engine;
use fincert_client::proto::{ErrorCode, OAuthErrorCode};

use crate::helpers::*;

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn spec() -> serde_json::Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    serde_norway::from_str(&text).expect("openapi.yaml parses")
}

/// openapi.yaml, parsed once per test binary.
fn parsed_spec() -> &'static serde_json::Value {
    static SPEC: OnceLock<serde_json::Value> = OnceLock::new();
    SPEC.get_or_init(spec)
}

/// Checks a real response body against the schema openapi.yaml gives for `method path` and
/// `status` (or `default`), with an independent JSON Schema 2020-12 validator (the
/// `jsonschema` crate). `$ref`s to `#/components/...` resolve against a root document made of
/// the spec's components and the schema under test.
pub(crate) fn check_response(method: &str, path: &str, status: u16, body: &serde_json::Value) {
    let spec = parsed_spec();
    let op = &spec["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not in openapi.yaml");
    let code = status.to_string();
    let mut response = if op["responses"][&code].is_null() {
        &op["responses"]["default"]
    } else {
        &op["responses"][&code]
    };
    if let Some(r) = response["$ref"].as_str() {
        response = spec
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} resolves"));
    }
    // A problem is `application/problem+json`; everything else `application/json`.
    let content = &response["content"];
    let Some(schema) = content["application/json"]["schema"]
        .as_object()
        .or_else(|| content["application/problem+json"]["schema"].as_object())
    else {
        panic!("{method} {path} {status}: no application/json schema");
    };
    check_schema(&format!("{method} {path} {status}"), spec, schema, body);
}

/// Checks a webhook body fincert sent against the request body of `webhooks.<name>.post`.
pub(crate) fn check_webhook(name: &str, body: &serde_json::Value) {
    let spec = parsed_spec();
    let Some(schema) = spec["webhooks"][name]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]
        .as_object()
    else {
        panic!("webhook {name}: no application/json request body in openapi.yaml");
    };
    check_schema(&format!("webhook {name}"), spec, schema, body);
}

fn check_schema(
    what: &str,
    spec: &serde_json::Value,
    schema: &serde_json::Map<String, serde_json::Value>,
    body: &serde_json::Value,
) {
    let root = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": spec["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("{what}: schema does not build: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the body does not match openapi.yaml:\n{}\nbody: {body}",
        errors.join("\n")
    );
}

#[test]
fn the_response_check_can_fail() {
    // A body the schema forbids (wrong type, unknown field, missing field) must be caught.
    for bad in [
        serde_json::json!({"SAD": 1, "expiresIn": 3600}),
        serde_json::json!({"SAD": "s", "expiresIn": 3600, "extra": true}),
        serde_json::json!({"SAD": "s"}),
    ] {
        let caught = std::panic::catch_unwind(|| {
            check_response("post", "/csc/v2/credentials/authorize", 200, &bad)
        });
        assert!(caught.is_err(), "{bad} passed the schema check");
    }
    check_response(
        "post",
        "/csc/v2/credentials/authorize",
        200,
        &serde_json::json!({"SAD": "s", "expiresIn": 3600}),
    );
    check_response(
        "post",
        "/csc/v1/credentials/info",
        400,
        &serde_json::json!({"error": "invalid_request", "error_description": "Missing (or invalid type) string parameter credentialID"}),
    );
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

/// Every string of the spec, at any depth.
fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// The problem codes the spec names: the `Problem.code` examples and every code span of the
/// form `` `409 consent_exists` `` in a description.
fn spec_problem_codes(spec: &serde_json::Value) -> BTreeSet<String> {
    let mut codes: BTreeSet<String> =
        spec["components"]["schemas"]["Problem"]["properties"]["code"]["examples"]
            .as_array()
            .expect("Problem.code examples")
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
    let mut texts = Vec::new();
    strings(spec, &mut texts);
    for text in texts {
        // Code spans are the odd pieces between backticks.
        for span in text.split('`').skip(1).step_by(2) {
            let mut words = span.split_whitespace();
            if let (Some(status), Some(code), None) = (words.next(), words.next(), words.next())
                && status.len() == 3
                && (status.starts_with('4') || status.starts_with('5'))
                && status.bytes().all(|b| b.is_ascii_digit())
            {
                codes.insert(code.to_owned());
            }
        }
    }
    codes
}

/// The spec names only codes the shared enum knows (the server can send no other), and the
/// OAuth2 and CSC `error` enums together are exactly `OAuthErrorCode`.
#[test]
fn the_spec_names_the_enums_codes() {
    let spec = spec();
    let named = spec_problem_codes(&spec);
    assert!(
        named.len() >= 20,
        "the spec names the codes its routes answer: {named:?}"
    );
    let unknown: Vec<_> = named
        .iter()
        .filter(|c| matches!(ErrorCode::parse(c), ErrorCode::Other(_)))
        .collect();
    assert!(
        unknown.is_empty(),
        "codes in openapi.yaml that ErrorCode does not know: {unknown:?}"
    );
    let in_spec: BTreeSet<String> = ["OAuthError", "CscError"]
        .iter()
        .flat_map(|schema| {
            spec["components"]["schemas"][schema]["properties"]["error"]["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{schema}.error enum"))
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let in_enum: BTreeSet<String> = OAuthErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(in_spec, in_enum, "openapi.yaml's OAuth/CSC error enums");
}

/// The code-span reader finds a code split across lines and ignores other spans.
#[test]
fn the_code_reader_can_fail() {
    let named = spec_problem_codes(&serde_json::json!({
        "components": {"schemas": {"Problem": {"properties": {"code": {"examples": ["route_not_found"]}}}}},
        "paths": {"/x": {"get": {"description": "`404\n  no_such_code`, `field_name`, `200 ok`, `4xx`"}}},
    }));
    assert_eq!(
        named,
        BTreeSet::from(["no_such_code".to_owned(), "route_not_found".to_owned()])
    );
    assert!(matches!(
        ErrorCode::parse("no_such_code"),
        ErrorCode::Other(_)
    ));
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
        let concrete = path.replace("{name}", "root.crt").replace(['{', '}'], "");
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
