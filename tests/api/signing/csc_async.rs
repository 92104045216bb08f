//! Asynchronous CSC signing (`operationMode: "A"`): signHash and signDoc answer a
//! `responseID` at once; `signatures/signPolling` answers what the synchronous call would have,
//! on any node and after the node that made it is gone; a `response_uri` gets the same answer,
//! signed like a webhook; results end with their validity period; another institution's are
//! unknown to it.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{config::Engine, pki::profile::Usage, signing::institution::Sector};
use serde_json::{Value, json};

use crate::helpers::*;

const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const RSA_SHA256: &str = "1.2.840.113549.1.1.11";

fn sha256(data: &[u8]) -> String {
    fincert::signing::request::Digest::of(data).to_b64()
}

/// POSTs a CSC method to `base` (a node's address) as `token`; checks the answer against
/// openapi.yaml. Returns the status, the `Retry-After` header and the body.
async fn call(
    app: &TestApp,
    base: &str,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Option<String>, Value) {
    let resp = app
        .client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    crate::openapi::check_response("post", path, status, &body);
    (status, retry, body)
}

/// Polls `id` on `base` until the answer is made (a few seconds at most).
async fn poll(app: &TestApp, base: &str, token: &str, id: &str) -> (u16, Value) {
    for _ in 0..100 {
        let (status, retry, body) = call(
            app,
            base,
            "/csc/v2/signatures/signPolling",
            token,
            json!({"responseID": id}),
        )
        .await;
        if status != 503 {
            return (status, body);
        }
        assert_eq!(retry.as_deref(), Some("1"), "{body}");
        assert_eq!(
            body["error_description"],
            "The signature creation is still in progress"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the asynchronous call {id} was not made in 5 s");
}

pub(super) async fn csc_asynchronous_answers_are_polled_on_any_node(engine: Engine) {
    let app = spawn_app(engine).await;
    let base = app.address.clone();
    let root = app.pki.ca_certificate("root").unwrap().to_vec();
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let broker = institution(&app, "Mirae Securities", Sector::Securities).await;
    let h = holder(&app, "330200000021", Usage::General).await;
    consent(&h, &bank).await;
    let id = h.cert.id.to_string();
    let node_b = spawn_node(&app).await;

    let (_, _, info) = call(&app, &base, "/csc/v2/info", &bank.token, json!({})).await;
    assert!(
        info["methods"]
            .as_array()
            .unwrap()
            .contains(&json!("signatures/signPolling"))
    );

    let statement = b"monthly statement 2026-12".to_vec();
    let contract = b"loan contract signed asynchronously".to_vec();
    let (status, _, sad) = call(&app, &base, "/csc/v2/credentials/authorize", &bank.token, json!({"credentialID": id, "numSignatures": 2, "hashes": [sha256(&statement), sha256(&contract)], "hashAlgorithmOID": SHA256, "authData": [{"id": "PIN", "value": PIN}]})).await;
    assert_eq!(status, 200, "{sad}");
    let sad = sad["SAD"].as_str().unwrap().to_owned();

    // signHash on node B, answered at once; node B makes it, then dies; node A still has it.
    let sign = json!({"credentialID": id, "SAD": sad, "hashes": [sha256(&statement)], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256});
    let mut asynchronous = sign.clone();
    asynchronous["operationMode"] = json!("A");
    asynchronous["validity_period"] = json!(120_000);
    let (status, _, accepted) = call(
        &app,
        &node_b.address,
        "/csc/v2/signatures/signHash",
        &bank.token,
        asynchronous,
    )
    .await;
    assert_eq!(status, 200, "{accepted}");
    let response_id = accepted["responseID"].as_str().unwrap().to_owned();
    assert!(accepted.get("signatures").is_none(), "{accepted}");
    let (status, on_b) = poll(&app, &node_b.address, &bank.token, &response_id).await;
    assert_eq!(status, 200, "{on_b}");
    node_b.kill().await;
    let (status, on_a) = poll(&app, &base, &bank.token, &response_id).await;
    assert_eq!(
        (status, &on_a),
        (200, &on_b),
        "the answer outlives its node"
    );
    let spki = x509_parser::parse_x509_certificate(&h.cert.der)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    let signature = STANDARD
        .decode(on_a["signatures"][0].as_str().unwrap())
        .unwrap();
    assert!(openssl_verify(
        fincert::custody::keys::SignatureScheme::RsaPkcs1Sha256,
        &spki,
        &statement,
        &signature
    ));
    // The synchronous retry gets the very signature: the hash signed once.
    let (status, _, again) = call(
        &app,
        &base,
        "/csc/v2/signatures/signHash",
        &bank.token,
        sign,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["signatures"], on_a["signatures"]);

    // Another institution, or a made-up id: unknown.
    for (token, rid) in [
        (broker.token.as_str(), response_id.as_str()),
        (bank.token.as_str(), "00000000-0000-4000-8000-000000000000"),
    ] {
        let (status, _, e) = call(
            &app,
            &base,
            "/csc/v2/signatures/signPolling",
            token,
            json!({"responseID": rid}),
        )
        .await;
        assert_eq!(
            (status, e["error_description"].as_str()),
            (400, Some("Invalid parameter responseID"))
        );
    }

    // signDoc with a response_uri: polled and delivered, signed like a webhook.
    let (rx, hook_url, hook) = super::receiver::receiver(0).await;
    let doc = json!({"credentialID": id, "SAD": sad, "operationMode": "A", "response_uri": hook_url, "documents": [{"document": STANDARD.encode(&contract), "signature_format": "C", "conformance_level": "Ades-B-B", "signAlgo": RSA_SHA256}]});
    let (status, _, accepted) =
        call(&app, &base, "/csc/v2/signatures/signDoc", &bank.token, doc).await;
    assert_eq!(status, 200, "{accepted}");
    let doc_id = accepted["responseID"].as_str().unwrap().to_owned();
    let (status, polled) = poll(&app, &base, &bank.token, &doc_id).await;
    assert_eq!(status, 200, "{polled}");
    let cms = STANDARD
        .decode(polled["DocumentWithSignature"][0].as_str().unwrap())
        .unwrap();
    let (ok, content) = openssl_cms_verify(&cms, &root, None);
    assert!(ok, "openssl verifies the CMS");
    assert_eq!(content, contract);
    assert_eq!(app.signing.deliver_due(&app.db, 10).await.unwrap(), 1);
    let (signed, body) = rx.signed_with(0, &bank.webhook_secret);
    assert!(signed, "signed with the institution's webhook secret");
    let delivered: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(delivered["responseID"], doc_id.as_str());
    assert_eq!(
        delivered["DocumentWithSignature"],
        polled["DocumentWithSignature"]
    );
    hook.stop(true).await;

    // A call refused while being made answers the synchronous call's error when polled.
    let (status, _, accepted) = call(&app, &base, "/csc/v2/signatures/signHash", &bank.token, json!({"credentialID": id, "SAD": sad, "operationMode": "A", "hashes": [sha256(b"never authorized")], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256})).await;
    assert_eq!(status, 200, "{accepted}");
    let (status, e) = poll(
        &app,
        &base,
        &bank.token,
        accepted["responseID"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some("Hash is not authorized by the SAD"))
    );

    // What is refused before anything is recorded.
    for (extra, description) in [
        (
            json!({"operationMode": "B"}),
            "Invalid parameter operationMode",
        ),
        (
            json!({"operationMode": "A", "validity_period": -1}),
            "Invalid parameter validity_period",
        ),
        (
            json!({"operationMode": "A", "response_uri": "https://10.1.2.3/hook"}),
            "Invalid parameter response_uri",
        ),
        (
            json!({"operationMode": "A", "response_uri": "ftp://bank.example/hook"}),
            "Invalid parameter response_uri",
        ),
        (
            json!({"operationMode": "A", "response_uri": 7}),
            "Missing (or invalid type) string parameter response_uri",
        ),
    ] {
        let mut body = json!({"credentialID": id, "SAD": sad, "hashes": [sha256(&statement)], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, _, e) = call(
            &app,
            &base,
            "/csc/v2/signatures/signHash",
            &bank.token,
            body.clone(),
        )
        .await;
        assert_eq!(
            (status, e["error_description"].as_str()),
            (400, Some(description)),
            "{body}"
        );
    }

    // A call whose node stopped while making it: pending, then said not to have completed.
    let now = fincert::clock::Clock::now(&app.clock);
    fincert::store::signing::insert_async_result(
        &app.db,
        "0f2a5c4e-1b7d-4e8f-9a6b-3c2d1e0f9a8b",
        &bank.id,
        now,
        now + chrono::Duration::minutes(10),
    )
    .await
    .unwrap();
    let orphan = json!({"responseID": "0f2a5c4e-1b7d-4e8f-9a6b-3c2d1e0f9a8b"});
    let (status, retry, _) = call(
        &app,
        &base,
        "/csc/v2/signatures/signPolling",
        &bank.token,
        orphan.clone(),
    )
    .await;
    assert_eq!((status, retry.as_deref()), (503, Some("1")));
    // The validity period ends (120 s asked for the first call): that answer is gone too.
    app.clock.advance(chrono::Duration::seconds(121));
    let (status, _, e) = call(
        &app,
        &base,
        "/csc/v2/signatures/signPolling",
        &bank.token,
        orphan,
    )
    .await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (
            400,
            Some("The signature creation did not complete; sign again with the SAD")
        )
    );
    let (status, _, e) = call(
        &app,
        &base,
        "/csc/v2/signatures/signPolling",
        &bank.token,
        json!({"responseID": response_id}),
    )
    .await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some("Invalid parameter responseID"))
    );
    app.stop().await;
}
