//! No oracle at PIN sign-in (issue 17, part 3): an unknown certificate, a wrong PIN, a locked PIN
//! and a certificate that cannot sign in (suspended) get one answer — the same status and body
//! (but the request id) — after the same work: the same KMS calls (one Decrypt of a PIN slot and
//! one MAC, counted by `fincert_kms_calls_total`) and one audit row each. Only a holder
//! identified by a selection ticket (sign-in by choosing) is told that the PIN is locked.
//! Timing itself is measured by hand (README), never asserted here.

use std::collections::BTreeMap;

use fincert::{config::Engine, custody::OwnerId};
use serde_json::{Value, json};

use crate::{
    both_engines,
    helpers::*,
    sign_in::{PHONE, identify, identity, next_code, verify},
};

async fn pin_sign_in(app: &TestApp, cert: &str, pin: &str, ticket: Option<&str>) -> (u16, Value) {
    let resp = post(
        app,
        "/v1/auth/pin",
        ANON,
        json!({"certificate_id": cert, "pin": pin, "ticket": ticket}),
    )
    .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// The KMS operations a sign-in spends (the background probe's DescribeKey left out).
async fn kms_calls(app: &TestApp) -> BTreeMap<String, f64> {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("fincert_kms_calls_total{operation=\""))
        .filter(|l| !l.starts_with("DescribeKey"))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn audit_rows(app: &TestApp) -> usize {
    fincert::store::audit::page_after(&app.db, 0)
        .await
        .unwrap()
        .len()
}

fn without_request_id(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("request_id");
    v
}

/// What one sign-in answered and spent.
#[derive(Debug, PartialEq)]
struct Spent {
    status: u16,
    body: Value,
    kms: BTreeMap<String, f64>,
    audit_rows: usize,
}

async fn spent(app: &TestApp, cert: &str, pin: &str) -> Spent {
    let (kms, rows) = (kms_calls(app).await, audit_rows(app).await);
    let (status, body) = pin_sign_in(app, cert, pin, None).await;
    let after = kms_calls(app).await;
    Spent {
        status,
        body: without_request_id(body),
        kms: after
            .iter()
            .map(|(k, v)| (k.clone(), v - kms.get(k).copied().unwrap_or(0.0)))
            .filter(|(_, d)| *d != 0.0)
            .collect(),
        audit_rows: audit_rows(app).await - rows,
    }
}

async fn unknown_wrong_and_locked_are_one_answer(engine: Engine) {
    let app = spawn_app_tuned(engine, |s| {
        s.auth.sign_in_per_certificate_per_minute = 100;
        s.auth.sign_in_per_ip_per_minute = 100;
    })
    .await;
    let owner = user(&app, "440000000001").await;
    let open = cloud_cert(owner.as_str()).issue(&app).await.id.to_string();
    let locked_cert = cloud_cert(owner.as_str()).issue(&app).await;
    let locked = locked_cert.id.to_string();
    let suspended = cloud_cert(owner.as_str()).issue(&app).await.id;
    app.pki
        .suspend(&app.db, &OwnerId::parse(owner.as_str()).unwrap(), suspended)
        .await
        .unwrap();
    let suspended = suspended.to_string();
    for _ in 0..5 {
        assert_eq!(pin_sign_in(&app, &locked, "000001", None).await.0, 401);
    }
    let key = locked_cert.custody_key_id.unwrap().to_string();
    assert_eq!(
        fincert::store::custody::pin_state(&app.db, &key)
            .await
            .unwrap(),
        (5, true)
    );
    // The decoy slot is made on a node's first unknown sign-in (one Encrypt): not measured.
    let warm = spent(&app, &uuid::Uuid::new_v4().to_string(), PIN).await;
    assert_eq!(warm.status, 401);

    let unknown = uuid::Uuid::new_v4().to_string();
    let wrong = spent(&app, &open, "000001").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["code"], "wrong_pin", "{:?}", wrong.body);
    assert_eq!(
        wrong.kms,
        BTreeMap::from([
            ("Decrypt\",outcome=\"ok\"}".to_owned(), 1.0),
            ("GenerateMac\",outcome=\"ok\"}".to_owned(), 1.0),
        ]),
        "a wrong PIN opens the PIN slot's outer layer and MACs the PIN"
    );
    assert_eq!(wrong.audit_rows, 1);
    for (case, cert, pin) in [
        ("unknown", unknown.as_str(), PIN),
        ("locked, right PIN", locked.as_str(), PIN),
        ("locked, wrong PIN", locked.as_str(), "000002"),
        ("suspended, right PIN", suspended.as_str(), PIN),
    ] {
        assert_eq!(spent(&app, cert, pin).await, wrong, "{case}");
    }
    // Nothing of that was counted on a key: the open certificate's PIN still works.
    assert_eq!(pin_sign_in(&app, &open, PIN, None).await.0, 200);
    // The unknown id's refusal wrote a decoy counter, as a wrong PIN writes its key's; a
    // decoy never counts: the locked key's counter is the only one above 0.
    use sea_orm::{ConnectionTrait, Statement};
    let counters = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT custody_key_id, failures FROM pin_attempts WHERE failures > 0 OR locked_at IS NOT NULL",
        ))
        .await
        .unwrap();
    let counted: Vec<(String, i32)> = counters
        .iter()
        .map(|r| {
            (
                r.try_get("", "custody_key_id").unwrap(),
                r.try_get("", "failures").unwrap(),
            )
        })
        .collect();
    assert_eq!(counted, [(key.clone(), 5)]);
    let decoys = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM pin_attempts WHERE custody_key_id NOT IN (SELECT id FROM custody_keys)",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        decoys.try_get::<i64>("", "n").unwrap(),
        64,
        "the decoy counters, made at start"
    );

    // The holder identified by sign-in by choosing learns the lock; a wrong PIN is still wrong.
    let before = app.outbox.count_to(PHONE);
    let (status, pending) = identify(&app, identity("홍길동", "1987-03-14")).await;
    assert_eq!(status, 201, "{pending}");
    let code = next_code(&app, before).await;
    let (status, choice) = verify(&app, pending["id"].as_str().unwrap(), &code).await;
    assert_eq!(status, 200, "{choice}");
    let ticket = choice["ticket"].as_str().unwrap();
    let (status, body) = pin_sign_in(&app, &locked, PIN, Some(ticket)).await;
    assert_eq!(
        (status, &body["code"]),
        (423, &json!("pin_locked")),
        "{body}"
    );
    let (status, body) = pin_sign_in(&app, &open, "000001", Some(ticket)).await;
    assert_eq!(
        (status, &body["code"]),
        (401, &json!("wrong_pin")),
        "{body}"
    );
    assert_eq!(pin_sign_in(&app, &open, PIN, Some(ticket)).await.0, 200);
}

