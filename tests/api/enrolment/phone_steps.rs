//! Steps 1–3 of the procedure: terms, identity, the phone code, with the refusals on the way;
//! codes that expire, run out of attempts or are resent; enrolments that expire.

use chrono::Duration;
use fincert::config::Engine;
use fincert_client::proto::enrolment::AgreedTerms;
use serde_json::{Value, json};

use crate::helpers::*;

/// Terms → identity → phone code, with the refusals on the way.
pub(super) async fn first_three_steps(engine: Engine) {
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
    with_unknown.agreed.push(AgreedTerms {
        code: "service".into(),
        version: 9,
    });
    assert_problem(
        post(&app, &format!("{base}/terms"), ANON, body(&with_unknown)).await,
        422,
        "terms_not_agreed",
    )
    .await;
    let resp = post(&app, &format!("{base}/terms"), ANON, body(&all)).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["step"], "identity");
    assert_problem(
        post(&app, &format!("{base}/terms"), ANON, body(&all)).await,
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
    // Which media the customer holds is told only at the medium step, after the phone code.
    assert_problem(app.get(&format!("{base}/media")).await, 409, "wrong_step").await;
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
pub(super) async fn codes_and_enrolments_expire(engine: Engine) {
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
