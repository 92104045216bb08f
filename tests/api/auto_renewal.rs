//! Automatic renewal (issue 16, part 5) and confirmed fees (part 8): the setting per
//! certificate (defaults, the fee to confirm, bad input), a PIN approval inside the renewal
//! window renewing the certificate exactly once although two approvals run at the same moment
//! (on PostgreSQL on two nodes of one cluster), the answer's `renewed`, the audit trail, the
//! fee charged only as confirmed, a CSC authorization renewing too, and `GET /v1/pricing`.

use chrono::Duration;
use fincert::{
    audit::Action, clock::Clock as _, config::Engine, pki::profile::Usage,
    signing::institution::Sector, store,
};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*, openapi::check_response};

/// A signature request for the holder's certificate, created by `inst`.
async fn request(app: &TestApp, inst: &Inst, h: &Holder, n: u8) -> Value {
    let digest = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [n; 32]);
    let resp = call(
        app,
        reqwest::Method::POST,
        "/v1/signature-requests",
        &inst.token,
        Some(json!({"certificate_id": h.cert.id, "digests": [digest], "display_text": format!("이체 {n}0,000원")})),
        Some(&uuid::Uuid::new_v4().to_string()),
    )
    .await;
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

/// The holder approves `req` with the PIN at `base` (the app's or another node's address).
async fn approve(app: &TestApp, base: &str, h: &Holder, req: &Value) -> reqwest::Response {
    app.client
        .post(format!(
            "{base}/v1/approvals/{}/approve",
            req["id"].as_str().unwrap()
        ))
        .bearer_auth(&h.token)
        .json(&json!({"pin": PIN, "request_digest": req["request_digest"]}))
        .send()
        .await
        .unwrap()
}

/// New sessions after the clock moved (tokens live minutes, the jump is years).
async fn fresh_tokens(app: &TestApp, holders: &mut [&mut Holder], inst: &mut Inst) {
    for h in holders.iter_mut() {
        h.token = sign_in(app, h.cert.id).await;
        h.api = app.api.with_token(h.token.clone());
    }
    let token = app
        .api
        .client_credentials(&inst.client_id, &inst.secret, None)
        .await
        .unwrap();
    inst.token = token.access_token.clone();
    inst.api = app.api.with_token(token.access_token);
}