/// A device-held certificate's challenge is given for any id; see `enrolment::device` for the
/// refusal of the answer. Here: an unknown id and a cloud certificate get the same shape.
async fn device_challenges_are_given_for_any_id(engine: Engine) {
    let app = spawn_app(engine).await;
    let cloud = cloud_cert("user-oracle").issue(&app).await.id.to_string();
    let mut shapes = Vec::new();
    for id in [cloud, uuid::Uuid::new_v4().to_string()] {
        let resp = post(
            &app,
            "/v1/auth/device/challenge",
            ANON,
            json!({"certificate_id": id}),
        )
        .await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        crate::openapi::check_response("post", "/v1/auth/device/challenge", 200, &body);
        let mut keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        shapes.push(keys);
    }
    assert_eq!(shapes[0], shapes[1]);
}

/// A JSON value with every leaf replaced by its type: what the shape of an answer tells.
fn skeleton(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), skeleton(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(skeleton).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

async fn passkey_start(app: &TestApp, cert: &str) -> Value {
    let resp = post(
        app,
        "/v1/auth/passkey/start",
        ANON,
        json!({"certificate_id": cert}),
    )
    .await;
    assert_eq!(resp.status(), 200, "{cert}");
    let body: Value = resp.json().await.unwrap();
    crate::openapi::check_response("post", "/v1/auth/passkey/start", 200, &body);
    body
}

async fn passkey_finish(app: &TestApp, ceremony: &Value, assertion: &Value) -> (u16, Value) {
    let resp = post(
        app,
        "/v1/auth/passkey/finish",
        ANON,
        json!({"ceremony_id": ceremony, "credential": assertion}),
    )
    .await;
    let status = resp.status().as_u16();
    (status, without_request_id(resp.json().await.unwrap()))
}

/// A passkey sign-in by certificate id alone (no ticket) starts alike for a holder with a
/// passkey, an unknown id, a certificate whose holder has none and a suspended one: 200 and a
/// ceremony of the same shape offering one credential id, the decoy's stable from one ask to
/// the next (as a real one is) with a fresh challenge each time. Finishing a decoy fails as a
/// wrong passkey does, with one audit row each.
async fn passkey_sign_in_starts_alike_for_any_id(engine: Engine) {
    use webauthn_authenticator_rs::WebauthnAuthenticator;
    use webauthn_rs::prelude::{RequestChallengeResponse, Url};
    let origin = Url::parse(PASSKEY_ORIGIN).unwrap();
    let app = spawn_app_tuned(engine, |s| s.auth.sign_in_per_ip_per_minute = 1000).await;
    let h = holder(
        &app,
        "440000000011",
        fincert::pki::profile::Usage::Restricted,
    )
    .await;
    let mut phone = bound_passkey(&app, &h.token, h.cert.id).await;

    let other = user(&app, "440000000012").await;
    let without = cloud_cert(other.as_str()).issue(&app).await.id.to_string();
    let suspended = cloud_cert(other.as_str()).issue(&app).await.id;
    app.pki
        .suspend(&app.db, &OwnerId::parse(other.as_str()).unwrap(), suspended)
        .await
        .unwrap();
    let suspended = suspended.to_string();
    let unknown = uuid::Uuid::new_v4().to_string();

    let real = passkey_start(&app, &h.cert.id.to_string()).await;
    let allowed = |v: &Value| {
        v.pointer("/options/publicKey/allowCredentials")
            .unwrap()
            .clone()
    };
    assert_eq!(allowed(&real).as_array().unwrap().len(), 1);
    for (case, cert) in [
        ("unknown", &unknown),
        ("no passkey", &without),
        ("suspended", &suspended),
    ] {
        let decoy = passkey_start(&app, cert).await;
        assert_eq!(
            skeleton(&decoy),
            skeleton(&real),
            "{case}: {decoy} vs {real}"
        );
        let again = passkey_start(&app, cert).await;
        assert_eq!(
            allowed(&again),
            allowed(&decoy),
            "{case}: the same credential id"
        );
        assert_ne!(allowed(&decoy), allowed(&real), "{case}");
        assert_ne!(
            again.pointer("/options/publicKey/challenge"),
            decoy.pointer("/options/publicKey/challenge"),
            "{case}: a fresh challenge"
        );
    }
    assert_ne!(
        allowed(&passkey_start(&app, &unknown).await),
        allowed(&passkey_start(&app, &without).await),
        "one decoy id per certificate id"
    );

    // The holder's answer to one ceremony, given to another real one and to a decoy: one
    // refusal, one audit row each.
    let options: RequestChallengeResponse =
        serde_json::from_value(real["options"].clone()).unwrap();
    let assertion =
        serde_json::to_value(phone.do_authentication(origin, options).unwrap()).unwrap();
    let rows = audit_rows(&app).await;
    let other_real = passkey_start(&app, &h.cert.id.to_string()).await;
    let wrong = passkey_finish(&app, &other_real["ceremony_id"], &assertion).await;
    assert_eq!(audit_rows(&app).await, rows + 1);
    assert_eq!(wrong.0, 401, "{:?}", wrong.1);
    let decoy = passkey_start(&app, &unknown).await;
    assert_eq!(
        passkey_finish(&app, &decoy["ceremony_id"], &assertion).await,
        wrong
    );
    assert_eq!(audit_rows(&app).await, rows + 2);
    // Spent like any ceremony.
    let (status, _) = passkey_finish(&app, &decoy["ceremony_id"], &assertion).await;
    assert_eq!(status, 409);
    // The real ceremony still takes the real answer.
    assert_eq!(
        passkey_finish(&app, &real["ceremony_id"], &assertion)
            .await
            .0,
        200
    );
    app.stop().await;
}

both_engines!(
    unknown_wrong_and_locked_are_one_answer,
    device_challenges_are_given_for_any_id,
    passkey_sign_in_starts_alike_for_any_id,
);
