//! Rate limits shared through the database.

use chrono::Duration;
use fincert::{
    auth::rate_limit::{Limit, check},
    clock::Clock,
    config::Engine,
    pki::profile::Usage,
};
use serde_json::json;

use crate::{both_engines, helpers::*};

/// Concurrent hits (as from several nodes) never pass the limit.
async fn concurrent_hits_never_pass_the_limit(engine: Engine) {
    let app = spawn_app(engine).await;
    let now = app.clock.now();
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let db = app.db.clone();
        tasks.push(tokio::spawn(async move {
            check(
                &db,
                "test:bucket",
                Limit {
                    max: 10,
                    window_secs: 60,
                },
                now,
            )
            .await
            .unwrap()
            .is_ok()
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        if t.await.unwrap() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10);
    // The next window starts from zero.
    assert!(
        check(
            &app.db,
            "test:bucket",
            Limit {
                max: 10,
                window_secs: 60
            },
            now + Duration::seconds(60)
        )
        .await
        .unwrap()
        .is_ok()
    );
}

/// Sign-in is limited per certificate and per client IP, before any PIN is tried (a limited
/// attempt does not count towards the PIN lockout).
async fn sign_in_is_rate_limited(engine: Engine) {
    let app = spawn_app_tuned(engine, |s| {
        s.auth.sign_in_per_certificate_per_minute = 3;
        s.auth.sign_in_per_ip_per_minute = 6;
    })
    .await;
    let cert = cloud_cert("user-rl")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    let login = |id: String, pin: &'static str| {
        post(
            &app,
            "/v1/auth/pin",
            ANON,
            json!({"certificate_id": id, "pin": pin}),
        )
    };
    for _ in 0..3 {
        assert_problem(login(cert.id.to_string(), "000001").await, 401, "wrong_pin").await;
    }
    let resp = login(cert.id.to_string(), "482915").await;
    let retry: i64 = resp
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_problem(resp, 429, "rate_limited").await;
    assert_eq!(
        fincert::store::custody::pin_state(&app.db, &cert.custody_key_id.unwrap().to_string())
            .await
            .unwrap()
            .0,
        3,
        "limited attempts are not PIN attempts"
    );

    // Per IP: spraying other certificates from the same address runs out too (6 per minute,
    // 4 already used).
    assert_problem(
        login(uuid::Uuid::new_v4().to_string(), "482915").await,
        401,
        "wrong_pin",
    )
    .await;
    assert_problem(
        login(uuid::Uuid::new_v4().to_string(), "482915").await,
        401,
        "wrong_pin",
    )
    .await;
    assert_problem(
        login(uuid::Uuid::new_v4().to_string(), "482915").await,
        429,
        "rate_limited",
    )
    .await;

    // A minute later the right PIN gets in.
    app.clock.advance(Duration::seconds(61));
    assert_eq!(login(cert.id.to_string(), "482915").await.status(), 200);
}

/// Behind a trusted proxy network (the tests' loopback, as an ingress's pod CIDR would be),
/// each forwarded client has its own sign-in bucket; a client's own claims left of the
/// address the proxy appended change nothing.
async fn forwarded_clients_get_their_own_sign_in_buckets(engine: Engine) {
    let app = spawn_app_tuned(engine, |s| {
        s.auth.sign_in_per_ip_per_minute = 2;
        s.http.trusted_proxies = vec![fincert::config::TrustedProxy::parse("127.0.0.0/8").unwrap()];
    })
    .await;
    let login = |forwarded: &'static str| {
        app.client
            .post(app.url("/v1/auth/pin"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"certificate_id": uuid::Uuid::new_v4(), "pin": "482915"}))
            .send()
    };
    for _ in 0..2 {
        assert_problem(login("203.0.113.1").await.unwrap(), 401, "wrong_pin").await;
    }
    assert_problem(login("203.0.113.1").await.unwrap(), 429, "rate_limited").await;
    assert_problem(
        login("198.51.100.77, 203.0.113.1").await.unwrap(),
        429,
        "rate_limited",
    )
    .await;
    // Another customer behind the same ingress is not limited by the first one.
    for _ in 0..2 {
        assert_problem(login("203.0.113.2").await.unwrap(), 401, "wrong_pin").await;
    }
    assert_problem(login("203.0.113.2").await.unwrap(), 429, "rate_limited").await;
    assert_problem(login("2001:db8::9").await.unwrap(), 401, "wrong_pin").await;
}

/// Without a trusted proxy the header is the client's claim and is ignored: everyone from
/// this address shares its bucket, whatever it forwards.
async fn untrusted_forwarded_for_is_ignored(engine: Engine) {
    let app = spawn_app_tuned(engine, |s| s.auth.sign_in_per_ip_per_minute = 2).await;
    let login = |forwarded: &'static str| {
        app.client
            .post(app.url("/v1/auth/pin"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"certificate_id": uuid::Uuid::new_v4(), "pin": "482915"}))
            .send()
    };
    assert_problem(login("203.0.113.1").await.unwrap(), 401, "wrong_pin").await;
    assert_problem(login("203.0.113.2").await.unwrap(), 401, "wrong_pin").await;
    assert_problem(login("203.0.113.3").await.unwrap(), 429, "rate_limited").await;
}

both_engines!(
    concurrent_hits_never_pass_the_limit,
    sign_in_is_rate_limited,
    forwarded_clients_get_their_own_sign_in_buckets,
    untrusted_forwarded_for_is_ignored
);
