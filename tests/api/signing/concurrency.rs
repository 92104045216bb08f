//! Concurrent approvals and CSC signatures through the group-committing writer: each request
//! signs at most once, every signature is audited, and the audit chain stays intact.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{config::Engine, pki::profile::Usage, signing::institution::Sector};
use serde_json::{Value, json};

use super::{approve_pin, created};
use crate::helpers::*;

/// Concurrent signatures go through the group-committing writer: each request is signed at
/// most once, every signature is audited, and the chain stays intact.
pub(super) async fn concurrent_signatures_commit_once_and_chain(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000010", Usage::General).await;
    consent(&h, &bank).await;
    // Five approvals of one request at once: exactly one signs.
    let req = created(&app, &bank, json!({"certificate_id": h.cert.id, "digests": [STANDARD.encode([8u8; 32])], "display_text": "Pay once"})).await;
    let attempts = (0..5).map(|_| approve_pin(&app, &h, &req, PIN));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    // Ten CSC signatures at once under one SAD, each its own HTTP call.
    let id = h.cert.id.to_string();
    let hashes: Vec<String> = (0..10u8).map(|i| STANDARD.encode([i + 20; 32])).collect();
    let auth: Value = post(&app, "/csc/v2/credentials/authorize", &bank.token, json!({"credentialID": id, "numSignatures": 10, "hashes": hashes, "authData": [{"id": "PIN", "value": PIN}]})).await.json().await.unwrap();
    let sad = auth["SAD"].as_str().unwrap().to_owned();
    let calls = hashes.iter().map(|hsh| post(&app, "/csc/v2/signatures/signHash", &bank.token, json!({"credentialID": id, "SAD": sad, "hashes": [hsh], "signAlgo": "1.2.840.113549.1.1.11"})));
    let oks = futures_util::future::join_all(calls)
        .await
        .iter()
        .filter(|r| r.status() == 200)
        .count();
    assert_eq!(oks, 10);
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "signature.created")
            .count(),
        11
    );
    let verdict = fincert::store::audit::verify(&app.db).await.unwrap();
    assert!(verdict.is_ok(), "the chain is intact: {verdict:?}");
    app.stop().await;
}
