//! Sign-in with a PIN, sessions, and the access-token rules, through the HTTP API.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use chrono::Duration;
use fincert::{config::Engine, custody::OwnerId};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

async fn login(app: &TestApp, cert: &str, pin: &str) -> reqwest::Response {
    post(
        app,
        "/v1/auth/pin",
        ANON,
        json!({"certificate_id": cert, "pin": pin}),
    )
    .await
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    get(app, "/v1/certificates", token).await
}

fn b64(v: &Value) -> String {
    B64URL.encode(v.to_string())
}

/// PIN sign-in, the session it opens, and an independent check of the token with the JWKS.
async fn pin_sign_in_opens_a_session(engine: Engine) {
    let app = spawn_app(engine).await;
    let cert = cloud_cert("user-auth").issue(&app).await;
    let id = cert.id.to_string();

    assert_problem(login(&app, &id, "111112").await, 401, "wrong_pin").await;
    assert_problem(
        login(&app, &uuid::Uuid::new_v4().to_string(), "482915").await,
        401,
        "wrong_pin",
    )
    .await;
    assert_problem(login(&app, &id, "48291").await, 400, "invalid_json").await;
    let resp = post(
        &app,
        "/v1/auth/pin",
        ANON,
        json!({"certificate_id": id, "pin": 482915}),
    )
    .await;
    let body = assert_problem(resp, 400, "invalid_json").await;
    assert!(
        !body.to_string().contains("482915"),
        "the PIN is never echoed: {body}"
    );

    let resp = login(&app, &id, "482915").await;
    assert_eq!(resp.status(), 200);
    let pair: Value = resp.json().await.unwrap();
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 300);
    let token = pair["access_token"].as_str().unwrap().to_string();

    let resp = me(&app, &token).await;
    assert_eq!(resp.status(), 200);
    let mine: Value = resp.json().await.unwrap();
    assert_eq!(mine["items"][0]["serial"], cert.serial.as_str());
    assert_eq!(mine["items"][0]["status"], "active");
    assert_eq!(mine["fees_charged_krw"], 4400);

    let resp = app.get("/v1/certificates").await;
    assert_eq!(
        resp.headers().get("www-authenticate").unwrap(),
        "Bearer error=\"invalid_token\""
    );
    assert_problem(resp, 401, "invalid_token").await;

    // Someone else's verifier: the published JWKS and jsonwebtoken's own validation.
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).expect("the token's key is published");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["fincert"]);
    validation.set_issuer(&[app.settings.pki.public_base_url.as_str()]);
    let data = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap();
    assert_eq!(data.claims["sub"], "user-auth");
    assert_eq!(data.claims["amr"], json!(["pin"]));
}

/// Forged, re-signed, unsigned, algorithm-confused and expired tokens are all refused.
async fn forged_and_expired_tokens_are_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let cert = cloud_cert("user-forge").issue(&app).await;
    let pair: Value = login(&app, &cert.id.to_string(), "482915")
        .await
        .json()
        .await
        .unwrap();
    let token = pair["access_token"].as_str().unwrap().to_string();
    assert_eq!(me(&app, &token).await.status(), 200);
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&B64URL.decode(parts[0]).unwrap()).unwrap();
    let mut claims: Value = serde_json::from_slice(&B64URL.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("user-victim");

    let mut forged = Vec::new();
    // The payload changed under the original signature.
    forged.push(format!("{}.{}.{}", parts[0], b64(&claims), parts[2]));
    // alg: none, no signature.
    forged.push(format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": header["kid"]})),
        b64(&claims)
    ));
    // Algorithm confusion: HS256 keyed with the published public key.
    let jwks = app
        .get("/.well-known/jwks.json")
        .await
        .text()
        .await
        .unwrap();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = header["kid"].as_str().map(str::to_owned);
    forged.push(
        jsonwebtoken::encode(
            &hs,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(jwks.as_bytes()),
        )
        .unwrap(),
    );
    // An unknown key id.
    let mut other = header.clone();
    other["kid"] = json!("fc-unknown");
    forged.push(format!("{}.{}.{}", b64(&other), parts[1], parts[2]));
    // Garbage.
    forged.push("not.a.jwt".into());
    for t in forged {
        assert_problem(me(&app, &t).await, 401, "invalid_token").await;
    }
    // Expired by the service clock (5-minute tokens, 30 s leeway).
    app.clock.advance(Duration::minutes(6));
    assert_problem(me(&app, &token).await, 401, "invalid_token").await;
}

