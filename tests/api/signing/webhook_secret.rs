//! `fincert institution rotate-webhook-secret`: the next delivery is signed with the new
//! secret (the old one no longer verifies it), `webhook-secret` shows the new one, and the
//! rotation is audited. After a move between KMS backends this is what frees an institution's
//! webhooks from the previous backend's MAC key (`hsm::moving`).

use fincert::{audit::Action, config::Engine, pki::profile::Usage, signing::institution::Sector};
use serde_json::json;

use super::{approve_pin, created};
use crate::helpers::*;

fn secret_line(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("webhook_secret="))
        .unwrap_or_else(|| panic!("no webhook_secret= in {out}"))
        .to_owned()
}

pub(super) async fn a_rotated_webhook_secret_signs_the_next_delivery(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000203", Usage::General).await;
    consent(&h, &bank).await;
    let (rx, hook_url, hook) = super::receiver::receiver(0).await;
    let digest = fincert::signing::request::Digest::of(b"loan contract").to_b64();
    let sign = async |text: &str| {
        let req = created(
            &app,
            &bank,
            json!({"certificate_id": h.cert.id, "digests": [digest], "display_text": text, "webhook_url": hook_url}),
        )
        .await;
        assert_eq!(approve_pin(&app, &h, &req, PIN).await.status(), 200);
        assert_eq!(app.signing.deliver_due(&app.db, 10).await.unwrap(), 1);
    };
    // Whether delivery `i` is signed with `secret`.
    let signed_with = |i: usize, secret: &str| rx.signed_with(i, secret).0;
    let env = vec![
        (
            "FINCERT_DATABASE_URL".to_owned(),
            app.settings.database_url(),
        ),
        (
            "FINCERT_DATA_DIR".to_owned(),
            app.settings.data_dir.display().to_string(),
        ),
    ];
    let cli = |args: Vec<String>| {
        let env = env.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_cli(&args, &env)
        })
    };

    sign("Loan contract 1").await;
    assert!(signed_with(0, &bank.webhook_secret));

    let (code, out, err) = cli(vec![
        "institution".into(),
        "rotate-webhook-secret".into(),
        bank.client_id.clone(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    let rotated = secret_line(&out);
    assert!(rotated.starts_with("whsec_"), "{rotated}");
    assert_ne!(rotated, bank.webhook_secret);

    sign("Loan contract 2").await;
    assert!(signed_with(1, &rotated), "the new secret signs");
    assert!(
        !signed_with(1, &bank.webhook_secret),
        "the old one no longer does"
    );
    let (code, out, err) = cli(vec![
        "institution".into(),
        "webhook-secret".into(),
        bank.client_id.clone(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert_eq!(secret_line(&out), rotated);
    let events =
        fincert::store::audit::by_action(&app.db, Action::InstitutionWebhookSecretRotated, 10)
            .await
            .unwrap();
    assert_eq!(events.len(), 1);
    assert!(
        events[0].details.contains(r#""key_version":2"#),
        "{}",
        events[0].details
    );
    assert!(
        !events[0].details.contains(&rotated),
        "no secret in the audit log"
    );

    // An unknown institution is a usage error, and changes nothing.
    let (code, _, err) = cli(vec![
        "institution".into(),
        "rotate-webhook-secret".into(),
        "no-such-client".into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 2, "{err}");
    hook.stop(true).await;
    app.stop().await;
}
