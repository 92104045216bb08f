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
