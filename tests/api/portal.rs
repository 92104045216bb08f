//! The portal in real headless Chromium (driven by playwright-core through
//! `tests/browser/portal.mjs`): the four-step issuance wizard, registration with an institution,
//! a signature approved with the shuffled keypad PIN, a passkey made by Chromium's virtual
//! authenticator and a signature approved with it, sign-out on the server (the old token is
//! refused), sign in by choosing and a third approval; then — after the clock moves into the
//! renewal window — sign in by choosing again, renewal, the idle countdown and the sign-out
//! after five idle minutes. Each engine runs one phase on a desktop viewport (1280x800) and the
//! other on a phone (390x844), so both viewports walk the whole path; every page state checked
//! has touch targets of at least 44 px. Screenshots land in `TEST_FINCERT_SCREENSHOTS`.

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
    // SQLite: enrol on a desktop, renew on a phone; PostgreSQL the other way round.
    let (first, second) = if engine == Engine::Sqlite {
        ("desktop", "phone")
    } else {
        ("phone", "desktop")
    };
    let mut vars = vec![
        ("BASE", format!("http://localhost:{port}")),
        ("PIN", PIN.to_string()),
        ("HOTP", format!("{:06}", otp::hotp(OTP_SECRET, 0))),
        ("CLIENT_ID", bank.institution.client_id.clone()),
        ("CLIENT_SECRET", bank.client_secret.to_string()),
        ("SHOTS", shots.clone()),
        ("CHROMIUM", env("TEST_FINCERT_CHROMIUM")),
        ("PLAYWRIGHT_CORE", env("TEST_FINCERT_PLAYWRIGHT")),
    ];
    vars.push(("VIEWPORT", first.to_string()));
    let enrolled = node("enrol", &vars).await;
    assert_eq!(enrolled["oldTokenAfterSignOut"], 401);
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
    assert_eq!(
        signed.len(),
        3,
        "PIN, passkey, and PIN after sign-in by choosing"
    );
    assert!(
        signed[0].details.contains("\"amr\":\"pin\"")
            && signed[1].details.contains("\"amr\":\"passkey\"")
    );
    assert!(events.iter().any(|e| e.action == "enrolment.completed"));
    for action in [
        "auth.logout",
        "auth.sign_in_identified",
        "auth.sign_in_code_failed",
        "auth.sign_in_code_verified",
    ] {
        assert!(events.iter().any(|e| e.action == action), "{action}");
    }
    for page in [
        "home",
        "enrol-terms",
        "enrol-medium",
        "enrol-done",
        "certificates",
        "approval",
        "passkeys",
        "enrol-signin-identify",
        "enrol-signin-code",
        "enrol-signin-choose",
    ] {
        assert!(
            std::path::Path::new(&format!("{shots}/{page}.png")).exists(),
            "screenshot {page}"
        );
    }

    // Into the renewal window (20 days before expiry): the page shows it, and renewal works.
    app.clock.advance(Duration::days(3 * 365 - 20));
    vars.retain(|(k, _)| *k != "VIEWPORT");
    vars.push(("VIEWPORT", second.to_string()));
    vars.push(("CERTIFICATE", certificate));
    let renewed = node("renew", &vars).await;
    assert_eq!(renewed["idleSignedOut"], true);
    assert_eq!(
        renewed["certificates"], 2,
        "the renewed certificate is listed beside the old one"
    );
    app.stop().await;
}

both_engines!(portal_in_chromium);

/// The keys of one language's block (`ko: { … }` or `en: { … }`) of `const NAME = {` in app.js:
/// every `key: "` or `"key": "` at the top level of the block.
fn portal_keys(name: &str, language: &str) -> std::collections::BTreeSet<String> {
    let js = include_str!("../../src/portal/assets/app.js");
    let table = &js[js.find(&format!("const {name} = {{")).expect("the table")..];
    let start = table
        .find(&format!("  {language}: {{"))
        .expect("the language")
        + 6;
    let block = &table[start..start + table[start..].find("\n  },").expect("its end")];
    let mut keys = std::collections::BTreeSet::new();
    for (i, _) in block.match_indices(": \"") {
        let before = block[..i].trim_end_matches('"');
        let key: String = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !key.is_empty() {
            keys.insert(key);
        }
    }
    keys
}

/// Every text and every problem sentence of the portal exists in Korean and English, and the
/// codes the sign-in, session and approval pages can meet each have a sentence (a message is
/// never a code).
#[test]
fn the_portal_says_every_message_in_both_languages() {
    for table in ["T", "ERRORS"] {
        let (ko, en) = (portal_keys(table, "ko"), portal_keys(table, "en"));
        assert!(ko.len() > 20, "{table}: {ko:?}");
        assert_eq!(ko, en, "{table}: the same keys in Korean and English");
    }
    let js = include_str!("../../src/portal/assets/app.js");
    assert!(
        !js.contains("cert-id") && !js.contains("(${e.code})"),
        "no certificate id to type, no code after a message"
    );
    let errors = portal_keys("ERRORS", "ko");
    for code in [
        "wrong_pin",
        "pin_locked",
        "wrong_code",
        "code_expired",
        "too_many_codes",
        "rate_limited",
        "invalid_json",
        "invalid_ticket",
        "sign_in_expired",
        "sign_in_not_found",
        "invalid_token",
        "invalid_refresh_token",
        "refresh_token_reused",
        "passkey_rejected",
        "no_passkey",
        "webauthn_challenge_spent",
        "request_not_pending",
        "approval_mismatch",
        "service_unavailable",
        "internal_error",
        "network",
        "unknown",
    ] {
        assert!(errors.contains(code), "no sentence for {code}");
        if !matches!(code, "network" | "unknown") {
            assert!(
                !matches!(
                    fincert_client::proto::ErrorCode::parse(code),
                    fincert_client::proto::ErrorCode::Other(_)
                ),
                "{code} is a stable code"
            );
        }
    }
}
