//! An imported key works like an issued one: consent, PIN sign-in, native approval (raw and
//! CMS) and CSC signHash, with its usage from the issuer's policy; openssl verifies every
//! signature against the foreign chain. A hostile PKCS#12 (1,000,000 iterations) is refused
//! before any KDF runs, and the node keeps answering.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{
    config::Engine, custody::keys::SignatureScheme, pki::profile::Usage,
    signing::institution::Sector,
};
use serde_json::{Value, json};

use super::{ForeignCa, app_trusting};
use crate::{both_engines, helpers::*};

/// `holder.p12` of leaf `name` (with the intermediate), under `password`, with `extra` args.
pub(crate) fn export_p12(ca: &ForeignCa, name: &str, password: &str, extra: &[&str]) -> Vec<u8> {
    let (key, pem, out) = (
        format!("{name}.key"),
        format!("{name}.pem"),
        format!("{name}.p12"),
    );
    let pass = format!("pass:{password}");
    let mut args = vec![
        "pkcs12",
        "-export",
        "-inkey",
        &key,
        "-in",
        &pem,
        "-certfile",
        "ca.pem",
        "-out",
        &out,
        "-passout",
        &pass,
    ];
    args.extend_from_slice(extra);
    ca.run(&args);
    ca.read(&out)
}

/// A signed-in holder of the imported certificate `id` (PIN [`PIN`]).
pub(super) async fn imported_holder(
    app: &TestApp,
    owner: fincert::custody::OwnerId,
    id: uuid::Uuid,
) -> Holder {
    let token = sign_in(app, id).await;
    let cert = app.pki.certificate(&app.db, &owner, id).await.unwrap();
    Holder {
        owner,
        cert,
        api: app.api.with_token(token.clone()),
        token,
    }
}

/// Creates a request as `inst` (fresh idempotency key); 201 expected.
pub(super) async fn created(app: &TestApp, inst: &Inst, body: Value) -> Value {
    let key = uuid::Uuid::new_v4().to_string();
    let resp = call(
        app,
        reqwest::Method::POST,
        "/v1/signature-requests",
        &inst.token,
        Some(body),
        Some(&key),
    )
    .await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    resp.json().await.unwrap()
}

/// The holder approves `req` with [`PIN`]; returns the signed request.
pub(super) async fn approved(app: &TestApp, h: &Holder, req: &Value) -> Value {
    let resp = post(
        app,
        &format!("/v1/approvals/{}/approve", req["id"].as_str().unwrap()),
        &h.token,
        json!({"pin": PIN, "request_digest": req["request_digest"]}),
    )
    .await;
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let signed: Value = resp.json().await.unwrap();
    assert_eq!(signed["status"], "signed");
    signed
}

fn b64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

