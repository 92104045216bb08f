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

/// Bodies that are not the JSON a route expects: malformed, wrong media type, too large. Each
/// is a problem, and none changes anything.
#[tokio::test]
async fn bad_bodies_are_problems() {
    let app = spawn_app(Engine::Sqlite).await;
    let head = fincert::store::audit::head(&app.db).await.unwrap();
    let url = app.url("/v1/auth/pin");
    let send = |ctype: &'static str, body: Vec<u8>| {
        let (client, url) = (app.client.clone(), url.clone());
        async move {
            client
                .post(url)
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_problem(
        send("application/json", b"{\"certificate_id\": ".to_vec()).await,
        400,
        "invalid_json",
    )
    .await;
    assert_problem(
        send("application/json", b"[]".to_vec()).await,
        400,
        "invalid_json",
    )
    .await;
    let body = assert_problem(
        send(
            "application/json",
            br#"{"certificate_id": "x", "pin": "123456", "extra": 1}"#.to_vec(),
        )
        .await,
        400,
        "invalid_json",
    )
    .await;
    assert!(!body["detail"].as_str().unwrap().contains("123456"));
    assert_problem(
        send("text/plain", b"{}".to_vec()).await,
        415,
        "unsupported_media_type",
    )
    .await;
    let huge = format!(
        r#"{{"certificate_id": "{}", "pin": "123456"}}"#,
        "x".repeat(100_000)
    )
    .into_bytes();
    assert_problem(
        send("application/json", huge).await,
        413,
        "payload_too_large",
    )
    .await;
    assert_eq!(
        fincert::store::audit::head(&app.db).await.unwrap(),
        head,
        "nothing happened"
    );
}

/// One request written byte for byte on a fresh connection (what a client library would refuse
/// to send), and the answer: status, lower-cased headers, body.
async fn raw(app: &TestApp, request: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    // A server that answers before it has read everything may reset the connection once
    // the answer is out: what arrived before the reset is the answer.
    let _ = conn.write_all(request).await;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let read = async {
        loop {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the server answers and closes within 10 s");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8(answer[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (
        status.parse().unwrap(),
        headers,
        answer[split + 4..].to_vec(),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The problem in a raw answer, checked as `assert_problem` checks a client's.
fn raw_problem(answer: &(u16, Vec<(String, String)>, Vec<u8>), status: u16, code: &str) {
    let (got, headers, body) = answer;
    assert_eq!(*got, status, "{}", String::from_utf8_lossy(body));
    assert_eq!(
        header(headers, "content-type"),
        Some("application/problem+json")
    );
    assert!(header(headers, "x-request-id").is_some());
    let problem: fincert_client::proto::Problem = serde_json::from_slice(body).unwrap();
    assert_eq!(problem.code, code);
    assert_eq!(problem.status, status);
    assert_eq!(problem.kind, format!("urn:fincert:problem:{code}"));
    assert!(!problem.detail.contains("aaaa"), "the input is not echoed");
}

/// Requests no client library would send: an oversized header section, an over-long target, a
/// percent-encoded path that is not UTF-8. Each is refused with a problem before any route
/// runs — on a public route, on an authenticated one and on the OCSP GET alike. Past
/// actix-http's own limits (a 128 KiB head, 96 header fields) and for bytes its HTTP/1 parser
/// cannot read, the codec answers before any of our code runs: those answers are pinned here
/// as they are (status, empty body, connection closed), as README "Transport refusals" says.
#[tokio::test]
async fn transport_refusals_are_problems_where_the_framework_lets_us() {
    let app = spawn_app(Engine::Sqlite).await;
    let request = |target: &str, extra: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n")
            .into_bytes()
    };
    let big = format!("X-Big: {}\r\n", "a".repeat(20_000));
    for target in ["/healthz", "/v1/certificates", "/pki/ocsp/MAA%3D"] {
        raw_problem(
            &raw(&app, &request(target, &big)).await,
            431,
            "headers_too_large",
        );
    }
    // Many small headers add up the same way.
    let many: String = (0..80)
        .map(|i| format!("X-H{i}: {}\r\n", "a".repeat(250)))
        .collect();
    raw_problem(
        &raw(&app, &request("/healthz", &many)).await,
        431,
        "headers_too_large",
    );
    // Just under the limits is read as usual.
    let (status, _, _) = raw(
        &app,
        &request(
            &format!("/healthz?q={}", "a".repeat(8_000)),
            &format!("X-Big: {}\r\n", "a".repeat(16_000)),
        ),
    )
    .await;
    assert_eq!(status, 200);

    let long = format!("/v1/terms?q={}", "a".repeat(9_000));
    raw_problem(&raw(&app, &request(&long, "")).await, 414, "uri_too_long");
    let long_ocsp = format!("/pki/ocsp/{}", "A".repeat(9_000));
    raw_problem(
        &raw(&app, &request(&long_ocsp, "")).await,
        414,
        "uri_too_long",
    );

    for target in [
        "/v1/terms%FF",
        "/v1/certificates/%FF%FE",
        "/pki/ocsp/%C3",
        "/dev/outbox/%ED%A0%80",
    ] {
        raw_problem(&raw(&app, &request(target, "")).await, 400, "invalid_path");
    }
    // Percent-encoded UTF-8 is a path like any other (here: no such route).
    raw_problem(
        &raw(&app, &request("/v1/%ED%99%8D", "")).await,
        404,
        "route_not_found",
    );

    // The OCSP GET's own limits: an `If-None-Match` over 1024 bytes is refused, not ignored;
    // a request segment over 680 characters is for POST (RFC 5019 §5).
    let resp = app
        .client
        .get(app.url("/pki/ocsp/MAA%3D"))
        .header("if-none-match", format!("\"{}\"", "a".repeat(1100)))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400, "invalid_header").await;
    let resp = app.get(&format!("/pki/ocsp/{}", "A".repeat(681))).await;
    assert_problem(resp, 414, "uri_too_long").await;
    let resp = app.get(&format!("/pki/ocsp/{}", "A".repeat(680))).await;
    assert_eq!(
        resp.status(),
        200,
        "a malformed request still gets an OCSP answer"
    );

    // What actix-http's codec answers itself, with no body of ours.
    let codec = |answer: (u16, Vec<(String, String)>, Vec<u8>), status: u16| {
        assert_eq!(answer.0, status);
        assert!(answer.2.is_empty(), "the codec's answer has no body");
        assert_eq!(header(&answer.1, "connection"), Some("close"));
        assert_eq!(header(&answer.1, "content-type"), None);
    };
    let huge = format!("X-Big: {}\r\n", "a".repeat(200_000));
    codec(raw(&app, &request("/healthz", &huge)).await, 431);
    let fields: String = (0..100).map(|i| format!("X-H{i}: a\r\n")).collect();
    codec(raw(&app, &request("/healthz", &fields)).await, 431);
    let mut non_ascii = b"GET /v1/certificates/".to_vec();
    non_ascii
        .extend_from_slice(b"\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    codec(raw(&app, &non_ascii).await, 400);
    codec(raw(&app, &request("/healthz", "X-A: \x01\r\n")).await, 400);
}
