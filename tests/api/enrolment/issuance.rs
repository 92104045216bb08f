//! Step 4 and the new credential: a security card, hardware and mobile OTP, the PIN rules, the
//! holder signing in with the new PIN and a passkey, and reissuance revoking the old certificate.

use chrono::Duration;
use fincert::config::Engine;
use serde_json::{Value, json};

use super::{complete, to_medium_step};
use crate::helpers::*;

/// The whole procedure with a security card: wrong cells are refused, the challenge is single
/// use, the PIN may not be trivial or the birth date, and the holder signs in with the new PIN.
pub(super) async fn issuance_with_a_security_card(engine: Engine) {
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
    // Only the card is offered: the customer holds nothing else.
    let media: Value = app
        .get(&format!("{base}/media"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(media, json!({"kinds": ["card"]}));

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
pub(super) async fn issuance_with_otp_media(engine: Engine) {
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
        // What the customer holds, each once and in a fixed order; no card is offered (and
        // none is asked for: a card challenge is refused).
        let media: Value = app
            .get(&format!("{base}/media"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(media, json!({"kinds": ["hotp", "totp", "motp"]}), "{kind}");
        assert_problem(
            app.get(&format!("{base}/medium?kind=card")).await,
            422,
            "medium_not_registered",
        )
        .await;
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
pub(super) async fn reissuance_replaces_the_old_certificate(engine: Engine) {
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

/// A general-purpose issuance records its fee only when the request confirmed the current fee:
/// missing or stale, `409 fee_not_confirmed` (the step stays open, nothing is issued or
/// charged); with it, the certificate and one charge of exactly that fee.
pub(super) async fn a_general_purpose_issuance_needs_the_fee_confirmed(engine: Engine) {
    use fincert::auth::{media::MediumKind, otp};
    let app = spawn_app(engine).await;
    dev_customer(&app).await;
    register_otp(&app, MediumKind::Hotp, None).await;
    let base = to_medium_step(&app, "issue", "sms").await;
    let resp = post(
        &app,
        &format!("{base}/medium"),
        ANON,
        json!({"kind": "hotp", "answer": format!("{:06}", otp::hotp(OTP_SECRET, 0))}),
    )
    .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["step"], "credential");
    let body = |fee: Option<i64>| {
        let mut b = json!({"kind": "financial", "usage": "general", "pin": "604172"});
        if let Some(f) = fee {
            b["fee_confirmed_krw"] = json!(f);
        }
        b
    };
    for fee in [None, Some(0), Some(4000)] {
        let problem = assert_problem(
            post(&app, &format!("{base}/complete"), ANON, body(fee)).await,
            409,
            "fee_not_confirmed",
        )
        .await;
        assert!(
            problem["detail"].as_str().unwrap().contains("4400 KRW"),
            "{problem}"
        );
    }
    let view: Value = app.get(&base).await.json().await.unwrap();
    assert_eq!(view["step"], "credential", "the step stays open");
    let resp = post(&app, &format!("{base}/complete"), ANON, body(Some(4400))).await;
    assert_eq!(resp.status(), 201);
    let done: Value = resp.json().await.unwrap();
    let token = done["session"]["access_token"].as_str().unwrap();
    let fees: Value = get(&app, "/v1/fees", token).await.json().await.unwrap();
    let fees = fees["items"].as_array().unwrap();
    assert_eq!(fees.len(), 1, "{fees:?}");
    assert_eq!(
        (fees[0]["event"].as_str(), fees[0]["amount_krw"].as_i64()),
        (Some("issue"), Some(4400))
    );

    // A reissuance is charged by the replaced certificate's usage (general-purpose here),
    // whatever usage the request names.
    let old = done["certificate"]["id"].as_str().unwrap().to_owned();
    let base = to_medium_step(&app, "reissue", "sms").await;
    let resp = post(
        &app,
        &format!("{base}/medium"),
        ANON,
        json!({"kind": "hotp", "answer": format!("{:06}", otp::hotp(OTP_SECRET, 1))}),
    )
    .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["step"], "credential");
    let mut reissue =
        json!({"kind": "financial", "usage": "restricted", "pin": "604173", "replaces": old});
    assert_problem(
        post(&app, &format!("{base}/complete"), ANON, reissue.clone()).await,
        409,
        "fee_not_confirmed",
    )
    .await;
    reissue["fee_confirmed_krw"] = json!(4400);
    let resp = post(&app, &format!("{base}/complete"), ANON, reissue).await;
    assert_eq!(resp.status(), 201);
    // Read from the ledger itself (the first session's certificate was just superseded).
    let row = fincert::store::pki::certificate_by_id(&app.db, &old)
        .await
        .unwrap()
        .unwrap();
    // Both at the same instant of the test clock: the ledger's order between them is the ids'.
    let mut events: Vec<_> = fincert::store::pki::fees_of(&app.db, row.owner_id.as_str())
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.event, f.amount_krw))
        .collect();
    events.sort();
    assert_eq!(
        events,
        [("issue".to_owned(), 4400), ("reissue".to_owned(), 4400)]
    );
}
