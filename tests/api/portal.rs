//! The portal in real headless Chromium (driven by playwright-core through
//! `tests/browser/portal.mjs`): the four-step issuance wizard (the general-purpose fee agreed
//! to first), registration with an institution, a signature approved with the shuffled keypad
//! PIN, a passkey made by Chromium's virtual authenticator and a signature approved with it,
//! sign-out on the server (the old token is refused), sign in by choosing and a third approval,
//! the certificate this device remembers signing in with the passkey (no identity check),
//! a change of PIN, five wrong PINs (tries left, the lock explained), the PIN reset with the
//! bound passkey, a fourth approval with the new PIN, the usage history and its CSV; then a
//! PKCS#12 file and an NPKI pair made here are imported and each signs, and a request left
//! past its deadline loses its buttons and keypad to a sentence; then — after the clock
//! moves into the renewal window — sign in by choosing again, automatic renewal turned on (the
//! fee, read from the service's settings and not the default, agreed to) and a PIN approval that
//! renews the certificate and says so, suspend, resume and revoke, the idle countdown and the sign-out after five idle minutes. The engines alternate
//! the desktop (1280x800) and phone (390x844) viewports between phases, so both viewports walk
//! the whole path; every page state checked has touch targets of at least 44 px and 0 axe-core
//! violations of the WCAG 2.2 AA rules. Screenshots land in `TEST_FINCERT_SCREENSHOTS`.

use chrono::Duration;
use fincert::{
    auth::{media::MediumKind, otp},
    config::Engine,
    signing::institution::Sector,
};
use serde_json::Value;

use crate::{both_engines, helpers::*};

const PIN: &str = "583920";
/// The PIN after the change in the walk, the PIN after the reset, and a wrong one.
const NEW_PIN: &str = "604172";
const RESET_PIN: &str = "731946";
const WRONG_PIN: &str = "295816";
const P12_PASSWORD: &str = "p12-Pass!9";
const NPKI_PASSWORD: &str = "npki-Pass!23";
/// The general-purpose fee this service charges (not the 4,400 KRW default).
const FEE_KRW: u32 = 5500;

/// axe-core's script: `TEST_FINCERT_AXE`, else beside playwright-core in the same npm prefix
/// (where scripts/test.sh installs both).
pub(crate) fn axe_script() -> String {
    std::env::var("TEST_FINCERT_AXE").unwrap_or_else(|_| {
        let playwright = env("TEST_FINCERT_PLAYWRIGHT");
        let axe = std::path::Path::new(&playwright)
            .with_file_name("axe-core")
            .join("axe.min.js");
        assert!(
            axe.exists(),
            "{} is missing: run the suite with scripts/test.sh (it installs axe-core)",
            axe.display()
        );
        axe.display().to_string()
    })
}

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
    let out = tokio::time::timeout(std::time::Duration::from_secs(300), run)
        .await
        .expect("the browser run finishes in time")
        .expect("the runner thread")
        .expect("node runs");

    browser_report(&out, &format!("browser phase {phase}"))
}

