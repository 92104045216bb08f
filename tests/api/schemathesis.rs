//! schemathesis (the venv's, pinned in scripts/test.sh) over the `openapi.yaml` a real
//! `fincert serve` process publishes, with generated valid and invalid input for every
//! operation and every check it has (`--checks all`): once as a signed-in holder and once as
//! an institution, each token made through the node's own API (PIN sign-in; OAuth2 client
//! credentials). Any server error (5xx), any answer outside the contract (status, content
//! type, headers, body schema) and any invalid input accepted fails the test, with
//! schemathesis's summary in the output.
//!
//! Bounded: a fixed seed, a few examples per operation and phase, a response-time limit, and
//! a wall-clock cap per run (the process is killed and the test fails past it).

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use fincert::{config::Engine, signing::institution::Sector};

use crate::helpers::*;

/// Examples per operation and phase.
const MAX_EXAMPLES: &str = "8";
/// A response slower than this (seconds) is a failure (`max_response_time`).
const MAX_RESPONSE_SECS: &str = "10";
/// One run past this is killed and fails the test.
const WALL_CLOCK: Duration = Duration::from_secs(150);

/// Invalid input must be refused with one of schemathesis's default statuses or with a
/// transport refusal: a body over the limit (413), a target or OCSP GET request too long (414),
/// header fields too large (431).
const NEGATIVE_STATUSES: &str = "[checks.negative_data_rejection]\n\
    expected-statuses = [\"400\", \"401\", \"403\", \"404\", \"405\", \"406\", \"409\", \"413\", \
    \"414\", \"415\", \"422\", \"428\", \"429\", \"431\", \"5xx\"]\n";

/// Well-formed input may still be refused: by a rule on its content (422), on the state of
/// what it names (409, 410 gone, 423 locked). Everywhere else schema-valid input must be
/// accepted.
const POSITIVE_STATUSES: &str = "[checks.positive_data_acceptance]\n\
    expected-statuses = [\"2xx\", \"3xx\", \"401\", \"403\", \"404\", \"409\", \"410\", \"422\", \
    \"423\", \"429\", \"5xx\"]\n";

/// The operations whose schema-valid input the service may refuse with 400, and why: a schema
/// describes a value's shape, and these values must be more than their shape. Every other
/// check (no 5xx, invalid input refused, statuses, content types, headers and bodies as the
/// schema says) still runs on them.
const POSITIVE_EXCEPTIONS: &[(&str, &[&str])] = &[
    // Opaque values only the service gives out: page cursors, SADs, CSC credential ids and
    // page tokens, hashes bound to a SAD. A made-up one is malformed (400), as CSC requires.
    (
        "opaque values the service gave out",
        &[
            "listAuditCheckpoints",
            "getMyCertificateHistory",
            "exportMyCertificateHistory",
            "cscV1CredentialsList",
            "cscV1CredentialsInfo",
            "cscV2CredentialsInfo",
            "cscV1CredentialsAuthorize",
            "cscV2CredentialsAuthorize",
            "cscV1CredentialsExtendTransaction",
            "cscV2CredentialsExtendTransaction",
            "cscV1SignaturesSignHash",
            "cscV2SignaturesSignHash",
            "cscV2SignaturesSignDoc",
            "cscV2SignaturesSignPolling",
            // A client id with one of its registered redirect URIs, exactly (RFC 6749 §3.1.2:
            // anything else is an error page, 400, never a redirect).
            "cscV1OauthAuthorize",
            "cscV2OauthAuthorize",
        ],
    ),
    // Structured content checked beyond its JSON shape: DER/PEM certificates, PKCS#12 and
    // NPKI files, CSRs, WebAuthn credentials, signatures by a device key, sealed packages.
    (
        "content parsed beyond its JSON shape",
        &[
            "registerForeignCertificate",
            "importNpki",
            "importPkcs12",
            "renewCertificate",
            "finishPasskeyRegistration",
            "finishPasskeySignIn",
            "finishPasskeyApproval",
            "finishCscAuthorizationPasskey",
            "signInWithDeviceKey",
            "approveOnDevice",
            "leaveDeviceCopy",
        ],
    ),
    // Rules JSON Schema cannot spell: Korean holder names (any script's letters, trimmed),
    // PINs too easy to guess, content sizes after decoding, the terms current now, scopes a
    // client holds (RFC 6749: 400 invalid_scope).
    (
        "rules the schema cannot spell",
        &[
            "identifyToSignIn",
            "verifyIdentity",
            "agreeTerms",
            "completeEnrolment",
            "resetPin",
            "changeMyPin",
            "createSignatureRequest",
            "verifySignature",
            "issueInstitutionToken",
            "cscV1Token",
            "cscV2Token",
        ],
    ),
];

/// The schemathesis configuration shared by both runs (everything but the credentials).
fn shared_config() -> String {
    // `--checks all`, spelled in the configuration: a check named on the command line
    // overrides every per-operation setting.
    let mut config =
        format!("[checks]\nenabled = true\n\n{NEGATIVE_STATUSES}\n{POSITIVE_STATUSES}");
    for (why, operations) in POSITIVE_EXCEPTIONS {
        config.push_str(&format!(
            "\n# {why}\n[[operations]]\ninclude-operation-id-regex = \"^({})$\"\n\
             checks.positive_data_acceptance.enabled = false\n",
            operations.join("|")
        ));
    }
    config
}

