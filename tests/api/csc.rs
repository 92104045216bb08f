//! The CSC API (v1.0.4.0 and v2.0), tested from the specification's examples: the request
//! shapes of its samples, its field names, and its `{error, error_description}` answers.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::Duration;
use fincert::{config::Engine, pki::profile::Usage, signing::institution::Sector};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

/// Calls a CSC method and checks its answer against openapi.yaml (`openapi::check_response`).
async fn csc(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let resp = post(app, path, token, body).await;
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    crate::openapi::check_response("post", path, status, &body);
    (status, body)
}

fn err(v: &Value) -> (&str, &str) {
    (
        v["error"].as_str().unwrap_or(""),
        v["error_description"].as_str().unwrap_or(""),
    )
}

fn sha256(data: &[u8]) -> String {
    fincert::signing::request::Digest::of(data).to_b64()
}

/// The `logo` of `info` is under the public base URL and answers there (on this app) with a
/// certificate: the root CA's.
async fn logo_answers(app: &TestApp, info: &Value) {
    let logo = info["logo"].as_str().unwrap();
    let path = logo
        .strip_prefix(app.settings.pki.public_base_url.as_str())
        .unwrap_or_else(|| panic!("{logo} is under pki.public_base_url"));
    let resp = app.get(path).await;
    assert_eq!(resp.status(), 200, "{logo}");
    assert_eq!(resp.headers()["content-type"], "application/pkix-cert");
    let der = resp.bytes().await.unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("a certificate");
    assert!(
        cert.is_ca() && cert.subject() == cert.issuer(),
        "the root CA"
    );
}