/// Refresh tokens rotate, a reused one revokes the whole session, logout ends it.
async fn refresh_rotates_and_reuse_revokes(engine: Engine) {
    let app = spawn_app(engine).await;
    let cert = cloud_cert("user-rt").issue(&app).await;
    let first: Value = login(&app, &cert.id.to_string(), "482915")
        .await
        .json()
        .await
        .unwrap();
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let refresh = |rt: String| {
        let app = &app;
        async move { post(app, "/v1/auth/refresh", ANON, json!({"refresh_token": rt})).await }
    };

    let resp = refresh(rt1.clone()).await;
    assert_eq!(resp.status(), 200);
    let second: Value = resp.json().await.unwrap();
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    assert_eq!(
        me(&app, second["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );

    // rt1 again: reuse. The whole family goes, rt2 included.
    assert_problem(refresh(rt1).await, 401, "refresh_token_reused").await;
    assert_problem(refresh(rt2).await, 401, "invalid_refresh_token").await;
    assert_problem(
        refresh("rt_made-up".into()).await,
        401,
        "invalid_refresh_token",
    )
    .await;

    let third: Value = login(&app, &cert.id.to_string(), "482915")
        .await
        .json()
        .await
        .unwrap();
    let rt3 = third["refresh_token"].as_str().unwrap().to_string();
    let resp = post(&app, "/v1/auth/logout", ANON, json!({"refresh_token": rt3})).await;
    assert_eq!(resp.status(), 204);
    assert_problem(refresh(rt3).await, 401, "invalid_refresh_token").await;
    for action in [
        fincert::audit::Action::LoggedIn,
        fincert::audit::Action::RefreshTokenReused,
        fincert::audit::Action::LoggedOut,
    ] {
        assert!(
            !fincert::store::audit::by_action(&app.db, action, 5)
                .await
                .unwrap()
                .is_empty(),
            "{action:?} audited"
        );
    }
}

/// Five wrong PINs at sign-in lock the certificate's PIN: the right one is then refused, and
/// (without a selection ticket, which would identify the holder) exactly like a wrong PIN.
async fn sign_in_respects_the_lockout(engine: Engine) {
    let app = spawn_app(engine).await;
    let cert = cloud_cert("user-lock").issue(&app).await;
    let id = cert.id.to_string();
    for _ in 0..5 {
        assert_problem(login(&app, &id, "000001").await, 401, "wrong_pin").await;
    }
    assert_problem(login(&app, &id, "482915").await, 401, "wrong_pin").await;
    let key = cert.custody_key_id.unwrap().to_string();
    assert_eq!(
        fincert::store::custody::pin_state(&app.db, &key)
            .await
            .unwrap(),
        (5, true)
    );
    // A suspended certificate cannot sign in at all (and says nothing more).
    let cert2 = cloud_cert("user-lock2").issue(&app).await;
    app.pki
        .suspend(&app.db, &OwnerId::parse("user-lock2").unwrap(), cert2.id)
        .await
        .unwrap();
    assert_problem(
        login(&app, &cert2.id.to_string(), "482915").await,
        401,
        "wrong_pin",
    )
    .await;
}

both_engines!(
    pin_sign_in_opens_a_session,
    forged_and_expired_tokens_are_refused,
    refresh_rotates_and_reuse_revokes,
    sign_in_respects_the_lockout,
);
