//! Sole control by passkey PRF: a passkey registered with its authenticator's PRF output gets a
//! copy of the key that the database, the KMS and the credential id together do not open; the
//! authenticator's output over the slot's salt does. SoftPasskey has no PRF, so the test plays
//! the authenticator's part (CTAP hmac-secret as WebAuthn's `prf` exposes it: HMAC-SHA256
//! under a secret only the device holds, over SHA-256("WebAuthn PRF" ‖ 0x00 ‖ salt)); the
//! Chromium walk uses the virtual authenticator's real PRF (`hasPrf`).

use aws_lc_rs::{digest, hmac};
use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64URL},
};
use fincert::{
    config::Engine,
    custody::{CustodyError, Prf, Unlock},
    pki::profile::Usage,
    signing::institution::Sector,
};
use serde_json::{Value, json};
use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use super::created;
use crate::helpers::*;

/// The device's PRF: what only the holder's authenticator can compute.
struct DevicePrf([u8; 32]);

impl DevicePrf {
    fn eval(&self, salt: &[u8]) -> [u8; 32] {
        let mut input = b"WebAuthn PRF\x00".to_vec();
        input.extend_from_slice(salt);
        let salt = digest::digest(&digest::SHA256, &input);
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &self.0), salt.as_ref());
        tag.as_ref().try_into().unwrap()
    }

    /// The output over a base64url salt, base64url (as a ceremony's answer carries it).
    fn answer(&self, salt_b64: &Value) -> String {
        B64URL.encode(self.eval(&B64URL.decode(salt_b64.as_str().unwrap()).unwrap()))
    }
}

pub(super) async fn a_prf_bound_passkey_alone_opens_its_copy_of_the_key(engine: Engine) {
    let app = spawn_app(engine).await;
    let origin = Url::parse(PASSKEY_ORIGIN).unwrap();
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000041", Usage::General).await;
    consent(&h, &bank).await;
    let mut phone = SoftPasskey::new(true);
    let device = DevicePrf([0x5a; 32]);

    // Registration asks the authenticator for its PRF over a fresh salt.
    let started: Value = post(&app, "/v1/passkeys/register/start", &h.token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let salt = &started["prf"]["eval"]["first"];
    assert_eq!(B64URL.decode(salt.as_str().unwrap()).unwrap().len(), 32);
    let options: CreationChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let credential = phone.do_registration(origin.clone(), options).unwrap();
    let finish = |prf: &str| json!({"ceremony_id": started["ceremony_id"], "credential": credential, "name": "Galaxy", "certificate_id": h.cert.id, "pin": PIN, "prf": prf});
    // Not a PRF output: refused before the ceremony is spent.
    let resp = post(
        &app,
        "/v1/passkeys/register/finish",
        &h.token,
        finish("c2hvcnQ"),
    )
    .await;
    assert_problem(resp, 400, "invalid_json").await;
    let resp = post(
        &app,
        "/v1/passkeys/register/finish",
        &h.token,
        finish(&device.answer(salt)),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let view: Value = resp.json().await.unwrap();
    assert_eq!(
        (&view["bound_to_key"], &view["sole_control"]),
        (&json!(true), &json!(true))
    );
    let listed: Value = get(&app, "/v1/passkeys", &h.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["sole_control"], true, "{listed}");
    // A second passkey, from an authenticator without PRF: today's binding, marked as such.
    let _plain = bound_passkey(&app, &h.token, h.cert.id).await;
    let listed: Value = get(&app, "/v1/passkeys", &h.token)
        .await
        .json()
        .await
        .unwrap();
    let mut marks: Vec<bool> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["sole_control"].as_bool().unwrap())
        .collect();
    marks.sort();
    assert_eq!(marks, [false, true], "{listed}");
    // An institution's CSC client sees the same in credentials/info.
    let resp = post(
        &app,
        "/csc/v2/credentials/info",
        Some(bank.token.as_str()),
        json!({"credentialID": h.cert.id.to_string()}),
    )
    .await;
    let info: Value = resp.json().await.unwrap();
    crate::openapi::check_response("post", "/csc/v2/credentials/info", 200, &info);
    assert_eq!(info["passkeys"], json!({"bound": 2, "soleControl": 1}));

    // The database, the KMS and the credential id do not open the key; the device does.
    let key = app
        .pki
        .signing_key(&app.db, &h.owner, h.cert.id)
        .await
        .unwrap();
    let slots = fincert::store::custody::slots_of(&app.db, &key.to_string())
        .await
        .unwrap();
    let slot = slots
        .iter()
        .find(|s| s.prf_salt.is_some())
        .expect("a PRF slot");
    let stored_salt: [u8; 32] = slot.prf_salt.clone().unwrap().try_into().unwrap();
    assert_eq!(B64URL.encode(stored_salt), salt.as_str().unwrap());
    let cred = B64URL.decode(credential.id.as_str()).unwrap();
    let c = &app.custody;
    let alone = c
        .activate_with_passkey(&app.db, &h.owner, key, &cred, None)
        .await;
    assert!(
        matches!(alone, Err(CustodyError::PasskeyNotBound)),
        "{alone:?}"
    );
    let prf = |output: [u8; 32]| Prf {
        salt: stored_salt,
        output: zeroize::Zeroizing::new(output),
    };
    let wrong = prf([7; 32]);
    let guessed = c
        .activate_once(
            &app.db,
            &h.owner,
            key,
            Unlock::Passkey(&cred, Some(&wrong)),
            Some(1),
        )
        .await;
    assert!(
        matches!(guessed, Err(CustodyError::PasskeyNotBound)),
        "{guessed:?}"
    );
    let right = prf(device.eval(&stored_salt));
    let (opened, _) = c
        .activate_once(
            &app.db,
            &h.owner,
            key,
            Unlock::Passkey(&cred, Some(&right)),
            Some(1),
        )
        .await
        .unwrap();
    c.activations().remove(opened.id);

    // Over HTTP: the approval ceremony names the salt for this credential; the assertion
    // alone is refused, with the device's PRF output it signs.
    let req = created(&app, &bank, json!({"certificate_id": h.cert.id, "digests": [STANDARD.encode([9u8; 32])], "display_text": "Pay 10,000 KRW"})).await;
    let path = |step: &str| {
        format!(
            "/v1/approvals/{}/passkey/{step}",
            req["id"].as_str().unwrap()
        )
    };
    let mut approve = async |with_prf: bool| {
        let ceremony: Value = post(&app, &path("start"), &h.token, json!({}))
            .await
            .json()
            .await
            .unwrap();
        let salt = &ceremony["prf"]["evalByCredential"][credential.id.as_str()]["first"];
        assert_eq!(
            salt.as_str(),
            Some(B64URL.encode(stored_salt).as_str()),
            "{ceremony}"
        );
        let options: RequestChallengeResponse =
            serde_json::from_value(ceremony["options"].clone()).unwrap();
        let assertion = phone.do_authentication(origin.clone(), options).unwrap();
        let mut body = json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion});
        if with_prf {
            body["prf"] = json!(device.answer(salt));
        }
        post(&app, &path("finish"), &h.token, body).await
    };
    let refused = approve(false).await;
    assert_problem(refused, 401, "passkey_not_bound").await;
    let signed = approve(true).await;
    assert_eq!(signed.status(), 200);
    assert_eq!(signed.json::<Value>().await.unwrap()["status"], "signed");
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "key.passkey_bound" && e.details.contains(r#""prf":true"#))
    );
    app.stop().await;
}
