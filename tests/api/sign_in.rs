//! Sign-in by choosing (issue 16, part 1): identify → phone code → the person's certificates
//! and a selection ticket → PIN (or passkey) with the ticket. No oracle: an unknown person's
//! answers look like a known person's until the code is right. Every answer is checked against
//! openapi.yaml.

use std::time::{Duration, Instant};

use chrono::Duration as Span;
use fincert::{clock::Clock as _, config::Engine};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*, openapi::check_response};

pub(crate) const PHONE: &str = "01012345678";

pub(crate) fn identity(name: &str, birth: &str) -> Value {
    json!({"name": name, "birth_date": birth, "phone": "010-1234-5678", "channel": "sms"})
}

/// Waits (up to 2 s) for a new message to the phone: the code is delivered by a task the answer
/// does not wait for. Returns its 6-digit code.
pub(crate) async fn next_code(app: &TestApp, before: usize) -> String {
    let until = Instant::now() + Duration::from_secs(2);
    while app.outbox.count_to(PHONE) <= before {
        assert!(Instant::now() < until, "no code was delivered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    code_from(app)
}

pub(crate) async fn identify(app: &TestApp, who: Value) -> (u16, Value) {
    let resp = post(app, "/v1/auth/sign-ins", ANON, who).await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    if status < 300 {
        check_response("post", "/v1/auth/sign-ins", status, &body);
    }
    (status, body)
}

pub(crate) async fn verify(app: &TestApp, id: &str, code: &str) -> (u16, Value) {
    let resp = post(
        app,
        &format!("/v1/auth/sign-ins/{id}/verify"),
        ANON,
        json!({"code": code}),
    )
    .await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    if status < 300 {
        check_response("post", "/v1/auth/sign-ins/{id}/verify", status, &body);
    }
    (status, body)
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// Known → the right code lists both certificates (status in force) and a ticket; the ticket
/// with a listed certificate and its PIN opens a session, once; the steps are audited.
async fn the_ticket_opens_a_chosen_certificate_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let owner = user(&app, "440000000001").await;
    let first = cloud_cert(owner.as_str()).issue(&app).await;
    let second = cloud_cert(owner.as_str()).issue(&app).await;
    app.pki.suspend(&app.db, &owner, second.id).await.unwrap();

    let before = app.outbox.count_to(PHONE);
    let (status, pending) = identify(&app, identity("홍길동", "1987-03-14")).await;
    assert_eq!(status, 201, "{pending}");
    assert_eq!(pending["phone"], "010-****-5678");
    let id = pending["id"].as_str().unwrap().to_owned();
    let code = next_code(&app, before).await;
    assert!(app.outbox.last_to(PHONE).unwrap().body.contains("로그인"));

    let (status, choice) = verify(&app, &id, &code).await;
    assert_eq!(status, 200, "{choice}");
    let listed: Vec<(&str, &str)> = choice["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    let (a, b) = (first.id.to_string(), second.id.to_string());
    assert!(listed.contains(&(a.as_str(), "active")), "{listed:?}");
    assert!(listed.contains(&(b.as_str(), "suspended")), "{listed:?}");
    let ticket = choice["ticket"].as_str().unwrap().to_owned();

    // The code step is over: the same code, or a new one, is refused.
    assert_problem(
        post(
            &app,
            &format!("/v1/auth/sign-ins/{id}/verify"),
            ANON,
            json!({"code": code}),
        )
        .await,
        410,
        "code_expired",
    )
    .await;

    // With a ticket, a holder without passkeys is told so (without one, nobody is identified:
    // a decoy ceremony, see `no_oracle`).
    let start = |ticket: Option<&str>| json!({"certificate_id": a, "ticket": ticket});
    let resp = post(&app, "/v1/auth/passkey/start", ANON, start(Some(&ticket))).await;
    assert_problem(resp, 422, "no_passkey").await;
    let resp = post(
        &app,
        "/v1/auth/passkey/start",
        ANON,
        json!({"certificate_id": a}),
    )
    .await;
    assert_eq!(resp.status(), 200);

    // A suspended certificate fails like a wrong PIN, and does not spend the ticket.
    let pin_body =
        |cert: &str, pin: &str| json!({"certificate_id": cert, "pin": pin, "ticket": ticket});
    let suspended = assert_problem(
        post(&app, "/v1/auth/pin", ANON, pin_body(&b, PIN)).await,
        401,
        "wrong_pin",
    )
    .await;
    assert!(suspended.get("tries_left").is_none(), "{suspended}");
    // The identified holder (the ticket lists the certificate) is told how many wrong PINs
    // are left; the ticket is not spent by a wrong PIN.
    let wrong_pin = if PIN == "604172" { "731946" } else { "604172" };
    for left in [4, 3] {
        let wrong = assert_problem(
            post(&app, "/v1/auth/pin", ANON, pin_body(&a, wrong_pin)).await,
            401,
            "wrong_pin",
        )
        .await;
        assert_eq!(wrong["tries_left"], left, "{wrong}");
        check_response("post", "/v1/auth/pin", 401, &wrong);
    }
    // Without a ticket the same wrong PIN says nothing more than before.
    let anonymous = assert_problem(
        post(
            &app,
            "/v1/auth/pin",
            ANON,
            json!({"certificate_id": a, "pin": wrong_pin}),
        )
        .await,
        401,
        "wrong_pin",
    )
    .await;
    assert!(anonymous.get("tries_left").is_none(), "{anonymous}");
    assert_eq!(anonymous["title"], suspended["title"]);
    let resp = post(&app, "/v1/auth/pin", ANON, pin_body(&a, PIN)).await;
    assert_eq!(resp.status(), 200);
    let pair: Value = resp.json().await.unwrap();
    check_response("post", "/v1/auth/pin", 200, &pair);
    let token = pair["access_token"].as_str().unwrap();
    assert_eq!(get(&app, "/v1/certificates", token).await.status(), 200);

    // Single-use.
    assert_problem(
        post(&app, "/v1/auth/pin", ANON, pin_body(&a, PIN)).await,
        401,
        "invalid_ticket",
    )
    .await;
    // The old form (id and PIN, no ticket) still works for API clients.
    let resp = post(
        &app,
        "/v1/auth/pin",
        ANON,
        json!({"certificate_id": a, "pin": PIN}),
    )
    .await;
    assert_eq!(resp.status(), 200);

    let actions: Vec<String> = fincert::store::audit::page_after(&app.db, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in [
        "auth.sign_in_identified",
        "auth.sign_in_code_verified",
        "auth.sign_in_ticket_refused",
        "auth.login",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    app.stop().await;
}

/// The body without what differs between any two answers (ids, times, request ids).
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "id" | "instance" | "request_id"))
                .map(|(k, v)| {
                    let v = if k.ends_with("_at") {
                        Value::Null
                    } else {
                        shape(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Unknown and known people get the same status, body shape and (roughly) time for every
/// step until the code is right; a wrong code fails the same for both, and an unknown
/// person's code is never delivered and can never be right.
async fn an_unknown_person_looks_like_a_known_one(engine: Engine) {
    let app = spawn_app_tuned(engine, |s| s.auth.sign_in_per_ip_per_minute = 1000).await;
    let owner = user(&app, "440000000002").await;
    cloud_cert(owner.as_str()).issue(&app).await;

    // Each round: a known person and an unknown one (a wrong birth date) on one number, so
    // the two answers can be compared whole; other rounds use other people's numbers (the
    // per-number limit is five identifications per ten minutes).
    let mut ids = Vec::new();
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..5 {
        let phone = if round == 0 {
            PHONE.to_owned()
        } else {
            let phone = format!("0109876{round:04}");
            user_with(&app, &format!("44100000000{round}"), "홍길동", &phone).await;
            phone
        };
        let who = |birth: &str| json!({"name": "홍길동", "birth_date": birth, "phone": phone, "channel": "sms"});
        let mut bodies = Vec::new();
        for (i, birth) in ["1987-03-14", "1990-01-01"].into_iter().enumerate() {
            let started = Instant::now();
            let (status, body) = identify(&app, who(birth)).await;
            times[i].push(started.elapsed());
            assert_eq!(status, 201, "{body}");
            if round == 0 {
                ids.push(body["id"].as_str().unwrap().to_owned());
            }
            bodies.push(shape(&body));
        }
        assert_eq!(
            bodies[0], bodies[1],
            "the same answer for known and unknown"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        app.outbox.count_to(PHONE),
        1,
        "the code goes to the known person only"
    );
    let (k, u) = (median(times[0].clone()), median(times[1].clone()));
    println!("identify: known {k:?}, unknown {u:?}");
    assert!(
        k.abs_diff(u) < Duration::from_millis(100),
        "the same timing class: known {k:?}, unknown {u:?}"
    );

    // A wrong code: the same failure for both (and for the unknown person, the known
    // person's real code is just as wrong).
    let code = code_from(&app);
    let mut failures = Vec::new();
    for id in &ids {
        let (status, body) = verify(&app, id, &other_than(&code)).await;
        failures.push((status, shape(&body)));
    }
    assert_eq!(failures[0], failures[1]);
    assert_eq!(failures[0].0, 422);
    assert_eq!(failures[0].1["code"], "wrong_code");
    let (status, body) = verify(&app, &ids[1], &code).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("wrong_code")));

    // Another code: the same answer.
    let mut resent = Vec::new();
    for id in &ids {
        let resp = post(
            &app,
            &format!("/v1/auth/sign-ins/{id}/code"),
            ANON,
            json!({"channel": "ars"}),
        )
        .await;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        check_response("post", "/v1/auth/sign-ins/{id}/code", status, &body);
        resent.push((status, shape(&body)));
    }
    assert_eq!(resent[0], resent[1]);
    assert_eq!(resent[0].0, 202);

    // Five tries per code, then the code is gone, for both alike.
    for id in &ids {
        for _ in 0..5 {
            assert_eq!(verify(&app, id, "000000").await.0, 422);
        }
        let (status, body) = verify(&app, id, "000000").await;
        assert_eq!((status, body["code"].as_str()), (410, Some("code_expired")));
    }
    app.stop().await;
}

/// Bad input is a 400 before anything is counted or sent; unknown and expired sign-ins, spent
/// code budgets, foreign, expired and spent tickets each have their stable code; a refused
/// ticket costs no PIN attempt; identification is limited per phone number.
async fn bad_input_and_every_refusal(engine: Engine) {
    let app = spawn_app_tuned(engine, |s| s.auth.sign_in_per_ip_per_minute = 1000).await;
    let owner = user(&app, "440000000003").await;
    let cert = cloud_cert(owner.as_str()).issue(&app).await;
    let other = user_with(&app, "440000000004", "김민수", PHONE).await;
    let others = cloud_cert(other.as_str())
        .holder("김민수")
        .issue(&app)
        .await;

    for bad in [
        json!({"name": "", "birth_date": "1987-03-14", "phone": "010-1234-5678", "channel": "sms"}),
        json!({"name": "홍길동1", "birth_date": "1987-03-14", "phone": "010-1234-5678", "channel": "sms"}),
        json!({"name": "홍길동", "birth_date": "19870314", "phone": "010-1234-5678", "channel": "sms"}),
        json!({"name": "홍길동", "birth_date": "2999-01-01", "phone": "010-1234-5678", "channel": "sms"}),
        json!({"name": "홍길동", "birth_date": "1987-02-30", "phone": "010-1234-5678", "channel": "sms"}),
        json!({"name": "홍길동", "birth_date": "1987-03-14", "phone": "02-123-4567", "channel": "sms"}),
        json!({"name": "홍길동", "birth_date": "1987-03-14", "phone": "010-1234-5678", "channel": "fax"}),
        json!({"name": "홍길동", "birth_date": "1987-03-14", "phone": "010-1234-5678"}),
        json!({"name": "홍길동", "birth_date": "1987-03-14", "phone": "010-1234-5678", "channel": "sms", "customer_number": "1"}),
    ] {
        let resp = post(&app, "/v1/auth/sign-ins", ANON, bad.clone()).await;
        assert_problem(resp, 400, "invalid_json").await;
    }
    assert_eq!(
        app.outbox.count_to(PHONE),
        0,
        "nothing was sent for bad input"
    );

    let nobody = uuid::Uuid::new_v4();
    assert_problem(
        post(
            &app,
            &format!("/v1/auth/sign-ins/{nobody}/verify"),
            ANON,
            json!({"code": "123456"}),
        )
        .await,
        404,
        "sign_in_not_found",
    )
    .await;
    assert_problem(
        post(
            &app,
            &format!("/v1/auth/sign-ins/{nobody}/code"),
            ANON,
            json!({"channel": "sms"}),
        )
        .await,
        404,
        "sign_in_not_found",
    )
    .await;

    let (_, pending) = identify(&app, identity("홍길동", "1987-03-14")).await;
    let id = pending["id"].as_str().unwrap().to_owned();
    for bad in ["12345", "1234567", "12a456", ""] {
        let resp = post(
            &app,
            &format!("/v1/auth/sign-ins/{id}/verify"),
            ANON,
            json!({"code": bad}),
        )
        .await;
        assert_problem(resp, 400, "invalid_json").await;
    }
    // Five codes per sign-in (the first came with identification).
    for _ in 0..4 {
        let resp = post(
            &app,
            &format!("/v1/auth/sign-ins/{id}/code"),
            ANON,
            json!({"channel": "sms"}),
        )
        .await;
        assert_eq!(resp.status(), 202);
    }
    assert_problem(
        post(
            &app,
            &format!("/v1/auth/sign-ins/{id}/code"),
            ANON,
            json!({"channel": "sms"}),
        )
        .await,
        429,
        "too_many_codes",
    )
    .await;
    // A code lives three minutes.
    let before = app.outbox.count_to(PHONE);
    let (_, pending) = identify(&app, identity("홍길동", "1987-03-14")).await;
    let id = pending["id"].as_str().unwrap().to_owned();
    let code = next_code(&app, before).await;
    app.clock.advance(Span::minutes(4));
    assert_problem(
        post(
            &app,
            &format!("/v1/auth/sign-ins/{id}/verify"),
            ANON,
            json!({"code": code}),
        )
        .await,
        410,
        "code_expired",
    )
    .await;
    // A sign-in lives twenty minutes.
    app.clock.advance(Span::minutes(17));
    assert_problem(
        post(
            &app,
            &format!("/v1/auth/sign-ins/{id}/code"),
            ANON,
            json!({"channel": "sms"}),
        )
        .await,
        410,
        "sign_in_expired",
    )
    .await;

    // A ticket chooses only the person's own certificates; a refusal costs no PIN attempt.
    let before = app.outbox.count_to(PHONE);
    let (_, pending) = identify(&app, identity("홍길동", "1987-03-14")).await;
    let id = pending["id"].as_str().unwrap().to_owned();
    let code = next_code(&app, before).await;
    let (_, choice) = verify(&app, &id, &code).await;
    let ticket = choice["ticket"].as_str().unwrap();
    for _ in 0..6 {
        let body = json!({"certificate_id": others.id, "pin": PIN, "ticket": ticket});
        assert_problem(
            post(&app, "/v1/auth/pin", ANON, body).await,
            401,
            "invalid_ticket",
        )
        .await;
    }
    let body = json!({"certificate_id": uuid::Uuid::new_v4(), "pin": PIN, "ticket": ticket});
    assert_problem(
        post(&app, "/v1/auth/pin", ANON, body).await,
        401,
        "invalid_ticket",
    )
    .await;
    let body = json!({"certificate_id": others.id, "pin": PIN});
    assert_eq!(
        post(&app, "/v1/auth/pin", ANON, body).await.status(),
        200,
        "the other person's PIN was never tried, so it is not locked"
    );
    let body = json!({"certificate_id": cert.id, "pin": PIN, "ticket": "st_forged"});
    assert_problem(
        post(&app, "/v1/auth/pin", ANON, body).await,
        401,
        "invalid_ticket",
    )
    .await;
    // A ticket lives five minutes.
    app.clock.advance(Span::minutes(6));
    let body = json!({"certificate_id": cert.id, "pin": PIN, "ticket": ticket});
    assert_problem(
        post(&app, "/v1/auth/pin", ANON, body).await,
        401,
        "invalid_ticket",
    )
    .await;

    // At most five identifications per phone number per ten minutes, known or not.
    app.clock.advance(Span::minutes(10));
    for n in 0..5 {
        let birth = if n % 2 == 0 {
            "1987-03-14"
        } else {
            "1990-01-01"
        };
        assert_eq!(identify(&app, identity("홍길동", birth)).await.0, 201);
    }
    let resp = post(
        &app,
        "/v1/auth/sign-ins",
        ANON,
        identity("홍길동", "1990-01-01"),
    )
    .await;
    assert_problem(resp, 429, "rate_limited").await;
    app.stop().await;
}

/// The passkey sign-in with a ticket: `start` checks it (another person's ticket is refused),
/// `finish` spends it, and a spent ticket cannot start or finish another.
async fn a_ticket_chooses_for_the_passkey_sign_in_too(engine: Engine) {
    use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
    use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};
    let origin = Url::parse("http://localhost:8080").unwrap();
    let app = spawn_app_tuned(engine, |s| s.auth.sign_in_per_ip_per_minute = 1000).await;
    let h = holder(&app, "440000000005", fincert::pki::profile::Usage::General).await;
    let stranger = user_with(&app, "440000000006", "김민수", "01055556666").await;
    let strangers = cloud_cert(stranger.as_str())
        .holder("김민수")
        .issue(&app)
        .await;

    let mut phone = SoftPasskey::new(true);
    let started: Value = post(&app, "/v1/passkeys/register/start", &h.token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let options: CreationChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let credential = phone.do_registration(origin.clone(), options).unwrap();
    let finish = json!({"ceremony_id": started["ceremony_id"], "credential": credential, "name": "Galaxy", "certificate_id": h.cert.id, "pin": PIN});
    assert_eq!(
        post(&app, "/v1/passkeys/register/finish", &h.token, finish)
            .await
            .status(),
        201
    );

    let before = app.outbox.count_to(PHONE);
    let (_, pending) = identify(&app, identity("홍길동", "1987-03-14")).await;
    let id = pending["id"].as_str().unwrap().to_owned();
    let code = next_code(&app, before).await;
    let (_, choice) = verify(&app, &id, &code).await;
    let ticket = choice["ticket"].as_str().unwrap().to_owned();

    let start = |cert: uuid::Uuid| json!({"certificate_id": cert, "ticket": ticket});
    let resp = post(&app, "/v1/auth/passkey/start", ANON, start(strangers.id)).await;
    assert_problem(resp, 401, "invalid_ticket").await;
    let started: Value = post(&app, "/v1/auth/passkey/start", ANON, start(h.cert.id))
        .await
        .json()
        .await
        .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin.clone(), options).unwrap();
    let finish =
        json!({"ceremony_id": started["ceremony_id"], "credential": assertion, "ticket": ticket});
    let resp = post(&app, "/v1/auth/passkey/finish", ANON, finish).await;
    assert_eq!(resp.status(), 200);
    let session: Value = resp.json().await.unwrap();
    let token = session["access_token"].as_str().unwrap();
    assert_eq!(get(&app, "/v1/certificates", token).await.status(), 200);

    // Spent: it starts nothing more.
    let resp = post(&app, "/v1/auth/passkey/start", ANON, start(h.cert.id)).await;
    assert_problem(resp, 401, "invalid_ticket").await;
    app.stop().await;
}

/// A user with this customer number, name and phone (born 1987-03-14).
async fn user_with(
    app: &TestApp,
    customer: &str,
    name: &str,
    phone: &str,
) -> fincert::custody::OwnerId {
    let id = fincert::store::enrolment::upsert_user(
        &app.db,
        customer,
        name,
        "1987-03-14",
        phone,
        app.clock.now(),
    )
    .await
    .unwrap();
    fincert::custody::OwnerId::parse(&id).unwrap()
}

/// A holder whose certificates are all suspended cannot sign in, so cannot resume them from a
/// session: sign-in by choosing's ticket and the PIN resume one instead (`POST
/// /v1/auth/resume`) and open a session. The ticket is checked first, then the state (neither
/// costs a PIN attempt), then the PIN; the ticket is spent once; the resumption is audited.
async fn a_suspended_certificate_is_resumed_by_identity(engine: Engine) {
    let app = spawn_app(engine).await;
    let owner = user(&app, "440000000001").await;
    let suspended = cloud_cert(owner.as_str()).issue(&app).await;
    app.pki
        .suspend(&app.db, &owner, suspended.id)
        .await
        .unwrap();
    let active = cloud_cert(owner.as_str()).issue(&app).await;
    let csr = {
        let key = rcgen::KeyPair::generate().unwrap();
        rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .serialize_request(&key)
            .unwrap()
            .der()
            .to_vec()
    };
    let on_device = app
        .pki
        .issue(
            &app.db,
            fincert::pki::IssueRequest {
                owner: owner.clone(),
                holder: fincert::pki::profile::HolderName::parse("홍길동").unwrap(),
                kind: fincert::pki::profile::CertKind::Joint,
                usage: fincert::pki::profile::Usage::General,
                key: fincert::pki::KeySource::Device(&csr),
            },
        )
        .await
        .unwrap();
    app.pki
        .suspend(&app.db, &owner, on_device.id)
        .await
        .unwrap();
    let stranger = user_with(&app, "440000000002", "김철수", "010-9999-0000").await;
    let strangers = cloud_cert(stranger.as_str()).issue(&app).await;
    app.pki
        .suspend(&app.db, &stranger, strangers.id)
        .await
        .unwrap();

    // Suspended: the PIN sign-in is refused, so no session could resume it.
    assert_problem(
        post(
            &app,
            "/v1/auth/pin",
            ANON,
            json!({"certificate_id": suspended.id, "pin": PIN}),
        )
        .await,
        401,
        "wrong_pin",
    )
    .await;

    let before = app.outbox.count_to(PHONE);
    let (_, pending) = identify(&app, identity("홍길동", "1987-03-14")).await;
    let code = next_code(&app, before).await;
    let (status, choice) = verify(&app, pending["id"].as_str().unwrap(), &code).await;
    assert_eq!(status, 200, "{choice}");
    let ticket = choice["ticket"].as_str().unwrap().to_owned();
    let resume =
        |cert: &str, pin: &str| json!({"certificate_id": cert, "pin": pin, "ticket": ticket});
    let wrong_pin = if PIN == "604172" { "731946" } else { "604172" };

    // Bad input: a clear problem, nothing tried.
    for bad in [
        json!({"certificate_id": suspended.id, "pin": "12345", "ticket": ticket}),
        json!({"certificate_id": suspended.id, "pin": PIN}),
        json!({"certificate_id": "not-a-uuid", "pin": PIN, "ticket": ticket}),
        json!({"certificate_id": suspended.id, "pin": PIN, "ticket": ticket, "extra": 1}),
    ] {
        let resp = post(&app, "/v1/auth/resume", ANON, bad.clone()).await;
        assert_eq!(resp.status(), 400, "{bad}");
    }
    // Someone else's certificate: the ticket does not list its holder.
    assert_problem(
        post(
            &app,
            "/v1/auth/resume",
            ANON,
            resume(&strangers.id.to_string(), PIN),
        )
        .await,
        401,
        "invalid_ticket",
    )
    .await;
    // Not suspended, or kept on a device: refused before the PIN is tried.
    assert_problem(
        post(
            &app,
            "/v1/auth/resume",
            ANON,
            resume(&active.id.to_string(), wrong_pin),
        )
        .await,
        409,
        "illegal_transition",
    )
    .await;
    let active_key = active.custody_key_id.unwrap().to_string();
    assert_eq!(
        fincert::store::custody::pin_state(&app.db, &active_key)
            .await
            .unwrap(),
        (0, false),
        "the wrong PIN sent with the 409 was never tried"
    );
    assert_problem(
        post(
            &app,
            "/v1/auth/resume",
            ANON,
            resume(&on_device.id.to_string(), PIN),
        )
        .await,
        422,
        "invalid_key_source",
    )
    .await;
    // A wrong PIN: tries left told (the holder is identified); the ticket is not spent.
    let wrong = assert_problem(
        post(
            &app,
            "/v1/auth/resume",
            ANON,
            resume(&suspended.id.to_string(), wrong_pin),
        )
        .await,
        401,
        "wrong_pin",
    )
    .await;
    assert_eq!(wrong["tries_left"], 4, "{wrong}");
    check_response("post", "/v1/auth/resume", 401, &wrong);

    let resp = post(
        &app,
        "/v1/auth/resume",
        ANON,
        resume(&suspended.id.to_string(), PIN),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let pair: Value = resp.json().await.unwrap();
    check_response("post", "/v1/auth/resume", 200, &pair);
    let token = pair["access_token"].as_str().unwrap();
    let certs: Value = get(&app, "/v1/certificates", token)
        .await
        .json()
        .await
        .unwrap();
    let status_of = |id: uuid::Uuid| {
        certs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id.to_string())
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of(suspended.id), "active");
    assert_eq!(status_of(on_device.id), "suspended");
    // Active again: it signs in by itself, with the id and PIN alone.
    let resp = post(
        &app,
        "/v1/auth/pin",
        ANON,
        json!({"certificate_id": suspended.id, "pin": PIN}),
    )
    .await;
    assert_eq!(resp.status(), 200, "it signs in again by itself");

    // Spent: a second resumption (or sign-in) with the ticket is refused.
    assert_problem(
        post(
            &app,
            "/v1/auth/resume",
            ANON,
            resume(&suspended.id.to_string(), PIN),
        )
        .await,
        401,
        "invalid_ticket",
    )
    .await;
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let resumed = events
        .iter()
        .filter(|e| e.action == "certificate.resumed")
        .collect::<Vec<_>>();
    assert_eq!(resumed.len(), 1);
    assert_eq!(
        resumed[0].subject.as_deref(),
        Some(suspended.serial.as_str())
    );
    assert!(
        events
            .iter()
            .any(|e| e.action == "auth.login" && e.details.contains("\"resumed\":true")),
        "the session says how it began"
    );
    app.stop().await;
}

both_engines!(
    the_ticket_opens_a_chosen_certificate_once,
    an_unknown_person_looks_like_a_known_one,
    bad_input_and_every_refusal,
    a_ticket_chooses_for_the_passkey_sign_in_too,
    a_suspended_certificate_is_resumed_by_identity,
);
