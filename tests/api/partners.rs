//! The production adapters for identity verification and messaging, against a stub partner
//! that checks fincert's request signatures the way a real one would.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use fincert::config::{Adapter, Engine};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

const SECRET: &str = "partner-shared-secret-0123456789";

#[derive(Default)]
struct Seen {
    identity: Vec<Value>,
    messages: Vec<Value>,
}

/// A stub identity service + telecom gateway on a loopback port. Requests without a valid,
/// fresh signature get 401.
async fn stub() -> (String, Arc<Mutex<Seen>>, actix_web::dev::ServerHandle) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let data = web::Data::new(seen.clone());
    let check = |req: &HttpRequest, body: &[u8]| -> bool {
        let ts: i64 = req
            .headers()
            .get("x-fincert-timestamp")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let sig = req
            .headers()
            .get("x-fincert-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        sig == fincert::outbound::signature(SECRET.as_bytes(), ts, body)
    };
    let server = HttpServer::new(move || {
        App::new()
                .app_data(data.clone())
                .route(
                    "/identity",
                    web::post().to(
                        move |req: HttpRequest,
                              body: web::Bytes,
                              seen: web::Data<Arc<Mutex<Seen>>>| async move {
                            if !check(&req, &body) {
                                return HttpResponse::Unauthorized().finish();
                            }
                            let claim: Value = serde_json::from_slice(&body).unwrap();
                            let matched = claim["customer_number"] == "110123456789"
                                && claim["birth_date"] == "1987-03-14";
                            seen.lock().unwrap().identity.push(claim);
                            HttpResponse::Ok().json(json!({ "match": matched }))
                        },
                    ),
                )
                .route(
                    "/messages",
                    web::post().to(
                        move |req: HttpRequest,
                              body: web::Bytes,
                              seen: web::Data<Arc<Mutex<Seen>>>| async move {
                            if !check(&req, &body) {
                                return HttpResponse::Unauthorized().finish();
                            }
                            seen.lock()
                                .unwrap()
                                .messages
                                .push(serde_json::from_slice(&body).unwrap());
                            HttpResponse::Accepted().json(json!({ "queued": true }))
                        },
                    ),
                )
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), seen, handle)
}

async fn app_with_partners(engine: Engine, base: &str, secret: &str) -> TestApp {
    spawn_app_tuned(engine, |s| {
        s.enrolment.identity_verifier = Adapter::Http;
        s.enrolment.identity_url = format!("{base}/identity");
        s.enrolment.identity_secret = secret.into();
        s.enrolment.message_sender = Adapter::Http;
        s.enrolment.message_url = format!("{base}/messages");
        s.enrolment.message_secret = secret.into();
        s.enrolment.partner_timeout_ms = 1000;
        s.validate().unwrap();
    })
    .await
}

/// Identity and codes go through signed HTTP to the partners.
async fn identity_and_codes_go_to_the_partners(engine: Engine) {
    let (base_url, seen, handle) = stub().await;
    let app = app_with_partners(engine, &base_url, SECRET).await;
    let base = start_enrolment(&app, "issue").await;
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
    assert_eq!(
        post(
            &app,
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
            &app,
            &format!("{base}/phone-code"),
            ANON,
            json!({"channel": "sms"})
        )
        .await
        .status(),
        202
    );
    let (claims, messages) = {
        let s = seen.lock().unwrap();
        (s.identity.clone(), s.messages.clone())
    };
    assert_eq!(claims.len(), 2);
    assert_eq!(claims[1]["phone"], "01012345678");
    assert_eq!(messages.len(), 1);
    assert_eq!(
        (messages[0]["to"].as_str(), messages[0]["channel"].as_str()),
        (Some("01012345678"), Some("sms"))
    );
    let code: String = messages[0]["body"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .into();
    let resp = post(
        &app,
        &format!("{base}/phone-code/verify"),
        ANON,
        json!({"code": code}),
    )
    .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["step"], "medium");
    assert!(
        app.outbox.last_to("01012345678").is_none(),
        "nothing went to the development outbox"
    );
    handle.stop(false).await;
}

/// A partner that refuses fincert's signature, or is down, fails the step closed (503) and
/// the step can be retried.
async fn partner_failures_are_503(engine: Engine) {
    let (base_url, seen, handle) = stub().await;
    let app = app_with_partners(engine, &base_url, "a-different-secret-of-enough-length").await;
    let base = start_enrolment(&app, "issue").await;
    let resp = post(
        &app,
        &format!("{base}/identity"),
        ANON,
        identity("1987-03-14"),
    )
    .await;
    assert_problem(resp, 503, "identity_verifier_unavailable").await;
    assert!(
        seen.lock().unwrap().identity.is_empty(),
        "the stub refused the unsigned request"
    );
    handle.stop(false).await;
    let resp = post(
        &app,
        &format!("{base}/identity"),
        ANON,
        identity("1987-03-14"),
    )
    .await;
    assert_problem(resp, 503, "identity_verifier_unavailable").await;
    let state: Value = app.get(&base).await.json().await.unwrap();
    assert_eq!(state["step"], "identity", "nothing moved");
}

both_engines!(
    identity_and_codes_go_to_the_partners,
    partner_failures_are_503
);
