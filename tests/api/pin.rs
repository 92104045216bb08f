//! Changing and resetting a certificate's PIN (issue 16, part 3): the current PIN opens the
//! key and a wrong one counts toward the lock; the new PIN follows enrolment's rules and the
//! old one stops working; a reset (identity + phone code + security medium + a passkey bound
//! to the key) makes a new PIN slot and is the only way out of a lock; without a bound passkey
//! the answer says reissuance, with the fee. The lock counter changes through nothing else.

use fincert::{
    auth::{media::MediumKind, otp},
    clock::Clock,
    config::Engine,
    pki::profile::Usage,
};
use serde_json::{Value, json};
use uuid::Uuid;
use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use crate::{both_engines, helpers::*};

/// The development customer: `holder` and the identity step name the same person.
const CUSTOMER: &str = "110123456789";

fn origin() -> Url {
    Url::parse("http://localhost:8080").unwrap()
}

/// The key's counted failures and whether it is locked, read from the database.
async fn pin_state(app: &TestApp, h: &Holder) -> (i32, bool) {
    let key = h.cert.custody_key_id.unwrap().to_string();
    fincert::store::custody::pin_state(&app.db, &key)
        .await
        .unwrap()
}

async fn change(app: &TestApp, h: &Holder, current: &str, new: &str) -> reqwest::Response {
    post(
        app,
        &format!("/v1/certificates/{}/pin", h.cert.id),
        &h.token,
        json!({"current_pin": current, "new_pin": new}),
    )
    .await
}

async fn sign_in_status(app: &TestApp, cert: Uuid, pin: &str) -> u16 {
    let resp = post(
        app,
        "/v1/auth/pin",
        ANON,
        json!({"certificate_id": cert, "pin": pin}),
    )
    .await;
    let status = resp.status().as_u16();
    // Without a ticket, a wrong PIN never says how many tries are left (no oracle for a
    // caller guessing ids).
    let body: Value = resp.json().await.unwrap_or_default();
    assert!(body.get("tries_left").is_none(), "{body}");
    status
}

