//! The signing path as a system: authorizations that live in the cluster, exactness under
//! concurrency and retries, PIN attempts decided one at a time, invalidation that reaches
//! every node, and bounded waits. "Nodes" are `fincert serve` instances in this process on
//! one database (PostgreSQL: at the same time; SQLite, which is single-node by design: one
//! after the other, as a restart).
//!
//! `authorizations.rs`: SADs any node serves, exactly once, and never from a moved record;
//! `pins_and_locks.rs`: PIN attempts across nodes and a held lock; `load_balancer/`: three
//! `fincert serve` processes behind HAProxy, one of them killed under load. The CSC helpers they share,
//! the PostgreSQL-only invalidation test and the engine matrix are here, so the tests keep
//! their names (`cluster::<test>::{sqlite,postgres}`).

mod authorizations;
mod load_balancer;
mod pins_and_locks;

use std::time::{Duration, Instant};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{
    config::Engine,
    pki::{lifecycle::RevocationReason, profile::Usage},
    signing::institution::Sector,
};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};
use authorizations::{
    a_moved_activation_record_does_not_open, a_sad_for_n_hashes_yields_exactly_n_signatures,
    any_node_serves_any_authorization, one_hash_signs_once_whatever_the_method,
};
use pins_and_locks::{
    a_held_lock_is_a_503_within_two_and_a_half_seconds, pin_attempts_are_decided_one_at_a_time,
};

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
                    401,
                    "locked, and told like a wrong PIN to a sign-in without a ticket"
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

both_engines!(
    any_node_serves_any_authorization,
    a_sad_for_n_hashes_yields_exactly_n_signatures,
    pin_attempts_are_decided_one_at_a_time,
    a_held_lock_is_a_503_within_two_and_a_half_seconds,
    a_moved_activation_record_does_not_open,
    one_hash_signs_once_whatever_the_method,
);
