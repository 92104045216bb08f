//! Idempotency records behave the same on both engines.

use chrono::Duration;
use fincert::{
    clock::Clock,
    config::Engine,
    domain::idempotency::{IdempotencyKey, fingerprint},
    store::idempotency::{Claim, Claimed, claim, complete, purge_expired, release},
};

use crate::{both_engines, helpers::*};

/// How long an unfinished claim is held before a retry may take it over.
const LEASE: Duration = Duration::seconds(20);

async fn keys_replay_and_refuse_other_bodies(engine: Engine) {
    let app = spawn_app(engine).await;
    let db = &app.db;
    let now = app.clock.now();
    let ttl = Duration::hours(24);
    let key = IdempotencyKey::parse("req-0001").unwrap();
    let fp = fingerprint("POST", "/v1/sign-requests", br#"{"a":1}"#);
    let other = fingerprint("POST", "/v1/sign-requests", br#"{"a":2}"#);

    assert_eq!(
        claim(db, "inst-1", &key, &fp, now, ttl, LEASE)
            .await
            .unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        claim(db, "inst-1", &key, &fp, now, ttl, LEASE)
            .await
            .unwrap(),
        Claim::InProgress
    );
    assert_eq!(
        claim(db, "inst-1", &key, &other, now, ttl, LEASE)
            .await
            .unwrap(),
        Claim::Mismatch
    );
    // Keys are scoped per caller.
    assert_eq!(
        claim(db, "inst-2", &key, &other, now, ttl, LEASE)
            .await
            .unwrap(),
        Claim::Fresh
    );

    let claimed = Claimed {
        scope: "inst-1".into(),
        key: key.clone(),
        at: now,
    };
    assert!(
        complete(db, &claimed, 201, r#"{"id":"r1"}"#).await.unwrap(),
        "the caller's own claim completes"
    );
    assert_eq!(
        claim(db, "inst-1", &key, &fp, now, ttl, LEASE)
            .await
            .unwrap(),
        Claim::Replay {
            status: 201,
            body: r#"{"id":"r1"}"#.into()
        }
    );
    // release() only gives back unfinished claims.
    release(db, &claimed).await.unwrap();
    assert!(matches!(
        claim(db, "inst-1", &key, &fp, now, ttl, LEASE)
            .await
            .unwrap(),
        Claim::Replay { .. }
    ));

    // After expiry the key is fresh again.
    let later = now + ttl + Duration::seconds(1);
    assert_eq!(
        claim(db, "inst-1", &key, &other, later, ttl, LEASE)
            .await
            .unwrap(),
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
        claim(db, "s", &key, &fp, now, Duration::hours(1), LEASE)
            .await
            .unwrap(),
        Claim::Fresh
    );
    release(
        db,
        &Claimed {
            scope: "s".into(),
            key: key.clone(),
            at: now,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        claim(db, "s", &key, &fp, now, Duration::hours(1), LEASE)
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
                LEASE,
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
    concurrent_claims_have_one_winner,
    a_live_claim_is_not_taken_over,
    a_key_claimed_by_a_dead_node_is_not_stuck
);

/// Found by `cluster::load_balancer` (a node killed mid-request): a node that dies between
/// claiming an `Idempotency-Key` and committing its work must not leave the key stuck. The
/// request and its answer under the key commit together, so an unfinished claim has nothing
/// behind it; once it is older than its lease (twice the request timeout, which no request
/// outlives) a retry takes the key over and creates the request.
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
        claim(
            &app.db,
            &scope,
            &key,
            &print,
            now,
            Duration::hours(24),
            LEASE
        )
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
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_eq!(status, 201, "{}", resp.text().await.unwrap());
    let created: serde_json::Value = resp.json().await.unwrap();
    // The retry's request and its answer under the key committed together: the next retry
    // gets the same request back.
    let again = app
        .client
        .post(app.url("/v1/signature-requests"))
        .bearer_auth(&bank.token)
        .header("idempotency-key", key.as_str())
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let replayed: serde_json::Value = again.json().await.unwrap();
    assert_eq!(replayed["id"], created["id"]);
    // The dead node's claim, were it to wake, cannot complete the key any more.
    let dead = Claimed {
        scope,
        key,
        at: now,
    };
    assert!(!complete(&app.db, &dead, 201, "{}").await.unwrap());
}

/// A claim younger than its lease is not taken over: its work may still be running.
async fn a_live_claim_is_not_taken_over(engine: Engine) {
    let app = spawn_app(engine).await;
    let now = app.clock.now();
    let key = IdempotencyKey::parse("live").unwrap();
    let fp = fingerprint("POST", "/x", b"1");
    let ttl = Duration::hours(24);
    assert_eq!(
        claim(&app.db, "s", &key, &fp, now, ttl, LEASE)
            .await
            .unwrap(),
        Claim::Fresh
    );
    let soon = now + LEASE - Duration::seconds(1);
    assert_eq!(
        claim(&app.db, "s", &key, &fp, soon, ttl, LEASE)
            .await
            .unwrap(),
        Claim::InProgress
    );
    let late = now + LEASE + Duration::seconds(1);
    assert_eq!(
        claim(&app.db, "s", &key, &fp, late, ttl, LEASE)
            .await
            .unwrap(),
        Claim::Fresh
    );
    let first = Claimed {
        scope: "s".into(),
        key: key.clone(),
        at: now,
    };
    let second = Claimed {
        at: late,
        ..first.clone()
    };
    assert!(!complete(&app.db, &first, 201, "{}").await.unwrap());
    assert!(complete(&app.db, &second, 201, "{}").await.unwrap());
    // A completed key is never taken over, however old its claim.
    assert!(matches!(
        claim(&app.db, "s", &key, &fp, late + LEASE * 3, ttl, LEASE)
            .await
            .unwrap(),
        Claim::Replay { .. }
    ));
}
