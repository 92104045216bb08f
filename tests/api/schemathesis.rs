//! schemathesis (the venv's, pinned in scripts/test.sh) over openapi.yaml against a real
//! `fincert serve` process: every operation with generated valid and invalid input, as a
//! signed-in holder (`bearer`), an institution (`institutionToken`, `clientBasic`) and
//! nobody, bounded to a fixed number of examples per operation and a fixed seed. Any server
//! error (5xx) or answer outside the contract (status, content type, headers, body schema)
//! fails the test with schemathesis's report.

use std::path::Path;

use fincert::{config::Engine, signing::institution::Sector};

use crate::helpers::*;

/// Examples per operation and phase (the run stays within a few minutes on two cores).
const MAX_EXAMPLES: &str = "8";

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
    // Tokens outlive the run (the holder's session would otherwise end after 5 minutes).
    let app = spawn_app_tuned(Engine::Sqlite, |s| s.auth.access_ttl_secs = 3600).await;
    let holder = cloud_cert("user-schemathesis").issue(&app).await;
    let user_token = sign_in(&app, holder.id).await;
    let inst = institution(&app, "Schemathesis Bank", Sector::Bank).await;
    let node = ProcessNode::start(&app, &[("FINCERT_AUTH_ACCESS_TTL_SECS", "3600")]).await;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[auth.openapi.bearer]\nbearer = \"{user_token}\"\n\n\
             [auth.openapi.institutionToken]\nbearer = \"{}\"\n\n\
             [auth.openapi.clientBasic]\nusername = \"{}\"\npassword = \"{}\"\n",
            inst.token, inst.client_id, inst.secret
        ),
    )
    .unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml");
    let report = dir.path().join("junit.xml");
    let mut cmd = std::process::Command::new(&schemathesis);
    cmd.arg("--config-file")
        .arg(&config)
        .arg("--no-color")
        .arg("run")
        .arg(&spec)
        .args(["--url", &node.address])
        .args(["--checks", "all"])
        // Valid input a domain rule refuses (a 409 for an id that is not in the right state,
        // a 422 for a well-formed but unknown certificate) is the contract, not a violation;
        // `ignored_auth` and friends stay on.
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", "17"])
        .args(["--workers", "2"])
        .args(["--request-timeout", "20"])
        .args(["--generation-database", "none"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&report)
        .env_remove("SCHEMATHESIS_HOOKS")
        // Its cache directory lands in the working directory: keep it out of the clone.
        .current_dir(dir.path());
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run schemathesis"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    drop(node);
    assert!(
        out.status.success(),
        "schemathesis found failures (report above)"
    );
    // It really ran: the summary counts test cases, and none failed.
    assert!(
        stdout.contains("passed") && !stdout.contains(" failed"),
        "no clean summary in schemathesis's output"
    );
}
