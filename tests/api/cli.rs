//! The `fincert` binary as an operator runs it.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fincert::config::Engine;
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use crate::helpers::*;

/// Starts `fincert serve` on a free port; returns the child and its address.
fn start_serve(env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = Command::new(fincert_bin());
    cmd.arg("serve")
        .env("FINCERT_HTTP_LISTEN", "127.0.0.1:0")
        .env("FINCERT_LOG_FORMAT", "json")
        .env("FINCERT_HTTP_WORKERS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn fincert serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["fields"]["message"] == "listening"
            {
                let _ = tx.send(
                    v["fields"]["address"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
    });
    let address = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server logs its address");
    (child, address)
}

fn wait_exit(child: &mut Child, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("fincert did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The embedded default: no configuration but a data directory; it creates the SQLite
/// database, migrates, serves, and stops cleanly on SIGTERM.
#[test]
fn serve_embedded_default_then_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, address) = start_serve(&[("FINCERT_DATA_DIR", data.to_str().unwrap())]);
    assert!(data.join("fincert.sqlite3").exists());
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700,
            "data dir is private"
        );
        let ring = data.join("kms").join("local-keyring.json");
        assert_eq!(
            std::fs::metadata(&ring).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(http_get(&address, "/healthz").starts_with("HTTP/1.1 200"));

    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(wait_exit(&mut child, Duration::from_secs(15)), 0);
    assert!(
        TcpStream::connect(&address).is_err(),
        "no new connections once stopped"
    );

    // The database is whole: the chain verifies after the stop.
    let (code, out, _) = run_cli(
        &["audit", "verify"],
        &[("FINCERT_DATA_DIR", data.to_str().unwrap())],
    );
    let n: i64 = out
        .trim()
        .strip_prefix("ok ")
        .and_then(|r| r.strip_suffix(" events"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert_eq!(code, 0, "{out}");
    assert!(n >= 2, "migrations and CA creation were audited: {out}");
}

fn http_get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

/// A request whose handler is still running when SIGTERM arrives is answered before the
/// process exits. The handler is held inside its query by a table lock taken from outside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish() {
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    let test_db = TestDb::new(Engine::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let url = test_db.url.clone();
    let (mut child, address) = start_serve(&[
        ("FINCERT_DATA_DIR", dir.path().to_str().unwrap()),
        ("FINCERT_DATABASE_URL", url.as_str()),
    ]);

    let blocker = Database::connect(url.as_str()).await.unwrap();
    let lock = blocker.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE terms_documents IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    let addr = address.clone();
    let in_flight = std::thread::spawn(move || http_get(&addr, "/v1/terms"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running while a request is in flight"
    );
    assert!(
        TcpStream::connect(&address).is_err(),
        "but no longer accepting"
    );

    lock.rollback().await.unwrap();
    let response = in_flight.join().unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "in-flight request answered: {response:?}"
    );
    assert!(response.contains("\"code\":\"service\""));
    let code = tokio::task::spawn_blocking(move || wait_exit(&mut child, Duration::from_secs(15)))
        .await
        .unwrap();
    assert_eq!(code, 0);
}

#[test]
fn sigint_stops_the_server_too() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _) = start_serve(&[("FINCERT_DATA_DIR", dir.path().to_str().unwrap())]);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    assert_eq!(wait_exit(&mut child, Duration::from_secs(15)), 0);
}

#[test]
fn bad_configuration_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let cases = [
        (
            vec![("FINCERT_DATABASE_URL", "mysql://db/x")],
            "configuration error: database.url: unsupported scheme \"mysql\"",
        ),
        (
            vec![("FINCERT_HTTP_LISTEN", "everywhere")],
            "configuration error: http.listen:",
        ),
        (
            vec![("FINCERT_HTTP_MAX_BODY_BYTES", "huge")],
            "configuration error: http.max_body_bytes:",
        ),
        (
            vec![("FINCERT_LOG_FORMAT", "xml")],
            "configuration error: log.format:",
        ),
        (
            vec![("FINCERT_CONFIG", "/nonexistent/fincert.toml")],
            "configuration error: config: file /nonexistent/fincert.toml does not exist",
        ),
    ];
    for (mut env, expected) in cases {
        env.push(("FINCERT_DATA_DIR", data));
        let (code, out, err) = run_cli(&["serve"], &env);
        assert_eq!(code, 2, "{err}");
        assert!(out.is_empty());
        let lines: Vec<_> = err.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {err}");
        assert!(
            lines[0].starts_with(&format!("fincert: {expected}")),
            "{err}"
        );
    }
}

/// `config check` prints the configuration in force (file under environment) with every
/// secret redacted, lists the development defaults of a deployed node, and exits 0; a bad
/// configuration is exit 2 with the one-line error.
#[test]
fn config_check_prints_the_effective_configuration_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fincert.toml");
    std::fs::write(
        &file,
        "[http]\nlisten = \"0.0.0.0:8080\"\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\"]\n\
         [enrolment]\nmessage_sender = \"http\"\nmessage_url = \"https://sms.example\"\n\
         message_secret = \"gateway-secret-0123456789\"\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let env = [
        ("FINCERT_CONFIG", config),
        (
            "FINCERT_DATABASE_URL",
            "postgres://fincert:db-password-42@db.internal:5432/fincert?sslmode=require",
        ),
        ("FINCERT_HTTP_METRICS_LISTEN", "0.0.0.0:9090"),
        ("FINCERT_PKI_PUBLIC_BASE_URL", "https://cert.bank.example"),
    ];
    let (code, out, err) = run_cli(&["config", "check"], &env);
    assert_eq!(code, 0, "{err}");
    for secret in ["db-password-42", "gateway-secret-0123456789"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{out}{err}");
    }
    let printed: toml::Value = toml::from_str(&out).unwrap();
    assert_eq!(
        printed["database"]["url"].as_str().unwrap(),
        "postgres://fincert:%3Credacted%3E@db.internal:5432/fincert?sslmode=require"
    );
    assert_eq!(
        printed["enrolment"]["message_secret"].as_str(),
        Some("<redacted>")
    );
    assert_eq!(
        printed["enrolment"]["identity_secret"].as_str(),
        Some(""),
        "unset stays empty"
    );
    assert_eq!(printed["http"]["listen"].as_str(), Some("0.0.0.0:8080"));
    assert_eq!(
        printed["http"]["metrics_listen"].as_str(),
        Some("0.0.0.0:9090")
    );
    assert_eq!(
        printed["http"]["trusted_proxies"],
        toml::Value::Array(vec!["10.0.0.0/8".into(), "192.0.2.7".into()])
    );
    // Deployed (PostgreSQL, a public listener): the development defaults left are named.
    let warned: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix("fincert: warning: "))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        warned,
        [
            "enrolment.identity_verifier",
            "kms.backend",
            "pki.auto_init"
        ],
        "{err}"
    );
    assert!(
        err.ends_with("fincert: configuration valid (3 warnings)\n"),
        "{err}"
    );

    // JSON for tools; the printed TOML is a configuration fincert reads back.
    let (code, out, _) = run_cli(&["config", "check", "--format", "json"], &env);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["kms"]["backend"], "local");
    assert_eq!(json["enrolment"]["message_secret"], "<redacted>");
    let (_, toml_out, _) = run_cli(&["config", "check"], &env);
    let reread = dir.path().join("reread.toml");
    std::fs::write(
        &reread,
        toml_out
            .replace("%3Credacted%3E", "pw")
            .replace("\"<redacted>\"", "\"a-secret-long-enough-1\""),
    )
    .unwrap();
    let (code, again, err) = run_cli(
        &["--config", reread.to_str().unwrap(), "config", "check"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        toml::from_str::<toml::Value>(&again).unwrap()["http"],
        printed["http"]
    );

    // The embedded default is quiet.
    let (code, _, err) = run_cli(&["config", "check"], &[]);
    assert_eq!(code, 0);
    assert_eq!(err, "fincert: configuration valid (0 warnings)\n");

    // Invalid: exit 2, the error, nothing printed.
    let (code, out, err) = run_cli(
        &["config", "check"],
        &[(
            "FINCERT_HTTP_TRUSTED_PROXIES",
            "[\"10.0.0.0/8\", \"ingress\"]",
        )],
    );
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with("fincert: configuration error: http.trusted_proxies"),
        "{err}"
    );
}

