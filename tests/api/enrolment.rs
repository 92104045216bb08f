//! The issuance procedure through the HTTP API: terms, identity, phone code (steps 1–3).

use chrono::Duration;
use fincert::config::Engine;
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

/// Terms → identity → phone code, with the refusals on the way.
async fn first_three_steps(engine: Engine) {
    let app = spawn_app(engine).await;
    dev_customer(&app).await;
    let resp = post(&app, "/v1/enrolments", ANON, json!({"purpose": "issue"})).await;
    assert_eq!(resp.status(), 201);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["step"], "terms");
    let base = format!("/v1/enrolments/{}", e["id"].as_str().unwrap());

    // Step 1: all required terms, current versions.
    assert_problem(
        post(
            &app,
            &format!("{base}/terms"),
            ANON,
            json!({"agreed": [{"code": "service", "version": 1}]}),
        )
        .await,
        422,
        "terms_not_agreed",
    )
    .await;
    let all = required_terms(&app).await;
    let mut with_unknown = all.clone();
    with_unknown["agreed"]
        .as_array_mut()
        .unwrap()
        .push(json!({"code": "service", "version": 9}));
    assert_problem(
        post(&app, &format!("{base}/terms"), ANON, with_unknown).await,
        422,
        "terms_not_agreed",
    )
    .await;
    let resp = post(&app, &format!("{base}/terms"), ANON, all.clone()).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["step"], "identity");
    assert_problem(
        post(&app, &format!("{base}/terms"), ANON, all).await,
        409,
        "wrong_step",
    )
    .await;

    // Step 2: the verifier must recognise every detail.
    assert_problem(
        post(
            &app,
            &format!("{base}/identity"),
            ANON,
            identity("1987-03-15"),
        )
        .await,
        422,
        "identity_mismatch",
    )
    .await;
    assert_problem(
        post(
            &app,
            &format!("{base}/identity"),
            ANON,
            identity("1987-02-30"),
        )
        .await,
        400,
        "invalid_json",
    )
    .await;
    assert_problem(
        post(
            &app,
            &format!("{base}/phone-code"),
            ANON,
            json!({"channel": "sms"}),
        )
        .await,
        409,
        "wrong_step",
    )
    .await;
    let resp = post(
        &app,
        &format!("{base}/identity"),
        ANON,
        identity("1987-03-14"),
    )
    .await;
    let e: Value = resp.json().await.unwrap();
    assert_eq!(
        (e["step"].as_str(), e["phone"].as_str()),
        (Some("phone"), Some("010-****-5678"))
    );

    // Step 3: a code by SMS; a wrong one is refused, the right one passes once.
    assert_eq!(
        post(
            &app,
            &format!("{base}/phone-code"),
            ANON,
            json!({"channel": "sms"})
        )
        .await
        .status(),
        202
    );
    let code = code_from(&app);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_problem(
        post(
            &app,
            &format!("{base}/phone-code/verify"),
            ANON,
            json!({"code": wrong}),
        )
        .await,
        422,
        "wrong_code",
    )
    .await;
    assert_problem(
        post(
            &app,
            &format!("{base}/phone-code/verify"),
            ANON,
            json!({"code": "12345"}),
        )
        .await,
        400,
        "invalid_json",
    )
    .await;
    let resp = post(
        &app,
        &format!("{base}/phone-code/verify"),
        ANON,
        json!({"code": code}),
    )
    .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["step"], "medium");
    assert_problem(
        post(
            &app,
            &format!("{base}/phone-code/verify"),
            ANON,
            json!({"code": code}),
        )
        .await,
        409,
        "wrong_step",
    )
    .await;

    // The code never reached the database or the audit log.
    use sea_orm::{ConnectionTrait, Statement};
    let backend = app.db.get_database_backend();
    for sql in [
        "SELECT details FROM audit_events",
        "SELECT id FROM enrolments",
    ] {
        for row in app
            .db
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .unwrap()
        {
            let text: String = row.try_get_by_index(0).unwrap();
            assert!(!text.contains(&code), "{text}");
        }
    }
    for action in [
        "enrolment.started",
        "enrolment.terms_agreed",
        "enrolment.identity_failed",
        "enrolment.identity_verified",
        "enrolment.code_sent",
        "enrolment.code_failed",
        "enrolment.phone_verified",
    ] {
        let rows = app
            .db
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT seq FROM audit_events WHERE action = '{action}'"),
            ))
            .await
            .unwrap();
        assert!(!rows.is_empty(), "{action} audited");
    }
}

