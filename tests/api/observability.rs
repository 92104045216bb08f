//! What an SRE reads off a node: the Prometheus families after a real signature, the separate
//! metrics listener, `/readyz` following the KMS (moto killed and brought back), and a
//! deployed node's JSON logs (start-up warnings, the request id on every line of a request).

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{config::Engine, pki::profile::Usage, signing::institution::Sector};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

/// The value of the sample `name{labels}` (labels exactly as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Every family name the exposition declares (`# TYPE name kind`).
fn families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect()
}

/// A raw-format request approved with the holder's PIN; returns the approved view.
async fn one_pin_signature(app: &TestApp) -> Value {
    let bank = institution(app, "Obs Bank", Sector::Bank).await;
    let h = holder(app, "330100000002", Usage::Restricted).await;
    consent(&h, &bank).await;
    let req = call(
        app,
        reqwest::Method::POST,
        "/v1/signature-requests",
        &bank.token,
        Some(json!({
            "certificate_id": h.cert.id,
            "content": STANDARD.encode(b"transfer 10,000 KRW"),
            "display_text": "Transfer 10,000 KRW to Kim Minsu",
            "format": "raw",
        })),
        Some(&uuid::Uuid::new_v4().to_string()),
    )
    .await;
    assert_eq!(req.status(), 201);
    let req: Value = req.json().await.unwrap();
    let approved = post(
        app,
        &format!("/v1/approvals/{}/approve", req["id"].as_str().unwrap()),
        &h.token,
        json!({"pin": PIN, "request_digest": req["request_digest"]}),
    )
    .await;
    assert_eq!(approved.status(), 200, "{:?}", approved.text().await);
    req
}