async fn setting(app: &TestApp, h: &Holder, id: &str) -> Value {
    let resp = get(
        app,
        &format!("/v1/certificates/{id}/auto-renewal"),
        &h.token,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    check_response("get", "/v1/certificates/{id}/auto-renewal", 200, &v);
    v
}

async fn put_setting(app: &TestApp, h: &Holder, id: &str, body: Value) -> reqwest::Response {
    call(
        app,
        reqwest::Method::PUT,
        &format!("/v1/certificates/{id}/auto-renewal"),
        &h.token,
        Some(body),
        None,
    )
    .await
}

/// A restricted-use financial certificate renews itself by default: outside the window an
/// approval renews nothing; inside it two approvals at the same moment (two nodes on
/// PostgreSQL) both sign and exactly one renews, with the same subject, a new serial and key,
/// the same PIN; the old certificate stays active and is not renewed again.
pub(super) async fn a_pin_approval_in_the_window_renews_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let node = match engine {
        Engine::Postgres => Some(spawn_node(&app).await),
        Engine::Sqlite => None,
    };
    let other_base = node
        .as_ref()
        .map_or_else(|| app.address.clone(), |n| n.address.clone());
    let mut bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let mut h = holder(&app, "330100000026", Usage::Restricted).await;
    consent(&h, &bank).await;
    let id = h.cert.id.to_string();
    let s = setting(&app, &h, &id).await;
    assert_eq!(
        (
            s["enabled"].as_bool(),
            s["default"].as_bool(),
            s["active"].as_bool()
        ),
        (Some(true), Some(true), Some(true)),
        "{s}"
    );
    assert_eq!(s["fee_krw"], 0);

    // Outside the window: signed, nothing renewed.
    let req = request(&app, &bank, &h, 1).await;
    let resp = approve(&app, &app.address, &h, &req).await;
    assert_eq!(resp.status(), 200);
    let signed: Value = resp.json().await.unwrap();
    check_response("post", "/v1/approvals/{id}/approve", 200, &signed);
    assert_eq!(signed["status"], "signed");
    assert!(signed.get("renewed").is_none(), "{signed}");

    // 20 days before expiry: two approvals at once.
    app.clock
        .advance(h.cert.not_after - app.clock.now() - Duration::days(20));
    fresh_tokens(&app, &mut [&mut h], &mut bank).await;
    let (a, b) = (
        request(&app, &bank, &h, 2).await,
        request(&app, &bank, &h, 3).await,
    );
    let (ra, rb) = tokio::join!(
        approve(&app, &app.address, &h, &a),
        approve(&app, &other_base, &h, &b)
    );
    assert_eq!((ra.status().as_u16(), rb.status().as_u16()), (200, 200));
    let (ra, rb): (Value, Value) = (ra.json().await.unwrap(), rb.json().await.unwrap());
    for r in [&ra, &rb] {
        assert_eq!(r["status"], "signed", "{r}");
        check_response("post", "/v1/approvals/{id}/approve", 200, r);
    }
    let renewed: Vec<&Value> = [&ra, &rb]
        .into_iter()
        .filter_map(|r| r.get("renewed"))
        .collect();
    assert_eq!(renewed.len(), 1, "exactly one renewal: {ra} {rb}");
    let new = renewed[0];
    assert_eq!(new["fee_krw"], 0);
    assert_ne!(new["serial"], h.cert.serial.as_str());
    let new_id = uuid::Uuid::parse_str(new["id"].as_str().unwrap()).unwrap();

    // The successor: same subject, a new key and serial, 3 years; the same PIN opens it.
    let old = app
        .pki
        .certificate(&app.db, &h.owner, h.cert.id)
        .await
        .unwrap();
    let succ = app
        .pki
        .certificate(&app.db, &h.owner, new_id)
        .await
        .unwrap();
    assert_eq!(succ.subject, old.subject);
    assert_ne!(succ.custody_key_id, old.custody_key_id);
    assert_eq!(
        succ.not_after.to_rfc3339(),
        new["not_after"].as_str().unwrap().replace('Z', "+00:00")
    );
    assert!(succ.not_after - app.clock.now() > Duration::days(3 * 365 - 1));
    assert_eq!(old.status.as_str(), "active", "superseded, not revoked");
    assert!(!old.renewal_open, "renewed already");
    app.api
        .sign_in(new_id, PIN)
        .await
        .expect("the successor opens with the same PIN");
    let list: Value = get(&app, "/v1/certificates", &h.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    // A later approval with the old certificate signs and renews nothing more.
    let c = request(&app, &bank, &h, 4).await;
    let rc: Value = approve(&app, &app.address, &h, &c)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rc["status"], "signed");
    assert!(rc.get("renewed").is_none(), "{rc}");

    // Audited once, with the old serial it replaces; the chain holds.
    let events = store::audit::by_action(&app.db, Action::CertificateAutoRenewed, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].subject.as_deref(),
        Some(new["serial"].as_str().unwrap())
    );
    assert!(
        events[0].details.contains(&h.cert.serial),
        "{}",
        events[0].details
    );
    assert!(store::audit::verify(&app.db).await.unwrap().is_ok());
}