async fn actions(app: &TestApp) -> Vec<String> {
    fincert::store::audit::page_after(&app.db, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

/// Registers a passkey on `phone` bound to `h`'s certificate key.
async fn bind_passkey(app: &TestApp, h: &Holder, phone: &mut SoftPasskey) {
    let started: Value = post(app, "/v1/passkeys/register/start", &h.token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let options: CreationChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let credential = phone.do_registration(origin(), options).unwrap();
    let resp = post(app, "/v1/passkeys/register/finish", &h.token, json!({"ceremony_id": started["ceremony_id"], "credential": credential, "name": "Galaxy", "certificate_id": h.cert.id, "pin": PIN})).await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
}

/// A PIN reset through identity, phone code and TOTP medium; returns its base path.
async fn reset_to_last_step(app: &TestApp) -> String {
    let started = post(app, "/v1/enrolments", ANON, json!({"purpose": "pin_reset"})).await;
    assert_eq!(started.status(), 201);
    let e: Value = started.json().await.unwrap();
    assert_eq!(e["purpose"], "pin_reset");
    assert_eq!(e["step"], "identity", "a PIN reset skips the terms");
    let base = format!("/v1/enrolments/{}", e["id"].as_str().unwrap());
    let ok = |r: reqwest::Response| async move {
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{body}");
        body
    };
    ok(post(
        app,
        &format!("{base}/identity"),
        ANON,
        identity("1987-03-14"),
    )
    .await)
    .await;
    ok(post(
        app,
        &format!("{base}/phone-code"),
        ANON,
        json!({"channel": "sms"}),
    )
    .await)
    .await;
    let code = code_from(app);
    ok(post(
        app,
        &format!("{base}/phone-code/verify"),
        ANON,
        json!({"code": code}),
    )
    .await)
    .await;
    let answer = format!(
        "{:06}",
        otp::hotp(OTP_SECRET, otp::totp_step(app.clock.now()))
    );
    let done = ok(post(
        app,
        &format!("{base}/medium"),
        ANON,
        json!({"kind": "totp", "answer": answer}),
    )
    .await)
    .await;
    assert_eq!(done["step"], "credential");
    base
}

/// Starts the reset's passkey ceremony for `cert`.
async fn reset_passkey(app: &TestApp, base: &str, cert: Uuid) -> reqwest::Response {
    post(
        app,
        &format!("{base}/pin-reset/passkey"),
        ANON,
        json!({"certificate_id": cert}),
    )
    .await
}

async fn change_pin_replaces_the_old_one(engine: Engine) {
    let app = spawn_app(engine).await;
    let h = holder(&app, CUSTOMER, Usage::General).await;
    // Bad input: malformed PINs are 400, weak or unchanged ones 422; none counts.
    assert_problem(
        change(&app, &h, "12345", "604172").await,
        400,
        "invalid_json",
    )
    .await;
    assert_problem(change(&app, &h, PIN, "60417").await, 422, "weak_pin").await;
    assert_problem(change(&app, &h, PIN, "123456").await, 422, "weak_pin").await;
    let born = assert_problem(change(&app, &h, PIN, "870314").await, 422, "weak_pin").await;
    assert!(born["detail"].as_str().unwrap().contains("birth"), "{born}");
    assert_problem(change(&app, &h, PIN, PIN).await, 422, "weak_pin").await;
    assert_eq!(pin_state(&app, &h).await, (0, false));
    // A wrong current PIN is a PIN attempt: it counts.
    assert_problem(change(&app, &h, "604172", "731946").await, 401, "wrong_pin").await;
    assert_eq!(pin_state(&app, &h).await, (1, false));
    // Someone else's certificate is not there; nor is a stranger without a session.
    let other = holder(&app, "330100000009", Usage::General).await;
    assert_problem(
        post(
            &app,
            &format!("/v1/certificates/{}/pin", other.cert.id),
            &h.token,
            json!({"current_pin": PIN, "new_pin": "604172"}),
        )
        .await,
        404,
        "certificate_not_found",
    )
    .await;
    assert_eq!(
        post(
            &app,
            &format!("/v1/certificates/{}/pin", h.cert.id),
            ANON,
            json!({"current_pin": PIN, "new_pin": "604172"}),
        )
        .await
        .status(),
        401
    );

    let before = app.outbox.count_to("01012345678");
    let resp = change(&app, &h, PIN, "604172").await;
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    assert_eq!(
        pin_state(&app, &h).await,
        (0, false),
        "a right PIN clears the count"
    );
    // The new PIN works, the old one no longer does.
    assert_eq!(sign_in_status(&app, h.cert.id, "604172").await, 200);
    assert_eq!(sign_in_status(&app, h.cert.id, PIN).await, 401);
    assert_problem(change(&app, &h, PIN, "731946").await, 401, "wrong_pin").await;
    // The holder is told by SMS, and it is audited.
    assert_eq!(app.outbox.count_to("01012345678"), before + 1);
    let notice = app.outbox.last_to("01012345678").unwrap();
    assert!(notice.body.contains("PIN"), "{}", notice.body);
    assert!(!notice.body.contains("604172"), "no PIN in the notice");
    assert!(actions(&app).await.iter().any(|a| a == "key.pin_changed"));
}

/// Five wrong current PINs lock the key; the right PIN, a change and a passkey sign-in do not
/// open it again; only a PIN reset does, and then the old PIN is gone.
async fn the_lock_is_left_only_through_a_reset(engine: Engine) {
    let app = spawn_app(engine).await;
    dev_customer(&app).await;
    register_otp(&app, MediumKind::Totp, None).await;
    let h = holder(&app, CUSTOMER, Usage::General).await;
    let mut phone = SoftPasskey::new(true);
    bind_passkey(&app, &h, &mut phone).await;
    // The signed-in holder is told how many tries are left (0: this one locked it).
    for n in 1..=4 {
        let wrong =
            assert_problem(change(&app, &h, "604172", "731946").await, 401, "wrong_pin").await;
        assert_eq!(wrong["tries_left"], 5 - n, "{wrong}");
        crate::openapi::check_response("post", "/v1/certificates/{id}/pin", 401, &wrong);
        assert_eq!(pin_state(&app, &h).await, (n, false));
    }
    let last = assert_problem(change(&app, &h, "604172", "731946").await, 401, "wrong_pin").await;
    assert_eq!(
        last["tries_left"], 0,
        "the fifth wrong PIN says the PIN is now locked"
    );
    assert_eq!(pin_state(&app, &h).await, (5, true));
    // Locked: the right PIN is refused everywhere, a change included.
    let locked = assert_problem(change(&app, &h, PIN, "731946").await, 423, "pin_locked").await;
    assert!(locked.get("tries_left").is_none(), "{locked}");
    assert!(
        locked["detail"].as_str().unwrap().contains("reset"),
        "{locked}"
    );
    // Sign-in by id alone does not tell a locked PIN from a wrong one.
    assert_eq!(sign_in_status(&app, h.cert.id, PIN).await, 401);
    // A passkey sign-in works, and leaves the lock as it is.
    let started: Value = post(
        &app,
        "/v1/auth/passkey/start",
        ANON,
        json!({"certificate_id": h.cert.id}),
    )
    .await
    .json()
    .await
    .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin(), options).unwrap();
    let resp = post(
        &app,
        "/v1/auth/passkey/finish",
        ANON,
        json!({"ceremony_id": started["ceremony_id"], "credential": assertion}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(pin_state(&app, &h).await, (5, true));
    // Time does not open it either.
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(sign_in_status(&app, h.cert.id, PIN).await, 401);
    assert_eq!(pin_state(&app, &h).await, (5, true));

    // The reset.
    let base = reset_to_last_step(&app).await;
    // Issuance is not how a PIN reset ends.
    assert_problem(
        post(
            &app,
            &format!("{base}/complete"),
            ANON,
            json!({"kind": "financial", "usage": "general", "pin": "731946"}),
        )
        .await,
        422,
        "invalid_credential_choice",
    )
    .await;
    let ceremony: Value = reset_passkey(&app, &base, h.cert.id)
        .await
        .json()
        .await
        .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(ceremony["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin(), options).unwrap();
    let finish = |pin: &str| json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion, "new_pin": pin});
    // A weak PIN is refused before the ceremony is spent.
    assert_problem(
        post(&app, &format!("{base}/pin-reset"), ANON, finish("111111")).await,
        422,
        "weak_pin",
    )
    .await;
    assert_eq!(pin_state(&app, &h).await, (5, true), "nothing changed yet");
    let before = app.outbox.count_to("01012345678");
    let resp = post(&app, &format!("{base}/pin-reset"), ANON, finish("731946")).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let done: Value = resp.json().await.unwrap();
    crate::openapi::check_response("post", "/v1/enrolments/{id}/pin-reset", 200, &done);
    assert_eq!(done["certificate_id"], json!(h.cert.id));
    assert_eq!(
        pin_state(&app, &h).await,
        (0, false),
        "the reset clears the lock"
    );
    assert_eq!(sign_in_status(&app, h.cert.id, "731946").await, 200);
    assert_eq!(
        sign_in_status(&app, h.cert.id, PIN).await,
        401,
        "the old PIN is gone"
    );
    assert_eq!(
        pin_state(&app, &h).await,
        (1, false),
        "and a wrong PIN counts again"
    );
    assert_eq!(
        app.outbox.count_to("01012345678"),
        before + 1,
        "an SMS notice"
    );
    // Single use: the ceremony and the step are spent.
    assert_problem(
        post(&app, &format!("{base}/pin-reset"), ANON, finish("604172")).await,
        409,
        "wrong_step",
    )
    .await;
    assert_eq!(
        app.get(&base).await.json::<Value>().await.unwrap()["step"],
        "completed"
    );
    let audited = actions(&app).await;
    for a in [
        "enrolment.started",
        "enrolment.identity_verified",
        "enrolment.phone_verified",
        "enrolment.medium_verified",
        "enrolment.pin_reset_challenged",
        "key.pin_reset",
        "enrolment.pin_reset_completed",
    ] {
        assert!(audited.iter().any(|x| x == a), "{a} audited");
    }
}

/// Without a passkey bound to the key the reset says reissuance, with the fee; a ceremony is
/// bound to its enrolment; a passkey of another key does not open this one.
async fn without_a_bound_passkey_reissuance_is_the_way(engine: Engine) {
    let app = spawn_app(engine).await;
    dev_customer(&app).await;
    register_otp(&app, MediumKind::Totp, None).await;
    let h = holder(&app, CUSTOMER, Usage::General).await;
    let base = reset_to_last_step(&app).await;
    let refused = assert_problem(
        reset_passkey(&app, &base, h.cert.id).await,
        409,
        "reissuance_required",
    )
    .await;
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("reissue") && detail.contains("4400 KRW"),
        "{detail}"
    );
    assert!(
        actions(&app)
            .await
            .iter()
            .any(|a| a == "enrolment.pin_reset_refused")
    );
    // A certificate that is not the holder's is not there.
    let other = holder(&app, "330100000009", Usage::General).await;
    assert_problem(
        reset_passkey(&app, &base, other.cert.id).await,
        404,
        "certificate_not_found",
    )
    .await;
    // An issuance enrolment has no PIN-reset step.
    let issue = start_enrolment(&app, "issue").await;
    assert_problem(
        reset_passkey(&app, &issue, h.cert.id).await,
        409,
        "wrong_step",
    )
    .await;

    // A passkey bound: a ceremony of this reset does not serve another.
    let mut phone = SoftPasskey::new(true);
    bind_passkey(&app, &h, &mut phone).await;
    let ceremony: Value = reset_passkey(&app, &base, h.cert.id)
        .await
        .json()
        .await
        .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(ceremony["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin(), options).unwrap();
    // (the next TOTP step: a one-time password is used once)
    app.clock.advance(chrono::Duration::seconds(31));
    let second = reset_to_last_step(&app).await;
    assert_problem(
        post(&app, &format!("{second}/pin-reset"), ANON, json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion, "new_pin": "731946"})).await,
        409,
        "webauthn_challenge_spent",
    )
    .await;
    assert_eq!(
        sign_in_status(&app, h.cert.id, PIN).await,
        200,
        "the PIN is unchanged"
    );
    // Malformed bodies.
    assert_problem(
        post(
            &app,
            &format!("{second}/pin-reset/passkey"),
            ANON,
            json!({"certificate_id": "nope"}),
        )
        .await,
        400,
        "invalid_json",
    )
    .await;
}

both_engines!(
    change_pin_replaces_the_old_one,
    the_lock_is_left_only_through_a_reset,
    without_a_bound_passkey_reissuance_is_the_way,
);
