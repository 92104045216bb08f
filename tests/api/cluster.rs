//! The signing path as a system: authorizations that live in the cluster, exactness under
//! concurrency and retries, PIN attempts decided one at a time, invalidation that reaches
//! every node, and bounded waits. "Nodes" are `fincert serve` instances in this process on
//! one database (PostgreSQL: at the same time; SQLite, which is single-node by design: one
//! after the other, as a restart).

use std::time::{Duration, Instant};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{
    config::Engine,
    custody::keys::SignatureScheme,
    pki::{lifecycle::RevocationReason, profile::Usage},
    signing::institution::Sector,
};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

async fn csc(client: &reqwest::Client, url: String, token: &str, body: Value) -> (u16, Value) {
    let resp = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn sha256(data: &[u8]) -> String {
    fincert::signing::request::Digest::of(data).to_b64()
}

fn spki(h: &Holder) -> Vec<u8> {
    x509_parser::parse_x509_certificate(&h.cert.der)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec()
}

/// A holder registered with a bank, ready for CSC.
async fn setup(app: &TestApp, customer: &str) -> (Holder, Inst) {
    let bank = institution(app, &format!("Bank {customer}"), Sector::Bank).await;
    let h = holder(app, customer, Usage::General).await;
    consent(&h, &bank).await;
    (h, bank)
}

async fn authorize(
    base: &str,
    app: &TestApp,
    h: &Holder,
    bank: &Inst,
    hashes: &[String],
) -> String {
    let (status, v) = csc(
        &app.client,
        format!("{base}/csc/v2/credentials/authorize"),
        &bank.token,
        json!({"credentialID": h.cert.id.to_string(), "numSignatures": hashes.len(), "hashes": hashes,
               "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "authData": [{"id": "PIN", "value": PIN}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["SAD"].as_str().unwrap().to_owned()
}

fn sign_body(h: &Holder, sad: &str, hashes: &[String]) -> Value {
    json!({"credentialID": h.cert.id.to_string(), "SAD": sad, "hashes": hashes,
           "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.11"})
}

async fn sign(
    base: &str,
    app: &TestApp,
    h: &Holder,
    bank: &Inst,
    sad: &str,
    hashes: &[String],
) -> (u16, Value) {
    csc(
        &app.client,
        format!("{base}/csc/v2/signatures/signHash"),
        &bank.token,
        sign_body(h, sad, hashes),
    )
    .await
}

fn signature(v: &Value, i: usize) -> Vec<u8> {
    STANDARD
        .decode(v["signatures"][i].as_str().unwrap())
        .unwrap()
}

/// A SAD made on node A signs on node B, before and after A dies; nothing of the SAD is in
/// any node's memory that B needs.
async fn any_node_serves_any_authorization(engine: Engine) {
    let app = spawn_app(engine).await;
    let (h, bank) = setup(&app, "330200000101").await;
    let docs: Vec<Vec<u8>> = (0..3).map(|i| format!("page {i}").into_bytes()).collect();
    let hashes: Vec<String> = docs.iter().map(|d| sha256(d)).collect();
    let sad = authorize(&app.address, &app, &h, &bank, &hashes).await;

    let b = if engine == Engine::Postgres {
        // Both nodes up: B has never seen the SAD.
        let b = spawn_node(&app).await;
        let (status, out) = sign(&b.address, &app, &h, &bank, &sad, &hashes[..1]).await;
        assert_eq!(status, 200, "{out}");
        assert!(openssl_verify(
            SignatureScheme::RsaPkcs1Sha256,
            &spki(&h),
            &docs[0],
            &signature(&out, 0)
        ));
        app.kill().await;
        b
    } else {
        // SQLite is one node: the restart is the node change.
        app.kill().await;
        let b = spawn_node(&app).await;
        let (status, out) = sign(&b.address, &app, &h, &bank, &sad, &hashes[..1]).await;
        assert_eq!(status, 200, "{out}");
        b
    };
    assert!(
        app.custody.activations().is_empty(),
        "node A's memory is gone"
    );
    let (status, out) = sign(&b.address, &app, &h, &bank, &sad, &hashes[1..2]).await;
    assert_eq!(status, 200, "{out}");
    assert!(openssl_verify(
        SignatureScheme::RsaPkcs1Sha256,
        &spki(&h),
        &docs[1],
        &signature(&out, 0)
    ));
    // extendTransaction on B re-seals the record under the new SAD; the old one stops.
    let (status, ext) = csc(
        &app.client,
        b.url("/csc/v2/credentials/extendTransaction"),
        &bank.token,
        json!({"credentialID": h.cert.id.to_string(), "SAD": sad}),
    )
    .await;
    assert_eq!(status, 200, "{ext}");
    let fresh = ext["SAD"].as_str().unwrap().to_owned();
    let (status, v) = sign(&b.address, &app, &h, &bank, &sad, &hashes[2..]).await;
    assert_eq!(
        (status, v["error_description"].as_str()),
        (400, Some("Invalid parameter SAD"))
    );
    // A third node that has never seen either opens the re-sealed record with the new SAD.
    b.kill().await;
    let c = spawn_node(&app).await;
    let (status, out) = sign(&c.address, &app, &h, &bank, &fresh, &hashes[2..]).await;
    assert_eq!(status, 200, "{out}");
    assert!(openssl_verify(
        SignatureScheme::RsaPkcs1Sha256,
        &spki(&h),
        &docs[2],
        &signature(&out, 0)
    ));
    c.kill().await;
}

/// 100 concurrent signHash calls for hash 1 (half on each node on PostgreSQL), then hashes 2
/// and 3 once each: exactly three signatures exist, every caller of hash 1 got the same one,
/// and the audit log names each hash once.
async fn a_sad_for_n_hashes_yields_exactly_n_signatures(engine: Engine) {
    let app = spawn_app(engine).await;
    let (h, bank) = setup(&app, "330200000102").await;
    let hashes: Vec<String> = (0..3)
        .map(|i| sha256(format!("doc {i}").as_bytes()))
        .collect();
    let sad = authorize(&app.address, &app, &h, &bank, &hashes).await;
    let b = if engine == Engine::Postgres {
        Some(spawn_node(&app).await)
    } else {
        None
    };
    let mut tasks = Vec::new();
    for i in 0..100 {
        let base = match (&b, i % 2) {
            (Some(b), 1) => b.address.clone(),
            _ => app.address.clone(),
        };
        let client = app.client.clone();
        let (token, body) = (bank.token.clone(), sign_body(&h, &sad, &hashes[..1]));
        tasks.push(tokio::spawn(async move {
            csc(
                &client,
                format!("{base}/csc/v2/signatures/signHash"),
                &token,
                body,
            )
            .await
        }));
    }
    let mut sigs = std::collections::HashSet::new();
    for t in tasks {
        let (status, v) = t.await.unwrap();
        assert_eq!(status, 200, "{v}");
        sigs.insert(v["signatures"][0].as_str().unwrap().to_owned());
    }
    assert_eq!(
        sigs.len(),
        1,
        "one signature for hash 1, delivered to every caller"
    );
    let other = b
        .as_ref()
        .map_or(app.address.clone(), |b| b.address.clone());
    let (status, v) = sign(&other, &app, &h, &bank, &sad, &hashes[1..2]).await;
    assert_eq!(status, 200, "hash 2 still signs: {v}");
    let (status, v) = sign(&app.address, &app, &h, &bank, &sad, &hashes[2..3]).await;
    assert_eq!(status, 200, "hash 3 still signs: {v}");
    let (status, v) = sign(
        &app.address,
        &app,
        &h,
        &bank,
        &sad,
        &[sha256(b"never authorized")],
    )
    .await;
    assert_eq!(
        (status, v["error_description"].as_str()),
        (400, Some("Hash is not authorized by the SAD"))
    );

    let backend = app.db.get_database_backend();
    let count = |sql: &str| {
        let db = &app.db;
        let sql = sql.to_owned();
        async move {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(backend, sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM csc_sad_signatures").await, 3);
    assert_eq!(
        count("SELECT COUNT(DISTINCT hash) FROM csc_sad_signatures").await,
        3,
        "one per authorized hash"
    );
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let signed: Vec<String> = events
        .iter()
        .filter(|e| e.action == "signature.created")
        .flat_map(|e| {
            let d: Value = serde_json::from_str(&e.details).unwrap();
            d["digests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(signed.len(), 3, "each hash audited once: {signed:?}");
    if let Some(b) = b {
        b.kill().await;
    }
    app.stop().await;
}

async fn pin_login(
    client: &reqwest::Client,
    base: &str,
    cert: &str,
    pin: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/v1/auth/pin"))
        .json(&json!({"certificate_id": cert, "pin": pin}))
        .send()
        .await
        .unwrap()
}

/// 20 parallel sign-ins with the right PIN all succeed; 100 parallel wrong ones (over both
/// nodes on PostgreSQL) count exactly five and lock the PIN.
async fn pin_attempts_are_decided_one_at_a_time(engine: Engine) {
    let app = spawn_app_tuned(engine, |s| {
        s.auth.sign_in_per_certificate_per_minute = 1000;
        s.auth.sign_in_per_ip_per_minute = 1000;
    })
    .await;
    let b = if engine == Engine::Postgres {
        Some(spawn_node(&app).await)
    } else {
        None
    };
    let h = holder(&app, "330200000103", Usage::General).await;
    let id = h.cert.id.to_string();
    let fire = |pin: &'static str, n: usize| {
        let mut tasks = Vec::new();
        for i in 0..n {
            let base = match (&b, i % 2) {
                (Some(b), 1) => b.address.clone(),
                _ => app.address.clone(),
            };
            let (client, id) = (app.client.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                let r = pin_login(&client, &base, &id, pin).await;
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                (status, body["code"].as_str().unwrap_or("").to_owned())
            }));
        }
        tasks
    };
    for t in fire(PIN, 20) {
        assert_eq!(
            t.await.unwrap().0,
            200,
            "a right PIN is never locked out by its neighbours"
        );
    }
    let mut wrong = 0;
    let mut locked = 0;
    for t in fire("135792", 100) {
        match t.await.unwrap() {
            (401, c) if c == "wrong_pin" => wrong += 1,
            (423, c) if c == "pin_locked" => locked += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((wrong, locked), (5, 95));
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT failures, locked_at IS NOT NULL AS locked FROM pin_attempts".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i32>("", "failures").unwrap(), 5);
    assert!(row.try_get::<bool>("", "locked").unwrap());
    assert_eq!(
        pin_login(&app.client, &app.address, &id, PIN)
            .await
            .status(),
        423
    );
    if let Some(b) = b {
        b.kill().await;
    }
    app.stop().await;
}

/// Signs hash `h2` on `base` until it is refused; returns how long that took after `since`.
async fn refused_after(
    base: &str,
    app: &TestApp,
    h: &Holder,
    bank: &Inst,
    sad: &str,
    hash: &str,
    since: Instant,
) -> (Duration, Value) {
    loop {
        let (status, v) = sign(base, app, h, bank, sad, &[hash.to_owned()]).await;
        if status != 200 {
            return (since.elapsed(), v);
        }
        assert!(
            since.elapsed() < Duration::from_secs(3),
            "still signing 3 s after the change"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A consent withdrawn, a certificate revoked or suspended, or a PIN locked on node A stops
/// the next signature on node B within a second (B holds the key and cached checks).
/// PostgreSQL only: SQLite is one node (its same-node case, "at once", is in `signing` and
/// `csc`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_every_node_within_a_second() {
    let engine = Engine::Postgres;
    let app = spawn_app_tuned(engine, |s| {
        s.auth.sign_in_per_certificate_per_minute = 1000;
    })
    .await;
    // Node B is another process: it hears of changes only through the database's epoch.
    let b = ProcessNode::start(&app, &[]).await;
    let mut measured = Vec::new();
    for (n, change) in ["consent withdrawn", "revoked", "suspended", "PIN locked"]
        .into_iter()
        .enumerate()
    {
        let (h, bank) = setup(&app, &format!("33020000020{n}")).await;
        let hashes: Vec<String> = (0..2)
            .map(|i| sha256(format!("{change} {i}").as_bytes()))
            .collect();
        let sad = authorize(&app.address, &app, &h, &bank, &hashes).await;
        let (status, v) = sign(&b.address, &app, &h, &bank, &sad, &hashes[..1]).await;
        assert_eq!(status, 200, "B holds the key and the checks: {v}");
        let mut since = Instant::now();
        match change {
            "consent withdrawn" => {
                let list: Value = get(&app, "/v1/consents", &h.token)
                    .await
                    .json()
                    .await
                    .unwrap();
                let cid = list["items"][0]["id"].as_str().unwrap().to_owned();
                let path = format!("/v1/consents/{cid}");
                let r = call(&app, reqwest::Method::DELETE, &path, &h.token, None, None).await;
                assert_eq!(r.status(), 204);
            }
            "revoked" => {
                app.pki
                    .revoke(
                        &app.db,
                        &h.owner,
                        h.cert.id,
                        RevocationReason::KeyCompromise,
                    )
                    .await
                    .unwrap();
            }
            "suspended" => {
                app.pki.suspend(&app.db, &h.owner, h.cert.id).await.unwrap();
            }
            _ => {
                for _ in 0..4 {
                    pin_login(&app.client, &app.address, &h.cert.id.to_string(), "135792").await;
                }
                let (status, _) = sign(&b.address, &app, &h, &bank, &sad, &hashes[1..]).await;
                assert_eq!(status, 200, "four wrong PINs do not lock");
                since = Instant::now();
                pin_login(&app.client, &app.address, &h.cert.id.to_string(), "135792").await;
                assert_eq!(
                    pin_login(&app.client, &app.address, &h.cert.id.to_string(), PIN)
                        .await
                        .status(),
                    423
                );
            }
        }
        let (took, v) = refused_after(&b.address, &app, &h, &bank, &sad, &hashes[1], since).await;
        assert!(
            took < Duration::from_secs(1),
            "{change}: node B signed for {took:?} after the change ({v})"
        );
        measured.push((change, took));
    }
    println!("invalidation reached the other node after: {measured:?}");
    drop(b);
    app.stop().await;
}

/// A transaction holding the audit chain's head (every change takes it) makes requests fail
/// within about two seconds with 503 and Retry-After, and /readyz says so while it lasts.
async fn a_held_lock_is_a_503_within_two_and_a_half_seconds(engine: Engine) {
    let app = spawn_app(engine).await;
    let h = holder(&app, "330200000104", Usage::General).await;
    let id = h.cert.id.to_string();
    let locker = fincert::store::connect(&app.settings).await.unwrap();
    let txn = locker.begin().await.unwrap();
    let hold = match engine {
        Engine::Postgres => "SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE",
        Engine::Sqlite => "UPDATE audit_head SET seq = seq WHERE id = 1",
    };
    txn.execute_unprepared(hold).await.unwrap();

    let started = Instant::now();
    let resp = pin_login(&app.client, &app.address, &id, PIN).await;
    let took = started.elapsed();
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert_problem(resp, 503, "service_unavailable").await;
    assert!(
        took <= Duration::from_millis(2500),
        "the sign-in waited {took:?}"
    );
    if engine == Engine::Postgres {
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), 503, "/readyz while the lock is held");
        assert!(ready.headers().get("retry-after").is_some());
    }
    txn.rollback().await.unwrap();
    assert_eq!(
        pin_login(&app.client, &app.address, &id, PIN)
            .await
            .status(),
        200
    );
    assert_eq!(app.get("/readyz").await.status(), 200);
    let verified = fincert::store::audit::verify(&app.db).await.unwrap();
    assert!(verified.is_ok(), "nothing half-written: {verified:?}");
    locker.close().await.ok();
    app.stop().await;
}

/// An activation record moved to another SAD (another key and owner) does not open: a node
/// that has to open it refuses the SAD.
async fn a_moved_activation_record_does_not_open(engine: Engine) {
    let app = spawn_app(engine).await;
    let (h1, bank1) = setup(&app, "330200000105").await;
    let (h2, bank2) = setup(&app, "330200000106").await;
    let hash = [sha256(b"moved")];
    let sad1 = authorize(&app.address, &app, &h1, &bank1, &hash).await;
    let sad2 = authorize(&app.address, &app, &h2, &bank2, &hash).await;
    // Another SAD of the same key: its own record, made at another time.
    let sad1b = authorize(&app.address, &app, &h1, &bank1, &hash).await;
    let backend = app.db.get_database_backend();
    let exec = |sql: &str| {
        let sql = sql.to_owned();
        let db = &app.db;
        async move {
            db.execute_raw(sea_orm::Statement::from_string(backend, sql))
                .await
                .unwrap()
        }
    };
    let digest = |sad: &str| fincert::signing::request::Digest::of(sad.as_bytes()).to_hex();
    // SAD 2 (another owner and key) and SAD 1b (same key, other activation) get SAD 1's record.
    for victim in [&sad2, &sad1b] {
        exec(&format!(
            "UPDATE csc_sads SET record = (SELECT record FROM csc_sads WHERE sad_hash = '{}') WHERE sad_hash = '{}'",
            digest(&sad1),
            digest(victim)
        ))
        .await;
    }
    app.kill().await;
    let b = spawn_node(&app).await;
    let (status, v) = sign(&b.address, &app, &h2, &bank2, &sad2, &hash).await;
    assert_eq!(
        (status, v["error_description"].as_str()),
        (400, Some("Invalid parameter SAD")),
        "{v}"
    );
    let (status, v) = sign(&b.address, &app, &h1, &bank1, &sad1b, &hash).await;
    assert_eq!(
        (status, v["error_description"].as_str()),
        (400, Some("Invalid parameter SAD")),
        "{v}"
    );
    // The record left in place still opens, with its own SAD only.
    let (status, v) = sign(&b.address, &app, &h1, &bank1, &sad1, &hash).await;
    assert_eq!(status, 200, "{v}");
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let of = |action: &str| {
        events
            .iter()
            .filter(|e| e.action == action && e.details.contains("\"slot\":\"activation\""))
            .count()
    };
    assert_eq!(
        of("key.activation_failed"),
        2,
        "each record that did not open is audited"
    );
    assert_eq!(
        of("key.activation_opened"),
        1,
        "the node that opened one says so"
    );
    b.kill().await;
}

both_engines!(
    any_node_serves_any_authorization,
    a_sad_for_n_hashes_yields_exactly_n_signatures,
    pin_attempts_are_decided_one_at_a_time,
    a_held_lock_is_a_503_within_two_and_a_half_seconds,
    a_moved_activation_record_does_not_open,
);