#[test]
fn a_toml_file_configures_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fincert.toml");
    std::fs::write(&file, "[http]\nmax_body_bytes = 1\n").unwrap();
    let (code, _, err) = run_cli(&["--config", file.to_str().unwrap(), "migrate"], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "fincert: configuration error: http.max_body_bytes: must be between 1024 and 16777216"
    );
}

#[tokio::test]
async fn migrate_applies_once_on_both_engines() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let db = TestDb::new(engine).await;
        let url = db.url.clone();
        let (code, out, err) = tokio::task::spawn_blocking(move || {
            let first = run_cli(&["migrate"], &[("FINCERT_DATABASE_URL", url.as_str())]);
            let second = run_cli(&["migrate"], &[("FINCERT_DATABASE_URL", url.as_str())]);
            assert_eq!(second.0, 0);
            assert_eq!(second.1.trim(), "schema up to date");
            first
        })
        .await
        .unwrap();
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("applied m20261123_000001_audit_log"), "{out}");
    }
}

#[test]
fn audit_verify_without_a_database_is_a_dependency_failure() {
    let (code, _, err) = run_cli(
        &["audit", "verify"],
        &[
            ("FINCERT_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
            ("FINCERT_DATABASE_CONNECT_TIMEOUT_SECS", "1"),
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.starts_with("fincert: database unavailable"), "{err}");
}

/// What an institution provisions before enrolment: known customers and security media.
#[test]
fn customers_and_media_are_provisioned_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let csv = dir.path().join("customers.csv");
    std::fs::write(&csv, "customer_number,name,birth_date,phone\n110-123-456789,홍길동,1987-03-14,010-1234-5678\n220987654321,김철수,1990-01-02,010-9876-5432\n").unwrap();
    let (code, out, err) = run_cli(
        &["customers", "load", csv.to_str().unwrap()],
        &[("FINCERT_DATA_DIR", data)],
    );
    assert_eq!((code, out.trim()), (0, "loaded 2 customers"), "{err}");

    std::fs::write(
        &csv,
        "customer_number,name,birth_date,phone\n1,홍길동,1987-03-14,010-1234-5678\n",
    )
    .unwrap();
    let (code, _, err) = run_cli(
        &["customers", "load", csv.to_str().unwrap()],
        &[("FINCERT_DATA_DIR", data)],
    );
    assert_eq!(code, 2);
    assert!(err.contains("line 2: a customer number"), "{err}");

    let (code, out, err) = run_cli(
        &["media", "card", "--customer", "110123456789"],
        &[("FINCERT_DATA_DIR", data)],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 6, "30 cells, 5 a line: {out}");
    assert!(out.contains(" 1: ") && out.contains("30: "));
    let (code, out, err) = run_cli(
        &[
            "media",
            "otp",
            "--customer",
            "110123456789",
            "--kind",
            "totp",
        ],
        &[
            ("FINCERT_DATA_DIR", data),
            (
                "FINCERT_OTP_SECRET_HEX",
                "3132333435363738393031323334353637383930",
            ),
        ],
    );
    assert_eq!(
        (code, out.trim()),
        (0, "registered totp for customer 110123456789"),
        "{err}"
    );
    let (code, _, err) = run_cli(
        &[
            "media",
            "otp",
            "--customer",
            "110123456789",
            "--kind",
            "totp",
            "--secret-hex",
            "abcd",
        ],
        &[("FINCERT_DATA_DIR", data)],
    );
    assert_eq!(code, 2);
    assert!(err.contains("16 to 64 bytes"), "{err}");
    let (code, _, err) = run_cli(
        &[
            "media",
            "otp",
            "--customer",
            "110123456789",
            "--kind",
            "motp",
        ],
        &[
            ("FINCERT_DATA_DIR", data),
            (
                "FINCERT_OTP_SECRET_HEX",
                "3132333435363738393031323334353637383930",
            ),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("device id"), "{err}");
}