/// After one real PIN-approved signature the families an SRE alerts on are there, with the
/// values that signature implies.
async fn metrics_after_a_real_signature(engine: Engine) {
    let app = spawn_app(engine).await;
    let req = one_pin_signature(&app).await;
    let text = app.get("/metrics").await.text().await.unwrap();

    let algorithm = req["algorithm"].as_str().unwrap();
    assert_eq!(
        sample(
            &text,
            &format!(
                "fincert_signatures_total{{algorithm=\"{algorithm}\",format=\"raw\",result=\"ok\"}}"
            )
        ),
        Some(1.0),
        "{text}"
    );
    // The PIN binding is an HMAC in the KMS, the activation a Decrypt of the PIN copy.
    for op in ["GenerateMac", "Decrypt", "GenerateDataKey"] {
        let ok = sample(
            &text,
            &format!("fincert_kms_calls_total{{operation=\"{op}\",outcome=\"ok\"}}"),
        )
        .unwrap_or(0.0);
        assert!(ok >= 1.0, "{op}: {text}");
        let timed = sample(
            &text,
            &format!("fincert_kms_call_duration_seconds_count{{operation=\"{op}\"}}"),
        )
        .unwrap_or(0.0);
        assert!(timed >= ok, "{op} calls are timed: {text}");
    }
    assert_eq!(
        sample(
            &text,
            "fincert_kms_calls_total{operation=\"Decrypt\",outcome=\"unavailable\"}"
        ),
        Some(0.0)
    );
    // The signature's commit went through the group committer: at least one batch of at
    // least one change, each timed.
    let batches = sample(&text, "fincert_group_commit_batch_size_count").unwrap();
    assert!(batches >= 1.0, "{text}");
    assert!(sample(&text, "fincert_group_commit_batch_size_sum").unwrap() >= batches);
    assert_eq!(
        sample(&text, "fincert_audit_commit_seconds_count"),
        Some(batches)
    );
    assert_eq!(sample(&text, "fincert_audit_pending_commits"), Some(0.0));
    // The approval's activation was used up and wiped.
    assert_eq!(sample(&text, "fincert_activations_live"), Some(0.0));
    assert_eq!(sample(&text, "fincert_ready"), Some(1.0));
    let max = app.settings.database.max_connections;
    let pool_max = sample(&text, "fincert_db_pool_max_connections").unwrap();
    assert!(
        pool_max == f64::from(max) || (engine == Engine::Sqlite && pool_max == 1.0),
        "{text}"
    );
    let open = sample(&text, "fincert_db_pool_connections{state=\"in_use\"}").unwrap()
        + sample(&text, "fincert_db_pool_connections{state=\"idle\"}").unwrap();
    assert!((1.0..=pool_max).contains(&open), "{text}");
    assert!(
        text.contains(&format!(
            "fincert_build_info{{git_sha=\"{}\",version=\"{}\"}} 1",
            option_env!("GIT_SHA").unwrap_or("unknown"),
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    assert!(
        sample(&text, "process_resident_memory_bytes").unwrap() > 1e6,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "fincert_http_requests_total{method=\"POST\",route=\"/v1/approvals/{id}/approve\",status=\"200\"}"
        ),
        Some(1.0)
    );
    let expected: BTreeSet<String> = [
        "fincert_http_requests_total",
        "fincert_http_request_duration_seconds",
        "fincert_signatures_total",
        "fincert_kms_calls_total",
        "fincert_kms_call_duration_seconds",
        "fincert_group_commit_batch_size",
        "fincert_audit_commit_seconds",
        "fincert_audit_pending_commits",
        "fincert_audit_checkpoints_signed_total",
        "fincert_audit_checkpoint_failures_total",
        "fincert_audit_checkpoint_last_success_timestamp_seconds",
        "fincert_activations_live",
        "fincert_db_pool_connections",
        "fincert_db_pool_max_connections",
        "fincert_ready",
        "fincert_build_info",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let declared = families(&text);
    let missing: Vec<_> = expected.difference(&declared).collect();
    assert!(missing.is_empty(), "missing {missing:?} in\n{text}");
}

both_engines!(metrics_after_a_real_signature);

/// The CA's keys inside AWS KMS (moto): the node's start (the CA made with them) counts their
/// `GetPublicKey` and `Sign` calls beside the data-key calls, with latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_key_calls_in_kms_are_counted() {
    let app = spawn_custody_app(Engine::Sqlite, Backend::Aws).await;
    let text = app.get("/metrics").await.text().await.unwrap();
    for op in ["GetPublicKey", "Sign"] {
        let calls = sample(
            &text,
            &format!("fincert_kms_calls_total{{operation=\"{op}\",outcome=\"ok\"}}"),
        )
        .unwrap_or(0.0);
        assert!(calls >= 1.0, "{op} counted: {text}");
        let timed = sample(
            &text,
            &format!("fincert_kms_call_duration_seconds_count{{operation=\"{op}\"}}"),
        )
        .unwrap_or(0.0);
        assert!(timed >= calls, "{op} timed: {text}");
    }
}

/// With `http.metrics_listen` set, `/metrics` is served there only; the public port answers
/// 404, and its requests are still counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_to_their_own_listener() {
    let app = spawn_app_tuned(Engine::Sqlite, |s| {
        s.http.metrics_listen = Some("127.0.0.1:0".into());
    })
    .await;
    let port = app.metrics_port.expect("a metrics listener");
    assert_ne!(port, app.port);
    assert_problem(app.get("/metrics").await, 404, "route_not_found").await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let metrics = format!("http://127.0.0.1:{port}");
    let resp = app
        .client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = resp.text().await.unwrap();
    assert_eq!(
        sample(
            &text,
            "fincert_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "fincert_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"
        ),
        Some(1.0),
        "the public /metrics is an unmatched 404: {text}"
    );
    let other = app
        .client
        .get(format!("{metrics}/v1/terms"))
        .send()
        .await
        .unwrap();
    assert_problem(other, 404, "route_not_found").await;
}

/// Polls `/readyz` until it answers `status`; returns how long that took.
async fn readyz_becomes(app: &TestApp, status: u16, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let got = app.get("/readyz").await.status().as_u16();
        if got == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "/readyz still {got} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `/readyz` follows the KMS through its cached probe: moto killed → 503 within a few
/// seconds (while the database is fine); moto reachable again with the same keys → 200 again.
/// The outage is a network cut ([`Gate`]) in front of a moto that keeps running, so the keys
/// are the same keys. Scrapes never call the KMS: the probe count grows with time, not with
/// scrapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_kms() {
    let moto = PrivateMoto::start().await;
    let gate = Gate::start(moto.url.trim_start_matches("http://")).await;
    let mut kms = moto_kms_settings(&moto.url).await;
    kms.aws_endpoint_url = gate.url.clone();
    // The CA's keys too (ca init adopts them at start; readiness never touches them).
    let client = moto_client(&moto.url).await;
    let (root, issuing) = (
        moto_ca_key(&client, "rsa2048").await,
        moto_ca_key(&client, "rsa2048").await,
    );
    let app = spawn_app_tuned(Engine::Postgres, |s| {
        s.kms = kms;
        s.pki.ca_algorithm = "rsa2048".into();
        s.pki.aws_root_key_id = root;
        s.pki.aws_issuing_key_id = issuing;
    })
    .await;
    let resp = app.get("/readyz").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["kms"], "ok");

    let describe = "fincert_kms_calls_total{operation=\"DescribeKey\",outcome=\"ok\"}";
    let before = sample(&app.get("/metrics").await.text().await.unwrap(), describe).unwrap();
    for _ in 0..50 {
        app.get("/readyz").await;
    }
    let after = sample(&app.get("/metrics").await.text().await.unwrap(), describe).unwrap();
    assert!(
        after - before <= 2.0,
        "50 readiness checks made {} KMS calls",
        after - before
    );

    gate.close();
    let took = readyz_becomes(&app, 503, Duration::from_secs(8)).await;
    assert!(took < Duration::from_secs(6), "noticed after {took:?}");
    assert_problem(app.get("/readyz").await, 503, "service_unavailable").await;
    assert_eq!(app.get("/healthz").await.status(), 200, "alive, not ready");
    let text = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(sample(&text, "fincert_ready"), Some(0.0), "{text}");
    assert!(
        sample(
            &text,
            "fincert_kms_calls_total{operation=\"DescribeKey\",outcome=\"unavailable\"}"
        )
        .unwrap()
            >= 1.0,
        "{text}"
    );

    gate.open();
    readyz_becomes(&app, 200, Duration::from_secs(10)).await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(sample(&text, "fincert_ready"), Some(1.0));
}

