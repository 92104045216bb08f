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
    let mut statuses = Vec::new();
    let mut decided_meanwhile = 0;
    for r in futures_util::future::join_all(attempts).await {
        statuses.push(r.status().as_u16());
        let body: Value = r.json().await.unwrap();
        // Opened the key, signed, then lost the commit to another approval.
        if body["detail"] == "the request is decided" {
            decided_meanwhile += 1;
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    // The approval that signed committed its key activation with its signature, one event
    // after the other in one transaction; every approval that opened the key is on record
    // (when one loses the race after opening it, `the_undelivered_activation_is_audited`).
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let request_id = req["id"].as_str().unwrap();
    let at = events
        .iter()
        .position(|e| e.action == "signature.created" && e.subject.as_deref() == Some(request_id))
        .expect("the request's signature event");
    assert!(at > 0, "an event precedes the signature");
    let activated = &events[at - 1];
    assert_eq!(activated.action, "key.activated", "{activated:?}");
    assert!(
        activated.details.contains("\"slot\":\"pin\""),
        "{}",
        activated.details
    );
    let activations = events
        .iter()
        .filter(|e| e.action == "key.activated")
        .count();
    assert_eq!(activations, 1 + decided_meanwhile, "{statuses:?}");
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

/// An activation whose output is not delivered (its request was decided meanwhile) is still
/// written: the group commit's audit-only change applies its events whatever else the batch
/// holds, and answers `Done`.
pub(super) async fn the_undelivered_activation_is_audited(engine: Engine) {
    use fincert::{
        audit::{Action, Actor, NewEvent},
        signing::commit::{Change, Committer, Outcome},
    };
    let app = spawn_app(engine).await;
    let clock: fincert::clock::SharedClock = std::sync::Arc::new(app.clock.clone());
    let metrics = fincert::telemetry::CommitMetrics::unregistered().unwrap();
    let committer = Committer::start(app.db.clone(), clock, 8, metrics);
    let skipped = Change::Decide {
        request_id: uuid::Uuid::new_v4(),
        status: fincert::signing::request::Status::Signed,
        result: None,
        delivery: None,
    };
    let event = |what: &str| {
        NewEvent::new(Actor::User("u-1".into()), Action::KeyActivated)
            .subject(what.to_owned())
            .details(json!({"slot": "pin"}))
    };
    let (decided, audited) = futures_util::join!(
        committer.commit(skipped, vec![event("dropped")]),
        committer.commit(Change::Audit, vec![event("kept")]),
    );
    assert_eq!(
        decided.unwrap(),
        Outcome::Skipped,
        "no such request: nothing of it is written"
    );
    assert_eq!(audited.unwrap(), Outcome::Done);
    let subjects: Vec<_> = fincert::store::audit::page_after(&app.db, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "key.activated")
        .filter_map(|e| e.subject)
        .collect();
    assert_eq!(subjects, ["kept"]);
    let verdict = fincert::store::audit::verify(&app.db).await.unwrap();
    assert!(verdict.is_ok(), "the chain is intact: {verdict:?}");
    app.stop().await;
}