/// Codes expire, run out of attempts, can be resent (also by ARS); enrolments expire.
async fn codes_and_enrolments_expire(engine: Engine) {
    let app = spawn_app(engine).await;
    dev_customer(&app).await;
    let base = start_enrolment(&app, "reissue").await;
    post(
        &app,
        &format!("{base}/identity"),
        ANON,
        identity("1987-03-14"),
    )
    .await;

    assert_problem(
        post(
            &app,
            &format!("{base}/phone-code/verify"),
            ANON,
            json!({"code": "123456"}),
        )
        .await,
        410,
        "code_expired",
    )
    .await;
    post(
        &app,
        &format!("{base}/phone-code"),
        ANON,
        json!({"channel": "sms"}),
    )
    .await;
    let code = code_from(&app);
    app.clock.advance(Duration::minutes(4));
    assert_problem(
        post(
            &app,
            &format!("{base}/phone-code/verify"),
            ANON,
            json!({"code": code}),
        )
        .await,
        410,
        "code_expired",
    )
    .await;

    // A new code, by ARS this time; five wrong tries use it up, even for the right code.
    post(
        &app,
        &format!("{base}/phone-code"),
        ANON,
        json!({"channel": "ars"}),
    )
    .await;
    assert_eq!(
        app.outbox.last_to("01012345678").unwrap().channel,
        fincert::auth::messaging::Channel::Ars
    );
    let code = code_from(&app);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 7) % 1_000_000);
    for _ in 0..5 {
        assert_problem(
            post(
                &app,
                &format!("{base}/phone-code/verify"),
                ANON,
                json!({"code": wrong}),
            )
            .await,
            422,
            "wrong_code",
        )
        .await;
    }
    assert_problem(
        post(
            &app,
            &format!("{base}/phone-code/verify"),
            ANON,
            json!({"code": code}),
        )
        .await,
        410,
        "code_expired",
    )
    .await;

    app.clock.advance(Duration::minutes(20));
    assert_problem(
        post(
            &app,
            &format!("{base}/phone-code"),
            ANON,
            json!({"channel": "sms"}),
        )
        .await,
        410,
        "enrolment_expired",
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/enrolments/{}", uuid::Uuid::new_v4()))
            .await,
        404,
        "enrolment_not_found",
    )
    .await;
}

/// Runs steps 1–3 (the phone code by `channel`); returns the enrolment's base path.
async fn to_medium_step(app: &TestApp, purpose: &str, channel: &str) -> String {
    let base = start_enrolment(app, purpose).await;
    assert_eq!(
        post(
            app,
            &format!("{base}/identity"),
            ANON,
            identity("1987-03-14")
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        post(
            app,
            &format!("{base}/phone-code"),
            ANON,
            json!({"channel": channel})
        )
        .await
        .status(),
        202
    );
    let code = code_from(app);
    let resp = post(
        app,
        &format!("{base}/phone-code/verify"),
        ANON,
        json!({"code": code}),
    )
    .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["step"], "medium");
    base
}

/// Completes step 4 with a cloud key and `pin`; returns the body.
async fn complete(
    app: &TestApp,
    base: &str,
    pin: &str,
    replaces: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({"kind": "financial", "usage": "restricted", "pin": pin});
    if let Some(r) = replaces {
        body["replaces"] = json!(r);
    }
    post(app, &format!("{base}/complete"), ANON, body).await
}