/// Reads the JSON lines a child process has written so far.
fn json_lines(path: &std::path::Path) -> Vec<Value> {
    let file = std::fs::File::open(path).unwrap();
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

/// A deployed node (PostgreSQL) on development defaults says so at start, one WARN line per
/// setting; every line a request logs carries its request id (the cause logged inside the
/// handler too), and the access line names route, status, problem code and latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployed_node_warns_and_logs_request_ids() {
    let mut app = spawn_app(Engine::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = std::process::Command::new(fincert_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("FINCERT_") {
            cmd.env_remove(k);
        }
    }
    let s = &app.settings;
    let mut child = cmd
        .arg("serve")
        .env("FINCERT_LOG_FORMAT", "json")
        .env("FINCERT_LOG_LEVEL", "info")
        .env("FINCERT_DATA_DIR", &s.data_dir)
        .env("FINCERT_DATABASE_URL", &s.database.url)
        .env("FINCERT_HTTP_LISTEN", format!("127.0.0.1:{port}"))
        .env("FINCERT_HTTP_WORKERS", "1")
        .env("FINCERT_PKI_CA_ALGORITHM", &s.pki.ca_algorithm)
        .env("FINCERT_PKI_AUTO_INIT", "false")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let address = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !app
        .client
        .get(format!("{address}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the node did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let warned: BTreeSet<String> = json_lines(&log)
        .iter()
        .filter(|l| l["level"] == "WARN" && l["fields"]["key"].is_string())
        .map(|l| l["fields"]["key"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = [
        "enrolment.identity_verifier",
        "enrolment.message_sender",
        "kms.backend",
        "pki.public_base_url",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(
        warned, expected,
        "pki.auto_init is off, the rest is development"
    );

    let get = |id: &'static str| {
        app.client
            .get(format!("{address}/v1/terms"))
            .header("x-request-id", id)
            .send()
    };
    assert_eq!(get("obs-ok-1").await.unwrap().status(), 200);
    app.test_db.drop_now().await;
    let failed = get("obs-fail-1").await.unwrap();
    assert_eq!(failed.status(), 503);
    assert_eq!(failed.headers()["x-request-id"], "obs-fail-1");

    // stdout is line-buffered: each line is in the file once written; give the access line
    // (written after the response) a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let lines = loop {
        let lines = json_lines(&log);
        if lines
            .iter()
            .any(|l| l["request_id"] == "obs-fail-1" && l["fields"]["route"].is_string())
            || Instant::now() > deadline
        {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = child.kill();
    let _ = child.wait();

    let of = |id: &str| {
        lines
            .iter()
            .filter(|l| l["request_id"] == id)
            .cloned()
            .collect::<Vec<_>>()
    };
    let ok = of("obs-ok-1");
    let access = ok.last().unwrap();
    assert_eq!(access["fields"]["message"], "request completed");
    assert_eq!(access["fields"]["route"], "/v1/terms");
    assert_eq!(access["fields"]["status"], 200);
    assert!(access["fields"]["code"].is_null());
    assert!(access["fields"]["latency_ms"].is_number());
    let fail = of("obs-fail-1");
    let cause = fail
        .iter()
        .find(|l| l["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no ERROR line with the request id in {lines:#?}"));
    assert_eq!(cause["fields"]["message"], "database operation failed");
    assert_eq!(cause["path"], "/v1/terms");
    let access = fail.last().unwrap();
    assert_eq!(access["level"], "WARN");
    assert_eq!(access["fields"]["message"], "request failed");
    assert_eq!(access["fields"]["route"], "/v1/terms");
    assert_eq!(access["fields"]["status"], 503);
    assert_eq!(access["fields"]["code"], "service_unavailable");
    assert!(access["fields"]["latency_ms"].as_f64().unwrap() >= 0.0);
}
