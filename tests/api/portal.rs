//! The portal in real headless Chromium (driven by playwright-core through
//! `tests/browser/portal.mjs`): the four-step issuance wizard, registration with an institution,
//! a signature approved with the shuffled keypad PIN, a passkey made by Chromium's virtual
//! authenticator and a signature approved with it, then — after the clock moves into the
//! renewal window — renewal. Screenshots of each main page land in `TEST_FINCERT_SCREENSHOTS`.

use chrono::Duration;
use fincert::{
    auth::{media::MediumKind, otp},
    config::Engine,
    signing::institution::Sector,
};
use serde_json::Value;

use crate::{both_engines, helpers::*};

const PIN: &str = "583920";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the suite with scripts/test.sh (it installs Chromium and playwright-core)")
    })
}

async fn node(phase: &str, vars: &[(&str, String)]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/portal.mjs");
    let mut cmd = std::process::Command::new("node");
    cmd.arg(script).arg(phase);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let run = tokio::task::spawn_blocking(move || cmd.output());
    let out = tokio::time::timeout(std::time::Duration::from_secs(180), run)
        .await
        .expect("the browser run finishes in time")
        .expect("the runner thread")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("{}");
    let result: Value = serde_json::from_str(line).unwrap_or_default();
    assert!(
        out.status.success() && result["ok"] == true,
        "browser phase {phase} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    result
}

async fn portal_in_chromium(engine: Engine) {
    // WebAuthn needs the page's origin to be the relying party's: a fixed port on localhost.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_tuned(engine, |s| {
        s.http.listen = format!("127.0.0.1:{port}");
        s.auth.webauthn_origin = format!("http://localhost:{port}");
        s.enrolment.expose_dev_outbox = true;
    })
    .await;
    dev_customer(&app).await;
    register_otp(&app, MediumKind::Hotp, None).await;
    let bank = register_institution(&app, "Hana Bank", Sector::Bank).await;
    let shots = format!(
        "{}/{}",
        env("TEST_FINCERT_SCREENSHOTS"),
        if engine == Engine::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
    let vars = vec![
        ("BASE", format!("http://localhost:{port}")),
        ("PIN", PIN.to_string()),
        ("HOTP", format!("{:06}", otp::hotp(OTP_SECRET, 0))),
        ("CLIENT_ID", bank.institution.client_id.clone()),
        ("CLIENT_SECRET", bank.client_secret.to_string()),
        ("SHOTS", shots.clone()),
        ("CHROMIUM", env("TEST_FINCERT_CHROMIUM")),
        ("PLAYWRIGHT_CORE", env("TEST_FINCERT_PLAYWRIGHT")),
    ];
    let enrolled = node("enrol", &vars).await;
    let certificate = enrolled["certificateId"].as_str().unwrap().to_owned();
    assert_eq!(
        enrolled["passkeys"], 1,
        "the virtual authenticator holds the new passkey"
    );
    // Two displays of the keypad put the digits in different places (equal by chance: 1 in 10!).
    assert_eq!(enrolled["keypadShuffled"], true);
    // Both approvals (PIN, then passkey) signed, and the wizard's steps are audited.
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let signed: Vec<_> = events
        .iter()
        .filter(|e| e.action == "signature.created")
        .collect();
    assert_eq!(signed.len(), 2);
    assert!(
        signed[0].details.contains("\"amr\":\"pin\"")
            && signed[1].details.contains("\"amr\":\"passkey\"")
    );
    assert!(events.iter().any(|e| e.action == "enrolment.completed"));
    for page in [
        "home",
        "enrol-terms",
        "enrol-medium",
        "enrol-done",
        "certificates",
        "approval",
        "passkeys",
    ] {
        assert!(
            std::path::Path::new(&format!("{shots}/{page}.png")).exists(),
            "screenshot {page}"
        );
    }

    // Into the renewal window (20 days before expiry): the page shows it, and renewal works.
    app.clock.advance(Duration::days(3 * 365 - 20));
    let mut vars = vars;
    vars.push(("CERTIFICATE", certificate));
    let renewed = node("renew", &vars).await;
    assert_eq!(
        renewed["certificates"], 2,
        "the renewed certificate is listed beside the old one"
    );
    app.stop().await;
}

both_engines!(portal_in_chromium);