async fn csc_v1_from_the_specification(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330200000001", Usage::General).await;
    let consent_id = consent(&h, &bank).await.id;
    let tok = Some(bank.token.as_str());

    // info: no authentication, `{}` body (spec sample).
    let (status, info) = csc(&app, "/csc/v1/info", None, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(info["specs"], "1.0.4.0");
    for f in [
        "name",
        "logo",
        "region",
        "lang",
        "description",
        "authType",
        "oauth2",
        "methods",
    ] {
        assert!(!info[f].is_null(), "info.{f}");
    }
    assert!(
        info["authType"]
            .as_array()
            .unwrap()
            .contains(&json!("oauth2client"))
    );
    logo_answers(&app, &info).await;
    // oauth2/token under the base URI info gives (JSON body, as v1 clients send it).
    let (status, tokens) = csc(&app, "/csc/v1/oauth2/token", None, json!({"grant_type": "client_credentials", "client_id": bank.client_id, "client_secret": bank.secret})).await;
    assert_eq!(status, 200);
    assert_eq!(tokens["token_type"], "Bearer");

    // credentials/list (spec sample: {"maxResults": 10}).
    let (status, list) = csc(
        &app,
        "/csc/v1/credentials/list",
        tok,
        json!({"maxResults": 10}),
    )
    .await;
    assert_eq!(status, 200);
    let id = h.cert.id.to_string();
    assert_eq!(list["credentialIDs"], json!([id]));
    let (status, none) = csc(&app, "/csc/v1/credentials/list", None, json!({})).await;
    assert_eq!((status, err(&none).0), (401, "invalid_token"));

    // credentials/info (spec sample: chain, certInfo, authInfo).
    let (status, ci) = csc(
        &app,
        "/csc/v1/credentials/info",
        tok,
        json!({"credentialID": id, "certificates": "chain", "certInfo": true, "authInfo": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ci["key"]["status"], "enabled");
    assert_eq!(ci["key"]["len"], 2048);
    assert!(
        ci["key"]["algo"]
            .as_array()
            .unwrap()
            .contains(&json!("1.2.840.113549.1.1.1"))
    );
    assert_eq!(ci["cert"]["status"], "valid");
    assert_eq!(
        ci["cert"]["certificates"].as_array().unwrap().len(),
        3,
        "end entity, intermediate, root"
    );
    assert_eq!(
        STANDARD
            .decode(ci["cert"]["certificates"][0].as_str().unwrap())
            .unwrap(),
        h.cert.der
    );
    assert_eq!(
        ci["cert"]["serialNumber"],
        h.cert.serial.to_ascii_uppercase()
    );
    let valid_to = ci["cert"]["validTo"].as_str().unwrap();
    assert!(
        valid_to.len() == 15 && valid_to.ends_with('Z'),
        "GeneralizedTime YYYYMMDDHHMMSSZ"
    );
    assert_eq!(ci["authMode"], "explicit");
    assert_eq!(
        (ci["PIN"]["presence"].as_str(), ci["PIN"]["format"].as_str()),
        (Some("true"), Some("N"))
    );
    assert!(ci["multisign"].as_u64().unwrap() >= 2);
    for (body, description) in [
        (
            json!({}),
            "Missing (or invalid type) string parameter credentialID",
        ),
        (
            json!({"credentialID": "GX0112348"}),
            "Invalid parameter credentialID",
        ),
        (
            json!({"credentialID": id, "certificates": "all"}),
            "Invalid parameter certificates",
        ),
    ] {
        let (status, e) = csc(&app, "/csc/v1/credentials/info", tok, body).await;
        assert_eq!((status, err(&e)), (400, ("invalid_request", description)));
    }

    // credentials/authorize with two hashes and the PIN (spec sample shape).
    let docs = [b"contract page 1".to_vec(), b"contract page 2".to_vec()];
    let hashes: Vec<String> = docs.iter().map(|d| sha256(d)).collect();
    let authorize = |pin: &str, hashes: &[String], num: i64| json!({"credentialID": id, "numSignatures": num, "hash": hashes, "PIN": pin, "clientData": "12345678"});
    let (status, e) = csc(
        &app,
        "/csc/v1/credentials/authorize",
        tok,
        authorize("135792", &hashes, 2),
    )
    .await;
    assert_eq!(
        (status, err(&e)),
        (400, ("invalid_request", "The PIN is invalid"))
    );
    // The spec's second sample hash is 44 bytes, not a SHA-256.
    let (status, e) = csc(
        &app,
        "/csc/v1/credentials/authorize",
        tok,
        authorize(
            PIN,
            &[
                "sTOgwOm+474gFj0q0x1iSNspKqbcse4IeiqlDg/HWuI=".into(),
                "c1RPZ3dPbSs0NzRnRmowcTB4MWlTTnNwS3FiY3NlNEllaXFsRGcvSFd1ST0=".into(),
            ],
            2,
        ),
    )
    .await;
    assert_eq!((status, err(&e).1), (400, "Invalid digest value length"));
    let (status, e) = csc(
        &app,
        "/csc/v1/credentials/authorize",
        tok,
        authorize(PIN, &hashes, 0),
    )
    .await;
    assert_eq!(
        (status, err(&e).1),
        (400, "Invalid value for parameter numSignatures")
    );
    let (status, e) = csc(
        &app,
        "/csc/v1/credentials/authorize",
        tok,
        authorize(PIN, &hashes, 11),
    )
    .await;
    assert_eq!(
        (status, err(&e).1),
        (400, "Numbers of signatures is too high")
    );
    let (status, sad) = csc(
        &app,
        "/csc/v1/credentials/authorize",
        tok,
        authorize(PIN, &hashes, 2),
    )
    .await;
    assert_eq!(status, 200, "{sad}");
    let sad = sad["SAD"].as_str().unwrap().to_owned();

    // signatures/signHash (spec sample: rsaEncryption + hashAlgo SHA-256).
    let sign = |sad: &str, hashes: &[String]| json!({"credentialID": id, "SAD": sad, "hash": hashes, "hashAlgo": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.1", "clientData": "12345678"});
    let (status, e) = csc(&app, "/csc/v1/signatures/signHash", tok, json!({"credentialID": id, "SAD": sad, "hash": [hashes[0]], "signAlgo": "1.2.840.113549.1.1.1"})).await;
    assert_eq!(
        (status, err(&e).1),
        (400, "Missing (or invalid type) string parameter hashAlgo")
    );
    let (status, e) = csc(
        &app,
        "/csc/v1/signatures/signHash",
        tok,
        sign(&sad, &[sha256(b"other document")]),
    )
    .await;
    assert_eq!(
        (status, err(&e).1),
        (400, "Hash is not authorized by the SAD")
    );
    let (status, e) = csc(
        &app,
        "/csc/v1/signatures/signHash",
        tok,
        sign("forged-sad", &hashes[..1]),
    )
    .await;
    assert_eq!((status, err(&e).1), (400, "Invalid parameter SAD"));
    let (status, out) = csc(
        &app,
        "/csc/v1/signatures/signHash",
        tok,
        sign(&sad, &hashes[..1]),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let spki = x509_parser::parse_x509_certificate(&h.cert.der)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    let sig = STANDARD
        .decode(out["signatures"][0].as_str().unwrap())
        .unwrap();
    assert!(openssl_verify(
        fincert::custody::keys::SignatureScheme::RsaPkcs1Sha256,
        &spki,
        &docs[0],
        &sig
    ));
    // Each hash signs once: a retry of the same hash (a client that timed out) gets the
    // signature already made, never a second one; the other hash still signs.
    let (status, again) = csc(
        &app,
        "/csc/v1/signatures/signHash",
        tok,
        sign(&sad, &hashes[..1]),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["signatures"], out["signatures"],
        "the stored signature"
    );

    // extendTransaction: a new SAD for the rest; the old one stops working.
    let (status, ext) = csc(
        &app,
        "/csc/v1/credentials/extendTransaction",
        tok,
        json!({"credentialID": id, "SAD": sad}),
    )
    .await;
    assert_eq!(status, 200);
    let sad2 = ext["SAD"].as_str().unwrap().to_owned();
    let (status, e) = csc(
        &app,
        "/csc/v1/signatures/signHash",
        tok,
        sign(&sad, &hashes[1..]),
    )
    .await;
    assert_eq!((status, err(&e).1), (400, "Invalid parameter SAD"));
    let (status, out) = csc(
        &app,
        "/csc/v1/signatures/signHash",
        tok,
        sign(&sad2, &hashes[1..]),
    )
    .await;
    assert_eq!(status, 200);
    let sig = STANDARD
        .decode(out["signatures"][0].as_str().unwrap())
        .unwrap();
    assert!(openssl_verify(
        fincert::custody::keys::SignatureScheme::RsaPkcs1Sha256,
        &spki,
        &docs[1],
        &sig
    ));
    // Over-count: the authorization is spent; asking for both hashes at once is more than
    // it ever allowed, and a third hash was never authorized.
    let (status, e) = csc(
        &app,
        "/csc/v1/signatures/signHash",
        tok,
        sign(
            &sad2,
            &[hashes[0].clone(), hashes[1].clone(), sha256(b"third")],
        ),
    )
    .await;
    assert_eq!((status, err(&e).1), (400, "Invalid parameter SAD"));
    let (status, e) = csc(
        &app,
        "/csc/v1/signatures/signHash",
        tok,
        sign(&sad2, &[sha256(b"third")]),
    )
    .await;
    assert_eq!(
        (status, err(&e).1),
        (400, "Hash is not authorized by the SAD")
    );

    // A SAD expires with its activation.
    let (_, sad3) = csc(
        &app,
        "/csc/v1/credentials/authorize",
        tok,
        authorize(PIN, &hashes[..1], 1),
    )
    .await;
    app.clock.advance(Duration::seconds(305));
    let (status, e) = csc(
        &app,
        "/csc/v1/signatures/signHash",
        tok,
        sign(sad3["SAD"].as_str().unwrap(), &hashes[..1]),
    )
    .await;
    assert_eq!((status, err(&e).1), (400, "SAD expired"));

    // A live SAD stops working when the holder withdraws the consent.
    let fresh = [sha256(b"after withdrawal")];
    let (_, sad4) = csc(
        &app,
        "/csc/v1/credentials/authorize",
        tok,
        authorize(PIN, &fresh, 1),
    )
    .await;
    let withdrawn = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/v1/consents/{consent_id}"),
        &h.token,
        None,
        None,
    )
    .await;
    assert_eq!(withdrawn.status(), 204);
    let (status, e) = csc(
        &app,
        "/csc/v1/signatures/signHash",
        tok,
        sign(sad4["SAD"].as_str().unwrap(), &fresh),
    )
    .await;
    assert_eq!((status, err(&e).1), (400, "Invalid parameter credentialID"));
    app.stop().await;
}

async fn csc_v2_from_the_specification(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let broker = institution(&app, "Mirae Securities", Sector::Securities).await;
    let h = holder(&app, "330200000002", Usage::General).await;
    consent(&h, &bank).await;
    let tok = Some(bank.token.as_str());
    let id = h.cert.id.to_string();

    let (status, info) = csc(&app, "/csc/v2/info", None, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(info["specs"], "2.0.0.2");
    logo_answers(&app, &info).await;
    assert!(
        info["signAlgorithms"]["algos"]
            .as_array()
            .unwrap()
            .contains(&json!("1.2.840.113549.1.1.11"))
    );
    // oauth2/token: form-encoded, as v2 requires.
    let resp = app
        .client
        .post(app.url("/csc/v2/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            bank.client_id, bank.secret
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // credentials/list with credentialInfo (spec sample).
    let (status, list) = csc(&app, "/csc/v2/credentials/list", tok, json!({"credentialInfo": true, "certificates": "chain", "certInfo": true, "authInfo": true})).await;
    assert_eq!(status, 200);
    assert_eq!(list["credentialIDs"], json!([id]));
    let info = &list["credentialInfos"][0];
    assert_eq!(info["credentialID"], id);
    assert_eq!(info["auth"]["mode"], "explicit");
    assert_eq!(info["auth"]["objects"][0]["id"], "PIN");
    assert!(info["authMode"].is_null(), "v1 fields are not in v2");
    // Another institution sees no credential and cannot use this one.
    let (_, other) = csc(
        &app,
        "/csc/v2/credentials/list",
        Some(&broker.token),
        json!({}),
    )
    .await;
    assert_eq!(other["credentialIDs"], json!([]));
    let (status, e) = csc(
        &app,
        "/csc/v2/credentials/info",
        Some(&broker.token),
        json!({"credentialID": id}),
    )
    .await;
    assert_eq!((status, err(&e).1), (400, "Invalid parameter credentialID"));

    // credentials/authorize with authData (spec sample shape).
    let hash = sha256(b"v2 document");
    let body = |pin: &str| json!({"credentialID": id, "numSignatures": 1, "hashes": [hash], "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "authData": [{"id": "PIN", "value": pin}], "clientData": "12345678"});
    let (status, e) = csc(&app, "/csc/v2/credentials/authorize", tok, body("135792")).await;
    assert_eq!(
        (status, err(&e)),
        (
            400,
            (
                "invalid_authentication_data",
                "The authentication data is invalid"
            )
        )
    );
    let (status, sad) = csc(&app, "/csc/v2/credentials/authorize", tok, body(PIN)).await;
    assert_eq!(status, 200);
    assert!(sad["expiresIn"].as_i64().unwrap() > 0);
    let sad = sad["SAD"].as_str().unwrap().to_owned();
    // extendTransaction v2: a new SAD for the same authorization.
    let (status, ext) = csc(
        &app,
        "/csc/v2/credentials/extendTransaction",
        tok,
        json!({"credentialID": id, "SAD": sad}),
    )
    .await;
    assert_eq!(status, 200, "{ext}");
    let sad = ext["SAD"].as_str().unwrap().to_owned();
    // signHash v2: sha256WithRSAEncryption, then the SAD is spent.
    let sign = json!({"credentialID": id, "SAD": sad, "hashes": [hash], "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.11"});
    let (status, e) = csc(&app, "/csc/v2/signatures/signHash", tok, json!({"credentialID": id, "SAD": sad, "hashes": [hash], "signAlgo": "1.2.840.10045.4.3.2"})).await;
    assert_eq!(
        (status, err(&e).1),
        (400, "Invalid parameter signAlgo"),
        "ECDSA on an RSA key"
    );
    let (status, out) = csc(&app, "/csc/v2/signatures/signHash", tok, sign.clone()).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["signatures"].as_array().unwrap().len(), 1);
    let (status, again) = csc(&app, "/csc/v2/signatures/signHash", tok, sign).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["signatures"], out["signatures"],
        "a retry gets the one signature the hash has"
    );
    let other = json!({"credentialID": id, "SAD": sad, "hashes": [sha256(b"not authorized")], "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.11"});
    let (status, e) = csc(&app, "/csc/v2/signatures/signHash", tok, other).await;
    assert_eq!(
        (status, err(&e).1),
        (400, "Hash is not authorized by the SAD"),
        "the SAD is spent"
    );

    // A locked PIN: five wrong authorizations lock the credential.
    for _ in 0..5 {
        csc(&app, "/csc/v2/credentials/authorize", tok, body("135792")).await;
    }
    let (status, e) = csc(&app, "/csc/v2/credentials/authorize", tok, body(PIN)).await;
    assert_eq!((status, err(&e).1), (400, "PIN locked"));
    let (_, ci) = csc(
        &app,
        "/csc/v2/credentials/info",
        tok,
        json!({"credentialID": id}),
    )
    .await;
    assert_eq!(ci["key"]["status"], "disabled");
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "signature.created" && e.details.contains("csc"))
    );
    app.stop().await;
}

both_engines!(
    csc_v1_from_the_specification,
    csc_v2_from_the_specification,
    csc_info_refuses_a_body_that_is_not_an_object,
    csc_and_oauth_parameters_of_the_wrong_type_are_refused,
);

/// An optional parameter is absent or of its type: `null`, an object or a number where a
/// string or a boolean belongs is `400 invalid_request` naming it, never read as absent — on
/// `info`, `credentials/list` (both versions) and the token endpoints.
async fn csc_and_oauth_parameters_of_the_wrong_type_are_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let inst = institution(&app, "Wrong Types Bank", Sector::Bank).await;
    let token = Some(inst.token.as_str());
    let cases: [(&str, Option<&str>, Value, &str); 11] = [
        ("/csc/v1/info", None, json!({"lang": {}}), "lang"),
        ("/csc/v2/info", None, json!({"lang": 7}), "lang"),
        ("/csc/v2/info", None, json!({"lang": null}), "lang"),
        (
            "/csc/v1/credentials/list",
            token,
            json!({"pageToken": null}),
            "pageToken",
        ),
        (
            "/csc/v1/credentials/list",
            token,
            json!({"pageToken": 3}),
            "pageToken",
        ),
        (
            "/csc/v1/credentials/list",
            token,
            json!({"maxResults": "5"}),
            "maxResults",
        ),
        (
            "/csc/v1/credentials/list",
            token,
            json!({"maxResults": 0}),
            "maxResults",
        ),
        (
            "/csc/v2/credentials/list",
            token,
            json!({"onlyValid": null}),
            "onlyValid",
        ),
        (
            "/csc/v2/credentials/list",
            token,
            json!({"authInfo": "yes"}),
            "authInfo",
        ),
        (
            "/csc/v2/credentials/list",
            token,
            json!({"certInfo": {}}),
            "certInfo",
        ),
        (
            "/csc/v2/credentials/list",
            token,
            json!({"certificates": 1}),
            "certificates",
        ),
    ];
    for (path, who, body, name) in cases {
        let (status, answer) = csc(&app, path, who, body.clone()).await;
        let (error, description) = err(&answer);
        assert_eq!(
            (status, error),
            (400, "invalid_request"),
            "{path} {body}: {answer}"
        );
        assert!(description.contains(name), "{path} {body}: {answer}");
    }
    // The same bodies with the right types are answered.
    for (path, body) in [
        ("/csc/v1/info", json!({"lang": "en-US"})),
        (
            "/csc/v1/credentials/list",
            json!({"maxResults": 10, "pageToken": "0"}),
        ),
        (
            "/csc/v2/credentials/list",
            json!({"onlyValid": true, "authInfo": true, "certInfo": false}),
        ),
    ] {
        let (status, answer) = csc(&app, path, token, body.clone()).await;
        assert_eq!(status, 200, "{path} {body}: {answer}");
    }
    // A JSON token request: every parameter a string when present.
    for path in [
        "/oauth2/token",
        "/csc/v1/oauth2/token",
        "/csc/v2/oauth2/token",
    ] {
        for body in [
            json!({"grant_type": "client_credentials", "client_id": inst.client_id, "client_secret": inst.secret, "scope": null}),
            json!({"grant_type": "client_credentials", "client_id": inst.client_id, "client_secret": inst.secret, "scope": ["sign"]}),
            json!({"grant_type": null, "client_id": inst.client_id, "client_secret": inst.secret}),
        ] {
            let resp = app
                .client
                .post(app.url(path))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 400, "{path} {body}");
            let answer: Value = resp.json().await.unwrap();
            assert_eq!(
                answer["error"], "invalid_request",
                "{path} {body}: {answer}"
            );
        }
        let ok = json!({"grant_type": "client_credentials", "client_id": inst.client_id, "client_secret": inst.secret});
        let resp = app
            .client
            .post(app.url(path))
            .json(&ok)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
}

/// `info` reads its body like every method: a body that is not a JSON object is
/// `400 invalid_request`; an empty body or `{}` is the service information.
async fn csc_info_refuses_a_body_that_is_not_an_object(engine: Engine) {
    let app = spawn_app(engine).await;
    for path in ["/csc/v1/info", "/csc/v2/info"] {
        for bad in [json!([1]), json!("x"), json!(7), Value::Null] {
            let (status, body) = csc(&app, path, None, bad.clone()).await;
            assert_eq!(
                (status, err(&body).0),
                (400, "invalid_request"),
                "{path} {bad}: {body}"
            );
        }
        let (status, body) = csc(&app, path, None, json!({"lang": "en-US"})).await;
        assert_eq!(status, 200, "{body}");
        let resp = app.client.post(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path} without a body");
    }
}

/// A database outage is an outage on the CSC and OAuth routes: 503 `temporarily_unavailable`
/// with `Retry-After`, never 401 (a CSC client would throw its token away). PostgreSQL: the
/// engine whose database can go away under a running node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csc_outages_are_503_with_retry_after() {
    let mut app = spawn_app(Engine::Postgres).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    app.test_db.drop_now().await;
    let form = json!({"grant_type": "client_credentials", "client_id": bank.client_id, "client_secret": bank.secret});
    let calls = [
        (
            "/csc/v1/credentials/list",
            Some(bank.token.as_str()),
            json!({}),
        ),
        (
            "/csc/v2/credentials/list",
            Some(bank.token.as_str()),
            json!({}),
        ),
        (
            "/csc/v1/credentials/info",
            Some(bank.token.as_str()),
            json!({"credentialID": uuid::Uuid::new_v4()}),
        ),
        ("/csc/v1/oauth2/token", None, form.clone()),
        ("/oauth2/token", None, form),
    ];
    for (path, token, body) in calls {
        let resp = post(&app, path, token, body).await;
        let status = resp.status().as_u16();
        let retry = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            (status, err(&body).0),
            (503, "temporarily_unavailable"),
            "{path}: {body}"
        );
        assert!(
            retry.is_some_and(|r| r.parse::<u64>().is_ok_and(|s| s >= 1)),
            "{path}: Retry-After"
        );
    }
}