/// The whole procedure with a security card: wrong cells are refused, the challenge is single
/// use, the PIN may not be trivial or the birth date, and the holder signs in with the new PIN.
async fn issuance_with_a_security_card(engine: Engine) {
    use fincert::auth::{media, security_card::Half};
    let app = spawn_app(engine).await;
    dev_customer(&app).await;
    let card = media::register_card(
        &app.db,
        app.custody.kms().as_ref(),
        &customer_number(),
        30,
        fincert::clock::Clock::now(&app.clock),
    )
    .await
    .unwrap();
    let base = to_medium_step(&app, "issue", "sms").await;

    let answer_for = |challenge: &Value| -> String {
        let half = |cell: &Value| {
            let printed = card.printed(cell[0].as_u64().unwrap() as u8).unwrap();
            match serde_json::from_value::<Half>(cell[1].clone()).unwrap() {
                Half::First => printed[..2].to_string(),
                Half::Last => printed[2..].to_string(),
            }
        };
        format!(
            "{}{}",
            half(&challenge["cells"]["a"]),
            half(&challenge["cells"]["b"])
        )
    };
    assert_problem(
        post(
            &app,
            &format!("{base}/medium"),
            ANON,
            json!({"kind": "card", "answer": "1234"}),
        )
        .await,
        409,
        "no_open_challenge",
    )
    .await;
    let first: Value = app
        .get(&format!("{base}/medium?kind=card"))
        .await
        .json()
        .await
        .unwrap();
    let right = answer_for(&first);
    let wrong: String = right
        .chars()
        .map(|c| {
            if c == '9' {
                '0'
            } else {
                char::from(c as u8 + 1)
            }
        })
        .collect();
    assert_problem(
        post(
            &app,
            &format!("{base}/medium"),
            ANON,
            json!({"kind": "card", "answer": wrong}),
        )
        .await,
        422,
        "wrong_medium_answer",
    )
    .await;
    // The challenge was spent by the wrong answer: the right answer to it is refused now.
    assert_problem(
        post(
            &app,
            &format!("{base}/medium"),
            ANON,
            json!({"kind": "card", "answer": right}),
        )
        .await,
        409,
        "no_open_challenge",
    )
    .await;
    let second: Value = app
        .get(&format!("{base}/medium?kind=card"))
        .await
        .json()
        .await
        .unwrap();
    let pair = |c: &Value| {
        let mut p = [
            c["cells"]["a"][0].as_u64().unwrap(),
            c["cells"]["b"][0].as_u64().unwrap(),
        ];
        p.sort();
        p
    };
    assert_ne!(
        pair(&first),
        pair(&second),
        "never the same pair twice in a row"
    );
    let resp = post(
        &app,
        &format!("{base}/medium"),
        ANON,
        json!({"kind": "card", "answer": answer_for(&second)}),
    )
    .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["step"], "credential");

    for (weak, why) in [
        ("123456", "sequential"),
        ("111111", "same"),
        ("870314", "birth date"),
    ] {
        let body = assert_problem(complete(&app, &base, weak, None).await, 422, "weak_pin").await;
        assert!(
            body["detail"].as_str().unwrap().contains("too easy"),
            "{why}: {body}"
        );
    }
    let resp = complete(&app, &base, "604172", None).await;
    assert_eq!(resp.status(), 201);
    let done: Value = resp.json().await.unwrap();
    assert_eq!(done["certificate"]["kind"], "financial");
    assert_eq!(done["certificate"]["status"], "active");
    let token = done["session"]["access_token"].as_str().unwrap();
    let mine: Value = get(&app, "/v1/certificates", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"][0]["serial"], done["certificate"]["serial"]);
    assert_problem(
        complete(&app, &base, "604172", None).await,
        409,
        "wrong_step",
    )
    .await;

    // The new holder signs in with the new PIN.
    let resp = post(
        &app,
        "/v1/auth/pin",
        ANON,
        json!({"certificate_id": done["certificate"]["id"], "pin": "604172"}),
    )
    .await;
    assert_eq!(resp.status(), 200);

    // ...and with a passkey registered in that session, bound to the new certificate's key.
    use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
    use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};
    let origin = Url::parse("http://localhost:8080").unwrap();
    let mut phone = SoftPasskey::new(true);
    let started: Value = post(&app, "/v1/passkeys/register/start", token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let options: CreationChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let credential = phone.do_registration(origin.clone(), options).unwrap();
    let resp = post(
        &app,
        "/v1/passkeys/register/finish",
        token,
        json!({"ceremony_id": started["ceremony_id"], "credential": credential, "name": "phone", "certificate_id": done["certificate"]["id"], "pin": "604172"}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let started: Value = post(
        &app,
        "/v1/auth/passkey/start",
        ANON,
        json!({"certificate_id": done["certificate"]["id"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin, options).unwrap();
    let resp = post(
        &app,
        "/v1/auth/passkey/finish",
        ANON,
        json!({"ceremony_id": started["ceremony_id"], "credential": assertion}),
    )
    .await;
    assert_eq!(resp.status(), 200, "signed in with the passkey");
}

/// Hardware OTP (HOTP and TOTP) and mobile OTP, with both phone factors; a used OTP is
/// refused as a replay.
async fn issuance_with_otp_media(engine: Engine) {
    use fincert::auth::{media::MediumKind, otp};
    let app = spawn_app(engine).await;
    dev_customer(&app).await;
    for kind in [MediumKind::Hotp, MediumKind::Totp, MediumKind::Motp] {
        register_otp(
            &app,
            kind,
            (kind == MediumKind::Motp).then_some("galaxy-s26-0001"),
        )
        .await;
    }
    let mut certificates = Vec::new();
    for (kind, channel) in [("hotp", "sms"), ("totp", "ars"), ("motp", "sms")] {
        let base = to_medium_step(&app, "issue", channel).await;
        let challenge: Value = app
            .get(&format!("{base}/medium?kind={kind}"))
            .await
            .json()
            .await
            .unwrap();
        assert!(challenge.get("cells").is_none());
        let now = fincert::clock::Clock::now(&app.clock);
        let code = match kind {
            "hotp" => otp::hotp(OTP_SECRET, 0),
            _ => otp::hotp(OTP_SECRET, otp::totp_step(now)),
        };
        let code = format!("{code:06}");
        if kind == "motp" {
            let resp = post(
                &app,
                &format!("{base}/medium"),
                ANON,
                json!({"kind": kind, "answer": code, "device_id": "someone-elses-phone"}),
            )
            .await;
            assert_problem(resp, 422, "wrong_medium_answer").await;
        }
        let resp = post(
            &app,
            &format!("{base}/medium"),
            ANON,
            json!({"kind": kind, "answer": code, "device_id": "galaxy-s26-0001"}),
        )
        .await;
        assert_eq!(
            resp.json::<Value>().await.unwrap()["step"],
            "credential",
            "{kind}"
        );
        let done: Value = complete(&app, &base, "604172", None)
            .await
            .json()
            .await
            .unwrap();
        certificates.push(done["certificate"]["id"].as_str().unwrap().to_string());

        // The same code in another enrolment is a replay.
        let again = to_medium_step(&app, "issue", "sms").await;
        assert_problem(
            post(
                &app,
                &format!("{again}/medium"),
                ANON,
                json!({"kind": kind, "answer": code, "device_id": "galaxy-s26-0001"}),
            )
            .await,
            422,
            "otp_replayed",
        )
        .await;
    }
    assert_eq!(certificates.len(), 3);
    assert_problem(
        app.get(&format!(
            "{}/medium?kind=card",
            to_medium_step(&app, "issue", "sms").await
        ))
        .await,
        422,
        "medium_not_registered",
    )
    .await;
}

/// Reissuance runs the same steps and revokes the certificate it replaces.
async fn reissuance_replaces_the_old_certificate(engine: Engine) {
    use fincert::auth::{media::MediumKind, otp};
    let app = spawn_app(engine).await;
    dev_customer(&app).await;
    register_otp(&app, MediumKind::Totp, None).await;
    let totp = |app: &TestApp| {
        format!(
            "{:06}",
            otp::hotp(
                OTP_SECRET,
                otp::totp_step(fincert::clock::Clock::now(&app.clock))
            )
        )
    };
    let base = to_medium_step(&app, "issue", "sms").await;
    post(
        &app,
        &format!("{base}/medium"),
        ANON,
        json!({"kind": "totp", "answer": totp(&app)}),
    )
    .await;
    let first: Value = complete(&app, &base, "604172", None)
        .await
        .json()
        .await
        .unwrap();
    let old = first["certificate"]["id"].as_str().unwrap().to_string();

    app.clock.advance(Duration::seconds(60));
    let base = to_medium_step(&app, "reissue", "ars").await;
    post(
        &app,
        &format!("{base}/medium"),
        ANON,
        json!({"kind": "totp", "answer": totp(&app)}),
    )
    .await;
    assert_problem(
        complete(&app, &base, "731604", None).await,
        422,
        "invalid_credential_choice",
    )
    .await;
    let resp = complete(&app, &base, "731604", Some(&old)).await;
    assert_eq!(resp.status(), 201);
    let second: Value = resp.json().await.unwrap();
    let token = second["session"]["access_token"].as_str().unwrap();
    let old_now: Value = get(&app, &format!("/v1/certificates/{old}"), token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old_now["status"], "revoked");
}

both_engines!(
    first_three_steps,
    codes_and_enrolments_expire,
    issuance_with_a_security_card,
    issuance_with_otp_media,
    reissuance_replaces_the_old_certificate,
);