/// Who the generated requests are sent as.
struct Caller {
    name: &'static str,
    /// The bearer token for every bearer scheme (`bearer`, `institutionToken`): a route of
    /// the other audience must refuse it as the contract says.
    token: String,
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_contract_violation() {
    let venv = std::env::var("TEST_FINCERT_VENV")
        .expect("TEST_FINCERT_VENV is unset: run the suite with scripts/test.sh");
    let schemathesis = Path::new(&venv).join("bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "{} is missing: scripts/test.sh installs it",
        schemathesis.display()
    );
    // Tokens outlive the run (a session would otherwise end after 5 minutes).
    let app = spawn_app_tuned(Engine::Sqlite, |s| s.auth.access_ttl_secs = 3600).await;
    let owner = user(&app, "schemathesis-1").await;
    let cert = cloud_cert(owner.as_str()).issue(&app).await;
    let creds = register_institution(&app, "Schemathesis Bank", Sector::Bank).await;
    let node = ProcessNode::start(&app, &[("FINCERT_AUTH_ACCESS_TTL_SECS", "3600")]).await;

    // Both tokens from the node's own API, as a customer's code gets them.
    let api = fincert_client::Client::new(&node.address).unwrap();
    let holder = api.sign_in(cert.id, PIN).await.expect("PIN sign-in");
    let user_token = holder.token().expect("a session token").to_owned();
    let client_id = creds.institution.client_id.clone();
    let secret = creds.client_secret.to_string();
    let inst_token = api
        .client_credentials(&client_id, &secret, None)
        .await
        .expect("client credentials")
        .access_token;

    let dir = tempfile::tempdir().unwrap();
    let callers = [
        Caller {
            name: "holder",
            token: user_token,
        },
        Caller {
            name: "institution",
            token: inst_token,
        },
    ];
    let mut failed = Vec::new();
    for caller in &callers {
        let work = dir.path().join(caller.name);
        std::fs::create_dir_all(&work).unwrap();
        let config = work.join("schemathesis.toml");
        std::fs::write(
            &config,
            format!(
                "[auth.openapi.bearer]\nbearer = \"{t}\"\n\n\
                 [auth.openapi.institutionToken]\nbearer = \"{t}\"\n\n\
                 [auth.openapi.clientBasic]\nusername = \"{client_id}\"\npassword = \"{secret}\"\n\n\
                 {shared}",
                t = caller.token,
                shared = shared_config(),
            ),
        )
        .unwrap();
        let (ok, summary, elapsed) = run(&schemathesis, &config, &work, &node.address).await;
        eprintln!(
            "schemathesis as {} ({:.0} s):\n{summary}",
            caller.name,
            elapsed.as_secs_f64()
        );
        if !ok {
            failed.push(caller.name);
        }
    }
    drop(node);
    assert!(
        failed.is_empty(),
        "schemathesis found failures as {failed:?} (reports above)"
    );
}

/// One bounded run; returns whether it passed, its output and how long it took.
async fn run(
    schemathesis: &Path,
    config: &Path,
    work: &Path,
    address: &str,
) -> (bool, String, Duration) {
    let report: PathBuf = work.join("junit.xml");
    let log = work.join("output.txt");
    // An OCSP request is DER: sent as the raw bytes generated, like application/octet-stream.
    let hooks = work.join("hooks.py");
    std::fs::write(
        &hooks,
        "import schemathesis\n\
         schemathesis.serializer.alias(\"application/ocsp-request\", \"application/octet-stream\")\n",
    )
    .unwrap();
    let mut cmd = std::process::Command::new(schemathesis);
    cmd.arg("--config-file")
        .arg(config)
        .arg("--no-color")
        .arg("run")
        .arg(format!("{address}/openapi.yaml"))
        .args(["--url", address])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--max-response-time", MAX_RESPONSE_SECS])
        .args(["--seed", "17"])
        .args(["--workers", "2"])
        .args(["--request-timeout", "20"])
        .args(["--generation-database", "none"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&report)
        .env("SCHEMATHESIS_HOOKS", &hooks)
        // Its cache directory lands in the working directory: keep it out of the clone.
        .current_dir(work)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::inherit());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("start schemathesis");
    let status = tokio::task::spawn_blocking(move || {
        loop {
            if let Some(status) = child.try_wait().expect("wait for schemathesis") {
                return Some(status);
            }
            if started.elapsed() > WALL_CLOCK {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await
    .unwrap();
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
    match status {
        // It really ran: a summary that counts the test cases, every one passed.
        Some(status) => {
            let counted = text
                .lines()
                .skip_while(|l| l.trim() != "Test cases:")
                .nth(1)
                .is_some_and(|l| l.contains(" generated, ") && l.contains(" passed"));
            (status.success() && counted, text, elapsed)
        }
        None => (
            false,
            format!(
                "{text}\nkilled after {} s (wall-clock cap)",
                WALL_CLOCK.as_secs()
            ),
            elapsed,
        ),
    }
}