async fn portal_in_chromium(engine: Engine) {
    // The other institution's files, made by openssl before the app's clock starts (it stamps
    // real time): a PKCS#12 file and an NPKI pair (signPri.key under seedCBCWithSHA1, with the
    // identity random R), both by the foreign CA whose root and issuing CA are trust anchors.
    let ca = crate::foreign::ForeignCa::new();
    ca.leaf("p12", "1.2.410.200005.1.1.1");
    let p12 = crate::foreign::keys::export_p12(&ca, "p12", P12_PASSWORD, &[]);
    let npki_cert = ca.leaf("npki", "1.2.410.200005.1.1.1");
    let pkcs8 = crate::foreign::npki::pkcs8_with_r(&ca, "npki", &[0xa5; 20]);
    let npki_key = crate::foreign::npki::sign_pri_pbkdf1(&ca, &pkcs8, NPKI_PASSWORD, 2048);
    let files = ca.dir.path().join("upload");
    std::fs::create_dir_all(files.join("NPKI")).unwrap();
    std::fs::write(files.join("holder.p12"), &p12).unwrap();
    std::fs::write(files.join("NPKI/signCert.der"), &npki_cert).unwrap();
    std::fs::write(files.join("NPKI/signPri.key"), &npki_key).unwrap();
    let anchors = ca.dir.path().join("anchors");
    std::fs::create_dir_all(&anchors).unwrap();
    for pem in ["root.pem", "ca.pem"] {
        std::fs::copy(ca.dir.path().join(pem), anchors.join(pem)).unwrap();
    }
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
        s.pki.trust_anchors_dir = anchors.display().to_string();
        // Not the default: the portal must show the fee the service is configured with.
        s.pki.general_purpose_fee_krw = FEE_KRW;
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
        ("FEE_KRW", FEE_KRW.to_string()),
        ("HOTP", format!("{:06}", otp::hotp(OTP_SECRET, 0))),
        ("HOTP2", format!("{:06}", otp::hotp(OTP_SECRET, 1))),
        ("NEW_PIN", NEW_PIN.to_string()),
        ("RESET_PIN", RESET_PIN.to_string()),
        ("WRONG_PIN", WRONG_PIN.to_string()),
        ("AXE", axe_script()),
        ("P12_FILE", files.join("holder.p12").display().to_string()),
        ("P12_PASSWORD", P12_PASSWORD.to_string()),
        (
            "NPKI_CERT",
            files.join("NPKI/signCert.der").display().to_string(),
        ),
        (
            "NPKI_KEY",
            files.join("NPKI/signPri.key").display().to_string(),
        ),
        ("NPKI_PASSWORD", NPKI_PASSWORD.to_string()),
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
    assert_eq!(
        enrolled["soleControl"], "true",
        "its PRF output binds the certificate's key"
    );
    // Two displays of the keypad put the digits in different places (equal by chance: 1 in 10!).
    assert_eq!(enrolled["keypadShuffled"], true);
    // Tries left after each wrong PIN, then the lock; every state passed axe-core.
    assert_eq!(enrolled["triesShown"], serde_json::json!([4, 3, 2, 1]));
    assert!(enrolled["axeRuns"].as_u64().unwrap() >= 20, "{enrolled}");
    // The history lists the four signatures; the CSV has them and its header.
    assert_eq!(enrolled["historyRows"], 4);
    assert_eq!(enrolled["csvLines"], 5);
    // The approvals (PIN, passkey, PIN after sign-in by choosing, the reset PIN) signed, and
    // the wizard's steps, the change, the lock and the reset are audited.
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let signed: Vec<_> = events
        .iter()
        .filter(|e| e.action == "signature.created")
        .collect();
    assert_eq!(
        signed.len(),
        4,
        "PIN, passkey, PIN after sign-in by choosing, and the PIN after the reset"
    );
    assert!(
        signed[0].details.contains("\"amr\":\"pin\"")
            && signed[1].details.contains("\"amr\":\"passkey\"")
    );
    assert!(events.iter().any(|e| e.action == "enrolment.completed"));
    // The certificate this device remembered signed in with its PIN and with the passkey,
    // each without an identity check (no ticket).
    for amr in ["pin", "passkey"] {
        assert!(
            events.iter().any(|e| e.action == "auth.login"
                && e.details.contains(&format!("\"amr\":\"{amr}\""))
                && e.details.contains("\"chosen\":false")),
            "a {amr} sign-in without a ticket"
        );
    }
    // The first enrolment's terms: the required ones by "agree to all", the optional one by
    // its own box (ticked in the walk, after a reload kept the boxes).
    let terms = events
        .iter()
        .find(|e| e.action == "enrolment.terms_agreed")
        .expect("the terms step is audited");
    for code in ["service", "privacy", "identity-check", "marketing"] {
        assert!(
            terms.details.contains(&format!("\"{code}\"")),
            "{code}: {}",
            terms.details
        );
    }
    for action in [
        "key.pin_changed",
        "key.pin_locked",
        "key.pin_reset",
        "enrolment.pin_reset_completed",
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
        "enrol-fee",
        "pin-change",
        "pin-tries-left",
        "pin-locked",
        "reset-passkey",
        "reset-done",
        "history",
    ] {
        assert!(
            std::path::Path::new(&format!("{shots}/{page}.png")).exists(),
            "screenshot {page}"
        );
    }

    // Imports on the other viewport: each imported key signs a request it approved.
    vars.retain(|(k, _)| *k != "VIEWPORT");
    vars.push(("VIEWPORT", second.to_string()));
    vars.push(("CERTIFICATE", certificate.clone()));
    let imported = node("imports", &vars).await;
    let mut foreign_signers = Vec::new();
    for source in ["pkcs12", "npki"] {
        let id = imported[source].as_str().unwrap().to_owned();
        let row = fincert::store::pki::certificate_by_id(&app.db, &id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("the {source} import is a certificate"));
        foreign_signers.push(row.serial_hex);
    }
    // The request the page showed as expired (its buttons gone) was never decided.
    let late = imported["expiredRequest"].as_str().unwrap();
    let late = fincert::store::signing::request(&app.db, late)
        .await
        .unwrap()
        .expect("the expired request is stored");
    assert_eq!(late.status, fincert::signing::request::Status::Pending);
    assert_eq!(late.expires_at - late.created_at, Duration::seconds(30));
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let signed: Vec<_> = events
        .iter()
        .filter(|e| e.action == "signature.created")
        .collect();
    assert_eq!(signed.len(), 6, "and one with each imported key");
    for serial in &foreign_signers {
        assert!(
            signed
                .iter()
                .any(|e| e.details.contains(&format!("\"certificate\":\"{serial}\""))),
            "a signature by the imported certificate {serial}: {signed:?}"
        );
    }

    // Into the renewal window (20 days before expiry): the page shows it, and renewal works.
    app.clock.advance(Duration::days(3 * 365 - 20));
    vars.retain(|(k, _)| *k != "VIEWPORT");
    vars.push(("VIEWPORT", first.to_string()));
    let renewed = node("renew", &vars).await;
    assert_eq!(renewed["idleSignedOut"], true);
    assert_eq!(
        renewed["certificates"], 2,
        "the renewed certificate is listed beside the old one"
    );
    let old = fincert::store::pki::certificate_by_id(&app.db, &certificate)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        old.status,
        fincert::domain::cert_status::CertStatus::Revoked,
        "revoked from the portal"
    );
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    for action in [
        "certificate.auto_renewal_set",
        "certificate.auto_renewed",
        "certificate.suspended",
        "certificate.resumed",
        "certificate.revoked",
        // The request refused elsewhere while the list was open.
        "signature.rejected",
    ] {
        assert!(events.iter().any(|e| e.action == action), "{action}");
    }
    // Signed out with the renewed certificate suspended, the walk resumed it by identity.
    assert!(
        events
            .iter()
            .any(|e| e.action == "auth.login" && e.details.contains("\"resumed\":true")),
        "resumed by sign-in by choosing"
    );
    // The fees charged are the configured one, each agreed to in the portal first: the
    // issuance and the automatic renewal.
    let charged: Vec<(String, i32)> = fincert::store::pki::fees_of(&app.db, old.owner_id.as_str())
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.event, f.amount_krw))
        .collect();
    assert_eq!(
        charged,
        [("issue".to_owned(), 5500), ("auto_renew".to_owned(), 5500)]
    );
    for page in ["auto-renew-fee", "auto-renew-on", "auto-renewed"] {
        assert!(
            std::path::Path::new(&format!("{shots}/{page}.png")).exists(),
            "screenshot {page}"
        );
    }
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
    // Every stable code the API can answer has a sentence, and the table has nothing else but
    // the portal's own two (a network failure, anything unexpected).
    let errors = portal_keys("ERRORS", "ko");
    let stable: std::collections::BTreeSet<String> = fincert_client::proto::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    let missing: Vec<_> = stable.difference(&errors).collect();
    assert!(missing.is_empty(), "no sentence for {missing:?}");
    let extra: Vec<_> = errors
        .difference(&stable)
        .filter(|c| !matches!(c.as_str(), "network" | "unknown"))
        .collect();
    assert!(
        extra.is_empty(),
        "sentences for codes the API does not have: {extra:?}"
    );
    // A sentence is a sentence: never the code itself.
    for code in &stable {
        assert!(
            !js.contains(&format!(": \"{code}\"")),
            "{code} is shown as itself"
        );
    }
}