/// The setting: bad input, another holder's certificate, the fee to confirm for a
/// general-purpose one (missing or stale refused, nothing charged); on, a PIN approval in the
/// window renews and charges exactly the confirmed fee, the successor keeps the setting;
/// off, nothing renews. A CSC authorization with the PIN renews too. `GET /v1/pricing`.
pub(super) async fn the_setting_and_the_fee_it_confirms(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let mut h = holder(&app, "330100000027", Usage::General).await;
    let mut other = holder(&app, "330100000028", Usage::Restricted).await;
    consent(&h, &bank).await;
    let id = h.cert.id.to_string();

    let pricing = app.get("/v1/pricing").await;
    assert_eq!(pricing.status(), 200);
    let pricing: Value = pricing.json().await.unwrap();
    check_response("get", "/v1/pricing", 200, &pricing);
    assert_eq!(
        pricing,
        json!({"general_purpose_fee_krw": 4400, "restricted_fee_krw": 0, "renewal_window_days": 30})
    );

    // A general-purpose certificate: off by default, nothing charged without a confirmation.
    let s = setting(&app, &h, &id).await;
    assert_eq!(
        (
            s["enabled"].as_bool(),
            s["default"].as_bool(),
            s["active"].as_bool(),
            s["fee_krw"].as_u64()
        ),
        (Some(false), Some(true), Some(false), Some(4400)),
        "{s}"
    );
    for (body, status, code) in [
        (json!({"enabled": true}), 409, "fee_not_confirmed"),
        (
            json!({"enabled": true, "fee_confirmed_krw": 4000}),
            409,
            "fee_not_confirmed",
        ),
        (json!({"enabled": "yes"}), 400, "invalid_json"),
        (
            json!({"enabled": true, "fee_confirmed_krw": -4400}),
            400,
            "invalid_json",
        ),
        (json!({"enabled": true, "fee": 4400}), 400, "invalid_json"),
        (json!({}), 400, "invalid_json"),
    ] {
        assert_problem(put_setting(&app, &h, &id, body.clone()).await, status, code).await;
    }
    // Another holder's certificate, or none: 404, as for one that does not exist.
    for who in [other.cert.id.to_string(), uuid::Uuid::new_v4().to_string()] {
        assert_problem(
            get(
                &app,
                &format!("/v1/certificates/{who}/auto-renewal"),
                &h.token,
            )
            .await,
            404,
            "certificate_not_found",
        )
        .await;
        assert_problem(
            put_setting(&app, &h, &who, json!({"enabled": false})).await,
            404,
            "certificate_not_found",
        )
        .await;
    }
    assert_problem(
        get(&app, &format!("/v1/certificates/{id}/auto-renewal"), ANON).await,
        401,
        "invalid_token",
    )
    .await;
    assert!(
        store::audit::by_action(&app.db, Action::AutoRenewalSet, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing was set"
    );

    let resp = put_setting(
        &app,
        &h,
        &id,
        json!({"enabled": true, "fee_confirmed_krw": 4400}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let on: Value = resp.json().await.unwrap();
    check_response("put", "/v1/certificates/{id}/auto-renewal", 200, &on);
    assert_eq!(
        (
            on["enabled"].as_bool(),
            on["default"].as_bool(),
            on["active"].as_bool(),
            on["fee_confirmed_krw"].as_u64()
        ),
        (Some(true), Some(false), Some(true), Some(4400))
    );
    assert_eq!(setting(&app, &h, &id).await, on);
    let set = store::audit::by_action(&app.db, Action::AutoRenewalSet, 10)
        .await
        .unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(
        (set[0].actor_kind.as_str(), set[0].actor_id.as_str()),
        ("user", h.owner.as_str())
    );

    // In the window: the approval renews and charges exactly the confirmed fee.
    app.clock
        .advance(h.cert.not_after - app.clock.now() - Duration::days(7));
    fresh_tokens(&app, &mut [&mut h, &mut other], &mut bank).await;
    let req = request(&app, &bank, &h, 5).await;
    let resp = approve(&app, &app.address, &h, &req).await;
    assert_eq!(resp.status(), 200);
    let signed: Value = resp.json().await.unwrap();
    let renewed = &signed["renewed"];
    assert_eq!(renewed["fee_krw"], 4400, "{signed}");
    let new_id = renewed["id"].as_str().unwrap().to_owned();
    let fees: Value = get(&app, "/v1/fees", &h.token).await.json().await.unwrap();
    let events: Vec<(&str, i64)> = fees["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["event"].as_str().unwrap(),
                f["amount_krw"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(events, [("issue", 4400), ("auto_renew", 4400)]);
    // The successor keeps the setting, fee and all; turned off, it is off.
    let kept = setting(&app, &h, &new_id).await;
    assert_eq!(
        (
            kept["enabled"].as_bool(),
            kept["default"].as_bool(),
            kept["active"].as_bool()
        ),
        (Some(true), Some(false), Some(true))
    );
    let off: Value = put_setting(&app, &h, &new_id, json!({"enabled": false}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (off["enabled"].as_bool(), off["active"].as_bool()),
        (Some(false), Some(false)),
        "{off}"
    );

    // A confirmation of another fee than the one in force (the setting made before the fee
    // changed): on, but not active; nothing will be charged until the holder confirms again.
    store::pki::put_auto_renewal_setting(
        &app.db,
        &new_id,
        h.owner.as_str(),
        true,
        Some(4000),
        app.clock.now(),
    )
    .await
    .unwrap();
    let stale = setting(&app, &h, &new_id).await;
    assert_eq!(
        (
            stale["enabled"].as_bool(),
            stale["active"].as_bool(),
            stale["fee_confirmed_krw"].as_u64()
        ),
        (Some(true), Some(false), Some(4000)),
        "{stale}"
    );

    // Off: a restricted-use certificate inside its window renews nothing.
    consent(&other, &bank).await;
    let other_id = other.cert.id.to_string();
    let off: Value = put_setting(&app, &other, &other_id, json!({"enabled": false}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(off["active"], false);
    let req = request(&app, &bank, &other, 6).await;
    let signed: Value = approve(&app, &app.address, &other, &req)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(signed["status"], "signed");
    assert!(signed.get("renewed").is_none(), "{signed}");

    // On again: a CSC authorization with the PIN renews it (the SAD still signs with the old
    // key, which stays valid until it expires).
    put_setting(&app, &other, &other_id, json!({"enabled": true})).await;
    let digest = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
    let resp = app
        .client
        .post(app.url("/csc/v2/credentials/authorize"))
        .bearer_auth(&bank.token)
        .json(&json!({"credentialID": other_id, "numSignatures": 1, "hashes": [digest], "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "authData": [{"id": "PIN", "value": PIN}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let mine: Value = get(&app, "/v1/certificates", &other.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 2, "{mine}");
    let old = app
        .pki
        .certificate(&app.db, &other.owner, other.cert.id)
        .await
        .unwrap();
    assert!(!old.renewal_open, "renewed by the CSC authorization");
    assert_eq!(
        store::audit::by_action(&app.db, Action::CertificateAutoRenewed, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// A passkey approval inside the window signs but does not renew (the new key's PIN slot needs
/// the PIN): no `renewed`, renewal still open; the next PIN approval renews.
pub(super) async fn a_passkey_approval_does_not_renew(engine: Engine) {
    use webauthn_authenticator_rs::WebauthnAuthenticator;
    use webauthn_rs::prelude::{RequestChallengeResponse, Url};
    let origin = Url::parse(PASSKEY_ORIGIN).unwrap();
    let app = spawn_app(engine).await;
    let mut bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let mut h = holder(&app, "330100000029", Usage::Restricted).await;
    consent(&h, &bank).await;
    let mut phone = bound_passkey(&app, &h.token, h.cert.id).await;

    app.clock
        .advance(h.cert.not_after - app.clock.now() - Duration::days(10));
    fresh_tokens(&app, &mut [&mut h], &mut bank).await;
    let req = request(&app, &bank, &h, 8).await;
    let id = req["id"].as_str().unwrap();
    let ceremony: Value = post(
        &app,
        &format!("/v1/approvals/{id}/passkey/start"),
        &h.token,
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(ceremony["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin, options).unwrap();
    let resp = post(
        &app,
        &format!("/v1/approvals/{id}/passkey/finish"),
        &h.token,
        json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let signed: Value = resp.json().await.unwrap();
    check_response("post", "/v1/approvals/{id}/passkey/finish", 200, &signed);
    assert_eq!(signed["status"], "signed");
    assert!(signed.get("renewed").is_none(), "{signed}");
    let cert = app
        .pki
        .certificate(&app.db, &h.owner, h.cert.id)
        .await
        .unwrap();
    assert!(cert.renewal_open, "still to renew");
    // The next PIN approval renews it.
    let req = request(&app, &bank, &h, 9).await;
    let signed: Value = approve(&app, &app.address, &h, &req)
        .await
        .json()
        .await
        .unwrap();
    assert!(signed["renewed"]["id"].is_string(), "{signed}");
}

both_engines!(
    a_pin_approval_in_the_window_renews_once,
    the_setting_and_the_fee_it_confirms,
    a_passkey_approval_does_not_renew,
);
