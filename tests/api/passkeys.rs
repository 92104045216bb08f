//! Passkeys end to end through the HTTP API with a software authenticator (user verification
//! on), as kanidm tests them.

use fincert::{
    config::Engine,
    custody::{CustodyError, OwnerId},
    domain::pin::Pin,
    pki::{
        IssueRequest, KeySource,
        profile::{CertKind, HolderName, Usage},
    },
};
use serde_json::{Value, json};
use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use crate::{both_engines, helpers::*};

fn origin() -> Url {
    Url::parse("http://localhost:8080").unwrap()
}

async fn passkeys_register_sign_in_and_remove(engine: Engine) {
    let app = spawn_app(engine).await;
    // A user known to the service (so the new device can be announced to their phone).
    let user = fincert::store::enrolment::upsert_user(
        &app.db,
        "330123456789",
        "홍길동",
        "1987-03-14",
        "01012345678",
        fincert::clock::Clock::now(&app.clock),
    )
    .await
    .unwrap();
    let owner = OwnerId::parse(&user).unwrap();
    let cert = app
        .pki
        .issue(
            &app.db,
            IssueRequest {
                owner: owner.clone(),
                holder: HolderName::parse("홍길동").unwrap(),
                kind: CertKind::Financial,
                usage: Usage::Restricted,
                key: KeySource::Cloud(&Pin::parse("482915").unwrap()),
            },
        )
        .await
        .unwrap();
    let login: Value = app
        .client
        .post(app.url("/v1/auth/pin"))
        .json(&json!({"certificate_id": cert.id, "pin": "482915"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    let post = |path: &str, body: Value, bearer: Option<&str>| {
        let mut req = app.client.post(app.url(path)).json(&body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap() }
    };

    // Registration, bound to the certificate's key (the PIN opens it once).
    let mut phone = SoftPasskey::new(true);
    let started: Value = post("/v1/passkeys/register/start", json!({}), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let options: CreationChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let credential = phone.do_registration(origin(), options).unwrap();
    let finish = json!({"ceremony_id": started["ceremony_id"], "credential": credential, "name": "Galaxy", "certificate_id": cert.id, "pin": "482915"});
    let resp = post("/v1/passkeys/register/finish", finish.clone(), Some(&token)).await;
    assert_eq!(resp.status(), 201);
    let view: Value = resp.json().await.unwrap();
    assert_eq!(
        (view["name"].as_str(), view["bound_to_key"].as_bool()),
        (Some("Galaxy"), Some(true))
    );
    assert_problem(
        post("/v1/passkeys/register/finish", finish, Some(&token)).await,
        409,
        "webauthn_challenge_spent",
    )
    .await;
    let announced = app
        .outbox
        .last_to("01012345678")
        .expect("the new device is announced");
    assert!(announced.body.contains("Galaxy"));
    let listed: Value = app
        .client
        .get(app.url("/v1/passkeys"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // Sign-in with the passkey; the assertion cannot be replayed.
    let started: Value = post(
        "/v1/auth/passkey/start",
        json!({"certificate_id": cert.id}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin(), options).unwrap();
    let finish = json!({"ceremony_id": started["ceremony_id"], "credential": assertion});
    let resp = post("/v1/auth/passkey/finish", finish.clone(), None).await;
    assert_eq!(resp.status(), 200);
    let session: Value = resp.json().await.unwrap();
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(
        session["access_token"].as_str().unwrap(),
    )
    .unwrap()
    .claims;
    assert_eq!(claims["amr"], json!(["passkey"]));
    assert_eq!(claims["sub"], user.as_str());
    assert_problem(
        post("/v1/auth/passkey/finish", finish, None).await,
        409,
        "webauthn_challenge_spent",
    )
    .await;

    // Another authenticator's answer to a fresh challenge does not verify.
    let mut stranger = SoftPasskey::new(true);
    let started: Value = post(
        "/v1/auth/passkey/start",
        json!({"certificate_id": cert.id}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    assert!(
        stranger.do_authentication(origin(), options).is_err(),
        "it holds no credential for this site"
    );

    // The passkey's custody copy opens the key (to approve signatures).
    let cred_id = stored_credential_id(&app).await;
    app.custody
        .activate_with_passkey(
            &app.db,
            &owner,
            cert.custody_key_id.unwrap(),
            &cred_id,
            Some(1),
        )
        .await
        .unwrap();

    // Removal takes the custody copy too; a holder with no passkey cannot start a passkey sign-in.
    let resp = app
        .client
        .delete(app.url(&format!("/v1/passkeys/{}", view["id"].as_str().unwrap())))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let err = app
        .custody
        .activate_with_passkey(
            &app.db,
            &owner,
            cert.custody_key_id.unwrap(),
            &cred_id,
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CustodyError::PasskeyNotBound));
    assert_problem(
        post(
            "/v1/auth/passkey/start",
            json!({"certificate_id": cert.id}),
            None,
        )
        .await,
        401,
        "wrong_pin",
    )
    .await;
    assert_problem(
        app.client
            .delete(app.url(&format!("/v1/passkeys/{}", view["id"].as_str().unwrap())))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        404,
        "passkey_not_found",
    )
    .await;
}

/// The credential id of the (only) stored passkey, from the database.
async fn stored_credential_id(app: &TestApp) -> Vec<u8> {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    use sea_orm::{ConnectionTrait, Statement};
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT credential_id FROM passkeys",
        ))
        .await
        .unwrap()
        .unwrap();
    URL_SAFE_NO_PAD
        .decode(row.try_get_by_index::<String>(0).unwrap())
        .unwrap()
}

both_engines!(passkeys_register_sign_in_and_remove);
