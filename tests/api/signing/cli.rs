//! The institution and holder verbs of the `fincert` CLI (`sign request|pending|approve|status`,
//! `verify`), run as a process against the app.

use fincert::{config::Engine, pki::profile::Usage, signing::institution::Sector};
use serde_json::Value;

use super::b64;
use crate::helpers::*;

/// The institution and holder verbs of the CLI, through the client crate, against the app.
pub(super) async fn cli_request_approve_and_verify(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000009", Usage::General).await;
    consent(&h, &bank).await;
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("contract.txt");
    std::fs::write(&doc, b"lease contract, 24 months").unwrap();
    let url = app.url("");
    let cert = h.cert.id.to_string();
    let inst_env = vec![
        ("FINCERT_API_URL".to_string(), url.clone()),
        ("FINCERT_CLIENT_ID".to_string(), bank.client_id.clone()),
        ("FINCERT_CLIENT_SECRET".to_string(), bank.secret.clone()),
    ];
    let holder_env = vec![
        ("FINCERT_API_URL".to_string(), url.clone()),
        ("FINCERT_PIN".to_string(), PIN.to_string()),
    ];
    let cli = |args: Vec<String>, env: Vec<(String, String)>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_cli(&args, &env)
        })
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    let (code, out, err) = cli(
        s(&[
            "sign",
            "request",
            "--certificate",
            &cert,
            "--file",
            doc.to_str().unwrap(),
            "--text",
            "Sign the lease",
            "--idempotency-key",
            "lease-1",
        ]),
        inst_env.clone(),
    )
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    let req: Value = serde_json::from_str(&out).unwrap();
    let id = req["id"].as_str().unwrap().to_owned();
    let (code, out, _) = cli(
        s(&["sign", "pending", "--certificate", &cert]),
        holder_env.clone(),
    )
    .await
    .unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("Sign the lease"));
    let (code, out, err) = cli(
        s(&["sign", "approve", &id, "--certificate", &cert]),
        holder_env.clone(),
    )
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Hana Bank asks: Sign the lease"),
        "the holder sees the text: {err}"
    );
    let signed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(signed["status"], "signed");
    let (code, out, _) = cli(s(&["sign", "status", &id]), inst_env.clone())
        .await
        .unwrap();
    assert_eq!(code, 0);
    let got: Value = serde_json::from_str(&out).unwrap();
    std::fs::write(
        dir.path().join("sig.bin"),
        b64(&got["result"]["signatures"][0]),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cert.der"),
        b64(&got["result"]["certificate"]),
    )
    .unwrap();
    let verify = |file: &str| {
        s(&[
            "verify",
            "--certificate",
            dir.path().join("cert.der").to_str().unwrap(),
            "--signature",
            dir.path().join("sig.bin").to_str().unwrap(),
            "--file",
            file,
        ])
    };
    let (code, out, _) = cli(verify(doc.to_str().unwrap()), inst_env.clone())
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"valid\": true"));
    let other = dir.path().join("other.txt");
    std::fs::write(&other, b"lease contract, 2 months").unwrap();
    let (code, out, _) = cli(verify(other.to_str().unwrap()), inst_env.clone())
        .await
        .unwrap();
    assert_eq!(
        code, 1,
        "a signature over other content is not valid: {out}"
    );
    // A wrong PIN is a clear failure, not a signature.
    let wrong = vec![
        ("FINCERT_API_URL".to_string(), url.clone()),
        ("FINCERT_PIN".to_string(), "135792".to_string()),
    ];
    let (code, _, err) = cli(s(&["sign", "pending", "--certificate", &cert]), wrong)
        .await
        .unwrap();
    assert_eq!(code, 3);
    assert!(err.contains("401"), "{err}");
    app.stop().await;
}
