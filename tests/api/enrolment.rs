//! The issuance procedure through the HTTP API: terms, identity, phone code (steps 1–3).

use chrono::Duration;
use fincert::config::Engine;
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn customer(app: &TestApp) {
    fincert::store::enrolment::put_dev_customer(
        &app.db,
        "110123456789",
        "홍길동",
        "1987-03-14",
        "010-1234-5678",
    )
    .await
    .unwrap();
}

/// Every current required terms document, as the client would send it.
async fn required_terms(app: &TestApp) -> Value {
    let terms: Value = app.get("/v1/terms").await.json().await.unwrap();
    let agreed: Vec<Value> = terms["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["required"] == true)
        .map(|d| json!({"code": d["code"], "version": d["version"]}))
        .collect();
    json!({ "agreed": agreed })
}

fn identity(birth: &str) -> Value {
    json!({"name": "홍길동", "birth_date": birth, "phone": "010-1234-5678", "customer_number": "110-123-456789"})
}

fn code_from(app: &TestApp) -> String {
    let msg = app
        .outbox
        .last_to("01012345678")
        .expect("a message was sent");
    msg.body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a 6-digit code")
        .to_string()
}

/// Terms → identity → phone code, with the refusals on the way.
async fn first_three_steps(engine: Engine) {
    let app = spawn_app(engine).await;
    customer(&app).await;
    let resp = post(&app, "/v1/enrolments", json!({"purpose": "issue"})).await;
    assert_eq!(resp.status(), 201);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["step"], "terms");
    let base = format!("/v1/enrolments/{}", e["id"].as_str().unwrap());

    // Step 1: all required terms, current versions.
    assert_problem(
        post(
            &app,
            &format!("{base}/terms"),
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
        post(&app, &format!("{base}/terms"), with_unknown).await,
        422,
        "terms_not_agreed",
    )
    .await;
    let resp = post(&app, &format!("{base}/terms"), all.clone()).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["step"], "identity");
    assert_problem(
        post(&app, &format!("{base}/terms"), all).await,
        409,
        "wrong_step",
    )
    .await;

    // Step 2: the verifier must recognise every detail.
    assert_problem(
        post(&app, &format!("{base}/identity"), identity("1987-03-15")).await,
        422,
        "identity_mismatch",
    )
    .await;
    assert_problem(
        post(&app, &format!("{base}/identity"), identity("1987-02-30")).await,
        400,
        "invalid_json",
    )
    .await;
    assert_problem(
        post(
            &app,
            &format!("{base}/phone-code"),
            json!({"channel": "sms"}),
        )
        .await,
        409,
        "wrong_step",
    )
    .await;
    let resp = post(&app, &format!("{base}/identity"), identity("1987-03-14")).await;
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
        json!({"code": code}),
    )
    .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["step"], "medium");
    assert_problem(
        post(
            &app,
            &format!("{base}/phone-code/verify"),
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
    customer(&app).await;
    let e: Value = post(&app, "/v1/enrolments", json!({"purpose": "reissue"}))
        .await
        .json()
        .await
        .unwrap();
    let base = format!("/v1/enrolments/{}", e["id"].as_str().unwrap());
    post(&app, &format!("{base}/terms"), required_terms(&app).await).await;
    post(&app, &format!("{base}/identity"), identity("1987-03-14")).await;

    assert_problem(
        post(
            &app,
            &format!("{base}/phone-code/verify"),
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
        json!({"channel": "sms"}),
    )
    .await;
    let code = code_from(&app);
    app.clock.advance(Duration::minutes(4));
    assert_problem(
        post(
            &app,
            &format!("{base}/phone-code/verify"),
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

both_engines!(first_three_steps, codes_and_enrolments_expire);
