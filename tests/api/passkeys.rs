//! Passkeys end to end through the HTTP API with a software authenticator (user verification
//! on), as kanidm tests them.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use fincert::{config::Engine, custody::CustodyError, pki::profile::Usage};
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
    let Holder {
        owner, cert, token, ..
    } = holder(&app, "330123456789", Usage::Restricted).await;
    let user = owner.as_str().to_owned();

    // Registration, bound to the certificate's key (the PIN opens it once).
    let mut phone = SoftPasskey::new(true);
    let started: Value = post(&app, "/v1/passkeys/register/start", &token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let options: CreationChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let credential = phone.do_registration(origin(), options).unwrap();
    let finish = json!({"ceremony_id": started["ceremony_id"], "credential": credential, "name": "Galaxy", "certificate_id": cert.id, "pin": "482915"});
    let resp = post(&app, "/v1/passkeys/register/finish", &token, finish.clone()).await;
    assert_eq!(resp.status(), 201);
    let view: Value = resp.json().await.unwrap();
    assert_eq!(
        (view["name"].as_str(), view["bound_to_key"].as_bool()),
        (Some("Galaxy"), Some(true))
    );
    assert_problem(
        post(&app, "/v1/passkeys/register/finish", &token, finish).await,
        409,
        "webauthn_challenge_spent",
    )
    .await;
    let announced = app
        .outbox
        .last_to("01012345678")
        .expect("the new device is announced");
    assert!(announced.body.contains("Galaxy"));
    let listed: Value = get(&app, "/v1/passkeys", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // Sign-in with the passkey; the assertion cannot be replayed.
    let started: Value = post(
        &app,
        "/v1/auth/passkey/start",
        ANON,
        json!({"certificate_id": cert.id}),
    )
    .await
    .json()
    .await
    .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin(), options).unwrap();
    let finish = json!({"ceremony_id": started["ceremony_id"], "credential": assertion});
    let resp = post(&app, "/v1/auth/passkey/finish", ANON, finish.clone()).await;
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
        post(&app, "/v1/auth/passkey/finish", ANON, finish).await,
        409,
        "webauthn_challenge_spent",
    )
    .await;

    // Another authenticator's answer to a fresh challenge does not verify.
    let mut stranger = SoftPasskey::new(true);
    let started: Value = post(
        &app,
        "/v1/auth/passkey/start",
        ANON,
        json!({"certificate_id": cert.id}),
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
    let passkey = format!("/v1/passkeys/{}", view["id"].as_str().unwrap());
    let resp = call(&app, reqwest::Method::DELETE, &passkey, &token, None, None).await;
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
    // Starting still answers (a decoy: no oracle, see `no_oracle`), but it offers none of the
    // holder's credentials, so the phone has nothing to answer with.
    let started: Value = post(
        &app,
        "/v1/auth/passkey/start",
        ANON,
        json!({"certificate_id": cert.id}),
    )
    .await
    .json()
    .await
    .unwrap();
    let allowed = &started["options"]["publicKey"]["allowCredentials"];
    assert_ne!(
        allowed[0]["id"],
        json!(B64URL.encode(&cred_id)),
        "{allowed}"
    );
    let options: RequestChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    assert!(phone.do_authentication(origin(), options).is_err());
    assert_problem(
        call(&app, reqwest::Method::DELETE, &passkey, &token, None, None).await,
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
