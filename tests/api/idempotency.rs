//! Idempotency records behave the same on both engines.

use chrono::Duration;
use fincert::{
    clock::Clock,
    config::Engine,
    domain::idempotency::{IdempotencyKey, fingerprint},
    store::idempotency::{Claim, claim, complete, purge_expired, release},
};

use crate::{both_engines, helpers::*};

async fn keys_replay_and_refuse_other_bodies(engine: Engine) {
    let app = spawn_app(engine).await;
    let db = &app.db;
    let now = app.clock.now();
    let ttl = Duration::hours(24);
    let key = IdempotencyKey::parse("req-0001").unwrap();
    let fp = fingerprint("POST", "/v1/sign-requests", br#"{"a":1}"#);
    let other = fingerprint("POST", "/v1/sign-requests", br#"{"a":2}"#);

    assert_eq!(
        claim(db, "inst-1", &key, &fp, now, ttl).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        claim(db, "inst-1", &key, &fp, now, ttl).await.unwrap(),
        Claim::InProgress
    );
    assert_eq!(
        claim(db, "inst-1", &key, &other, now, ttl).await.unwrap(),
        Claim::Mismatch
    );
    // Keys are scoped per caller.
    assert_eq!(
        claim(db, "inst-2", &key, &other, now, ttl).await.unwrap(),
        Claim::Fresh
    );

    complete(db, "inst-1", &key, 201, r#"{"id":"r1"}"#)
        .await
        .unwrap();
    assert_eq!(
        claim(db, "inst-1", &key, &fp, now, ttl).await.unwrap(),
        Claim::Replay {
            status: 201,
            body: r#"{"id":"r1"}"#.into()
        }
    );
    // release() only gives back unfinished claims.
    release(db, "inst-1", &key).await.unwrap();
    assert!(matches!(
        claim(db, "inst-1", &key, &fp, now, ttl).await.unwrap(),
        Claim::Replay { .. }
    ));

    // After expiry the key is fresh again.
    let later = now + ttl + Duration::seconds(1);
    assert_eq!(
        claim(db, "inst-1", &key, &other, later, ttl).await.unwrap(),
        Claim::Fresh
    );
}

async fn failed_work_releases_the_key(engine: Engine) {
    let app = spawn_app(engine).await;
    let db = &app.db;
    let now = app.clock.now();
    let key = IdempotencyKey::parse("k").unwrap();
    let fp = fingerprint("POST", "/x", b"");
    assert_eq!(
        claim(db, "s", &key, &fp, now, Duration::hours(1))
            .await
            .unwrap(),
        Claim::Fresh
    );
    release(db, "s", &key).await.unwrap();
    assert_eq!(
        claim(db, "s", &key, &fp, now, Duration::hours(1))
            .await
            .unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        purge_expired(db, now + Duration::hours(2)).await.unwrap(),
        1
    );
}

/// Many concurrent claims of one key: exactly one wins.
async fn concurrent_claims_have_one_winner(engine: Engine) {
    let app = spawn_app(engine).await;
    let now = app.clock.now();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let db = app.db.clone();
        tasks.push(tokio::spawn(async move {
            let key = IdempotencyKey::parse("same").unwrap();
            claim(
                &db,
                "s",
                &key,
                &fingerprint("POST", "/x", b"1"),
                now,
                Duration::hours(1),
            )
            .await
            .unwrap()
        }));
    }
    let mut fresh = 0;
    for t in tasks {
        if t.await.unwrap() == Claim::Fresh {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1);
}

both_engines!(
    keys_replay_and_refuse_other_bodies,
    failed_work_releases_the_key,
    concurrent_claims_have_one_winner
);

/// Known defect, found by `cluster::load_balancer` (a node killed mid-request): a node that
/// dies between claiming an `Idempotency-Key` and recording its answer leaves the key
/// `in_progress` for the key's whole 24-hour life. Every retry under it is told "still being
/// processed; retry shortly" (409 `idempotency_in_progress`) although nothing processes it any
/// more; and when the dead node had already created the request, the institution cannot learn
/// which one through its key, so a retry under a new key makes a second request that the
/// holder may approve as well. What must hold instead: once no request can still be running on
/// the claim (after `http.request_timeout_secs`), a retry gets the stored outcome or runs the
/// work — never a day of 409s. The fix needs the claim's completion in the work's own
/// transaction (or the key stored with the request), so these stay ignored until it lands:
/// `cargo test --test api -- --ignored a_key_claimed_by_a_dead_node`.
async fn a_key_claimed_by_a_dead_node_is_not_stuck(engine: Engine) {
    use base64::{Engine as _, engine::general_purpose::STANDARD};
    use fincert::{pki::profile::Usage, signing::institution::Sector};
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330300000001", Usage::General).await;
    consent(&h, &bank).await;
    let body = serde_json::to_vec(&serde_json::json!({
        "certificate_id": h.cert.id, "digests": [STANDARD.encode([5u8; 32])],
        "display_text": "Pay 10,000 KRW"}))
    .unwrap();
    // All that the node that died left behind: its claim of the key.
    let key = IdempotencyKey::parse("order-crash-1").unwrap();
    let print = fingerprint("POST", "/v1/signature-requests", &body);
    let scope = format!("institution:{}", bank.id);
    let now = app.clock.now();
    assert_eq!(
        claim(&app.db, &scope, &key, &print, now, Duration::hours(24))
            .await
            .unwrap(),
        Claim::Fresh
    );
    // Six request timeouts later, nothing can still be working on it.
    let timeout = i64::try_from(app.settings.http.request_timeout_secs).unwrap();
    app.clock.advance(Duration::seconds(6 * timeout));
    let resp = app
        .client
        .post(app.url("/v1/signature-requests"))
        .bearer_auth(&bank.token)
        .header("idempotency-key", key.as_str())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_eq!(status, 201, "{}", resp.text().await.unwrap());
}

mod a_key_claimed_by_a_dead_node_is_not_stuck {
    use fincert::config::Engine;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "known defect: a key claimed by a node that died stays in_progress for 24 h"]
    async fn sqlite() {
        super::a_key_claimed_by_a_dead_node_is_not_stuck(Engine::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "known defect: a key claimed by a node that died stays in_progress for 24 h"]
    async fn postgres() {
        super::a_key_claimed_by_a_dead_node_is_not_stuck(Engine::Postgres).await
    }
}