/// Consent, sign-in, native raw and CMS signing and CSC signHash with an imported key:
/// signatures verify with openssl against the foreign root, and the usage of the issuer's
/// policy decides which institutions may ask.
pub(super) async fn sign_with_imported(app: &TestApp, ca: &ForeignCa, h: &Holder, usage: Usage) {
    let root = {
        ca.run(&[
            "x509", "-in", "root.pem", "-outform", "DER", "-out", "root.der",
        ]);
        ca.read("root.der")
    };
    let bank = institution(app, "Imported Bank", Sector::Bank).await;
    let public = institution(app, "Gov24", Sector::Public).await;
    assert_eq!(consent_response(app, h, &bank).await.status(), 201);
    let to_public = consent_response(app, h, &public).await;
    if usage == Usage::Restricted {
        assert_problem(to_public, 403, "usage_not_permitted").await;
    } else {
        assert_eq!(to_public.status(), 201);
    }

    // Native approval, raw: the result names the foreign chain, no fincert OCSP or CRL.
    let content = b"transfer 50,000 KRW".to_vec();
    let req = created(app, &bank, json!({"certificate_id": h.cert.id, "content": STANDARD.encode(&content), "display_text": "Transfer 50,000 KRW"})).await;
    let signed = approved(app, h, &req).await;
    let result = &signed["result"];
    assert_eq!(b64(&result["certificate"]), h.cert.der);
    assert_eq!(
        result["chain"].as_array().unwrap().len(),
        1,
        "the intermediate"
    );
    let spki = x509_parser::parse_x509_certificate(&h.cert.der)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    assert!(openssl_verify(
        SignatureScheme::RsaPkcs1Sha256,
        &spki,
        &content,
        &b64(&result["signatures"][0])
    ));
    let got: Value = get(
        app,
        &format!("/v1/signature-requests/{}", req["id"].as_str().unwrap()),
        &bank.token,
    )
    .await
    .json()
    .await
    .unwrap();
    let info = &got["result"]["validation_info"];
    assert_eq!(
        info["certificates"].as_array().unwrap().len(),
        2,
        "leaf and intermediate: {info}"
    );
    assert_eq!(
        info["ocsp"].as_array().unwrap().len(),
        0,
        "fincert does not speak for another CA"
    );
    assert_eq!(info["crl"].as_array().unwrap().len(), 0);

    // CMS detached: openssl follows leaf → foreign intermediate (embedded) → foreign root.
    let doc = b"loan agreement".to_vec();
    let digest = fincert::signing::request::Digest::of(&doc).to_b64();
    let req = created(app, &bank, json!({"certificate_id": h.cert.id, "digests": [digest], "display_text": "Sign the loan agreement", "format": "cms-detached"})).await;
    let signed = approved(app, h, &req).await;
    let cms = b64(&signed["result"]["signatures"][0]);
    assert!(
        openssl_cms_verify(&cms, &root, Some(&doc)).0,
        "CMS verifies against the foreign root"
    );
    let ours = app.pki.ca_certificate("root").unwrap().to_vec();
    assert!(
        !openssl_cms_verify(&cms, &ours, Some(&doc)).0,
        "not against fincert's root"
    );

    // CSC v1: credentials/list shows it, authorize with the PIN, signHash.
    let tok = Some(bank.token.as_str());
    let listed: Value = post(app, "/csc/v1/credentials/list", tok, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let id = h.cert.id.to_string();
    assert!(
        listed["credentialIDs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == &json!(id)),
        "{listed}"
    );
    let info: Value = post(
        app,
        "/csc/v1/credentials/info",
        tok,
        json!({"credentialID": id, "certificates": "chain"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        info["cert"]["certificates"].as_array().unwrap().len(),
        2,
        "{info}"
    );
    let hash = fincert::signing::request::Digest::of(b"pdf page").to_b64();
    let auth = post(
        app,
        "/csc/v1/credentials/authorize",
        tok,
        json!({"credentialID": id, "numSignatures": 1, "hash": [hash], "PIN": PIN}),
    )
    .await;
    assert_eq!(auth.status(), 200);
    let sad = auth.json::<Value>().await.unwrap()["SAD"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = post(app, "/csc/v1/signatures/signHash", tok, json!({"credentialID": id, "SAD": sad, "hash": [hash], "hashAlgo": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.1"})).await;
    assert_eq!(out.status(), 200);
    let out: Value = out.json().await.unwrap();
    assert!(openssl_verify(
        SignatureScheme::RsaPkcs1Sha256,
        &spki,
        b"pdf page",
        &b64(&out["signatures"][0])
    ));
}

async fn imported_pkcs12_works_like_an_issued_certificate(engine: Engine) {
    let ca = ForeignCa::new();
    ca.leaf("holder", "1.2.410.200005.1.1.4");
    let p12 = export_p12(&ca, "holder", "p12-pw", &[]);
    let app = app_trusting(engine, &ca).await;
    let who = user(&app, "330900000101").await;

    // Before: no sign-in for an unknown id; after the import, the PIN signs in with it.
    let view = app
        .pki
        .import_pkcs12(&app.db, &who, &p12, "p12-pw", &pin(PIN))
        .await
        .unwrap();
    assert_eq!(view.usage, Usage::Restricted);
    assert!(
        app.api.sign_in(view.id, "111111").await.is_err(),
        "a wrong PIN fails"
    );
    let h = imported_holder(&app, who, view.id).await;
    let shown: Value = get(&app, &format!("/v1/certificates/{}", view.id), &h.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["renewal_open"], false, "{shown}");
    // The lifecycle is the foreign CA's: fincert does not renew or revoke it.
    assert_eq!(
        post(
            &app,
            &format!("/v1/certificates/{}/renew", view.id),
            &h.token,
            json!({"pin": PIN})
        )
        .await
        .status(),
        404
    );
    sign_with_imported(&app, &ca, &h, Usage::Restricted).await;
}

/// A PKCS#12 whose every iteration count is 1,000,000 is refused (422 `kdf_too_costly`) before
/// any KDF runs, while `/healthz` keeps answering.
async fn hostile_pkcs12_is_refused_before_the_kdf(engine: Engine) {
    let ca = ForeignCa::new();
    ca.leaf("hostile", "1.2.410.200005.1.1.4");
    let p12 = export_p12(
        &ca,
        "hostile",
        "pw",
        &["-iter", "1000000", "-macalg", "sha256"],
    );
    let app = app_trusting(engine, &ca).await;
    let ours = cloud_cert("user-hostile").issue(&app).await;
    let token = sign_in(&app, ours.id).await;
    let body = json!({"pkcs12": STANDARD.encode(&p12), "password": "pw", "pin": "604172"});
    let keys_before = fincert::store::custody::count_keys(&app.db).await.unwrap();
    let started = std::time::Instant::now();
    let (upload, health) = tokio::join!(
        post(&app, "/v1/foreign-certificates/pkcs12", &token, body),
        async {
            let t = std::time::Instant::now();
            let ok = app.get("/healthz").await.status().is_success();
            (ok, t.elapsed())
        }
    );
    eprintln!(
        "hostile PKCS#12 refused in {:?}; /healthz meanwhile {:?}",
        started.elapsed(),
        health.1
    );
    let p = assert_problem(upload, 422, "kdf_too_costly").await;
    assert!(!p.to_string().contains("pw\""), "no password in the answer");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "refused before the KDF: {:?}",
        started.elapsed()
    );
    assert!(
        health.0 && health.1 < std::time::Duration::from_millis(500),
        "{health:?}"
    );
    assert_eq!(
        fincert::store::custody::count_keys(&app.db).await.unwrap(),
        keys_before,
        "nothing stored"
    );
}

both_engines!(
    imported_pkcs12_works_like_an_issued_certificate,
    hostile_pkcs12_is_refused_before_the_kdf
);
