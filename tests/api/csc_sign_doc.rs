//! CSC 2.0.0.2 `signatures/signDoc`: CAdES-B-B over documents and document digests, judged by
//! pyHanko (ETSI EN 319 102-1 basic validation, the CAdES-B-B attributes) and by
//! `openssl cms -verify`; each authorized hash signs once (a retry gets the same bytes, the
//! other method is refused); what is not offered is refused naming its parameter.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{config::Engine, pki::profile::Usage, signing::institution::Sector};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const SIGN_DOC: &str = "/csc/v2/signatures/signDoc";

/// Calls a CSC method and checks its answer against openapi.yaml.
async fn csc(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = post(app, path, Some(token), body).await;
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    crate::openapi::check_response("post", path, status, &body);
    (status, body)
}

fn sha256(data: &[u8]) -> String {
    fincert::signing::request::Digest::of(data).to_b64()
}

fn decoded(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

/// pyHanko's verdict is CAdES-B-B: passed, intact, valid, trusted, nothing required missing.
fn assert_baseline_b(verdict: &Value, what: &str) {
    assert_eq!(verdict["indication"], "PASSED", "{what}: {verdict}");
    for flag in ["intact", "valid", "trusted", "issuer_serial", "baseline_b"] {
        assert_eq!(verdict[flag], true, "{what}: {flag} in {verdict}");
    }
    assert_eq!(verdict["signing_certificate_v2"], "matches", "{what}");
    assert_eq!(verdict["missing"], json!([]), "{what}");
}

async fn sign_doc_makes_cades_baseline_b(engine: Engine) {
    let app = spawn_app(engine).await;
    let root = app.pki.ca_certificate("root").unwrap().to_vec();
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let broker = institution(&app, "Mirae Securities", Sector::Securities).await;
    let h = holder(&app, "330200000018", Usage::General).await;
    consent(&h, &bank).await;
    consent(&h, &broker).await;
    let id = h.cert.id.to_string();

    // info tells what signDoc makes; v1 has no signDoc.
    let (status, info) = csc(&app, "/csc/v2/info", &bank.token, json!({})).await;
    assert_eq!(status, 200);
    assert!(
        info["methods"]
            .as_array()
            .unwrap()
            .contains(&json!("signatures/signDoc"))
    );
    assert_eq!(info["signature_formats"]["formats"], json!(["C"]));
    assert_eq!(
        info["signature_formats"]["envelope_properties"],
        json!([["Detached", "Attached"]])
    );
    assert_eq!(info["conformance_levels"], json!(["Ades-B-B", "Ades-B"]));
    let (_, v1) = csc(&app, "/csc/v1/info", &bank.token, json!({})).await;
    assert!(
        !v1["methods"]
            .as_array()
            .unwrap()
            .contains(&json!("signatures/signDoc"))
    );

    let contract = b"loan contract 2026-12, 50,000,000 KRW".to_vec();
    let terms = b"terms of the loan, version 3".to_vec();
    let page = b"page 1 of the disclosure, hashed by the bank".to_vec();
    let by_hash = b"a hash signHash will sign".to_vec();
    let authorized = [&contract, &terms, &page, &by_hash].map(|d| sha256(d));
    let (status, sad) = csc(&app, "/csc/v2/credentials/authorize", &bank.token, json!({"credentialID": id, "numSignatures": 4, "hashes": authorized, "hashAlgorithmOID": SHA256, "authData": [{"id": "PIN", "value": PIN}]})).await;
    assert_eq!(status, 200, "{sad}");
    let sad = sad["SAD"].as_str().unwrap().to_owned();

    let body = json!({
        "credentialID": id,
        "SAD": sad,
        "documentDigests": [{"hashes": [sha256(&page)], "hashAlgorithmOID": SHA256, "signature_format": "C", "conformance_level": "Ades-B-B", "signAlgo": RSA_SHA256}],
        "documents": [
            {"document": STANDARD.encode(&contract), "signature_format": "C", "conformance_level": "AdES-B-B", "signAlgo": RSA_SHA256, "signed_envelope_property": "Attached"},
            {"document": STANDARD.encode(&terms), "signature_format": "C", "conformance_level": "Ades-B", "signAlgo": RSA_SHA256, "signed_envelope_property": "Detached"},
        ],
        "returnValidationInfo": true,
        "clientData": "loan 2026-12-0042",
    });
    let (status, out) = csc(&app, SIGN_DOC, &bank.token, body.clone()).await;
    assert_eq!(status, 200, "{out}");
    let attached = out["DocumentWithSignature"].as_array().unwrap();
    let detached = out["SignatureObject"].as_array().unwrap();
    assert_eq!((attached.len(), detached.len()), (1, 2));
    assert!(out["validationInfo"]["ocsp"].is_array(), "{out}");

    // The attached CMS carries the contract; the detached ones verify against their content
    // only.
    let cms = decoded(&attached[0]);
    assert_baseline_b(&cades_verdict(&cms, &root, None), "attached");
    let (ok, content) = openssl_cms_verify(&cms, &root, None);
    assert!(ok, "openssl verifies the attached CMS");
    assert_eq!(content, contract);
    for (sig, doc, what) in [
        (&detached[0], &page, "the digest"),
        (&detached[1], &terms, "the detached document"),
    ] {
        let cms = decoded(sig);
        assert_baseline_b(&cades_verdict(&cms, &root, Some(doc)), what);
        assert!(openssl_cms_verify(&cms, &root, Some(doc)).0, "{what}");
        let other = cades_verdict(&cms, &root, Some(b"other content"));
        assert_eq!(other["subindication"], "HASH_FAILURE", "{what}: {other}");
    }

    // A retry answers the same signatures: nothing is signed twice.
    let (status, again) = csc(&app, SIGN_DOC, &bank.token, body.clone()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["DocumentWithSignature"], out["DocumentWithSignature"]);
    assert_eq!(again["SignatureObject"], out["SignatureObject"]);

    // One method per hash: signHash then signDoc of the same hash, and the reverse, refused.
    let sign_hash = |hash: &str| json!({"credentialID": id, "SAD": sad, "hashes": [hash], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256});
    let (status, raw) = csc(
        &app,
        "/csc/v2/signatures/signHash",
        &bank.token,
        sign_hash(&sha256(&by_hash)),
    )
    .await;
    assert_eq!(status, 200, "{raw}");
    let other_method = "Hash was already signed by the other signing method";
    let (status, e) = csc(&app, SIGN_DOC, &bank.token, json!({"credentialID": id, "SAD": sad, "documents": [{"document": STANDARD.encode(&by_hash), "signature_format": "C", "signAlgo": RSA_SHA256}]})).await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some(other_method))
    );
    let (status, e) = csc(
        &app,
        "/csc/v2/signatures/signHash",
        &bank.token,
        sign_hash(&sha256(&page)),
    )
    .await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some(other_method))
    );
    // A document the holder did not authorize, and another institution's use of the SAD.
    let (status, e) = csc(&app, SIGN_DOC, &bank.token, json!({"credentialID": id, "SAD": sad, "documents": [{"document": STANDARD.encode(b"a contract nobody saw"), "signature_format": "C", "signAlgo": RSA_SHA256}]})).await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some("Hash is not authorized by the SAD"))
    );
    let (status, e) = csc(&app, SIGN_DOC, &broker.token, body).await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some("Invalid parameter SAD"))
    );

    // Each signature audited once, as CAdES, with the hash it spent.
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let cades: Vec<_> = events
        .iter()
        .filter(|e| e.action == "signature.created" && e.details.contains(r#""form":"cades""#))
        .collect();
    assert_eq!(cades.len(), 1, "one call signed the three documents");
    for doc in [&contract, &terms, &page] {
        let hex = fincert::signing::request::Digest::of(doc).to_hex();
        assert!(cades[0].details.contains(&hex), "{}", cades[0].details);
    }
    app.stop().await;
}

/// What signDoc does not offer is refused before the SAD is looked at, naming the parameter
/// as CSC words it; nothing is spent.
async fn sign_doc_refuses_what_it_does_not_offer(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330200000019", Usage::General).await;
    consent(&h, &bank).await;
    let id = h.cert.id.to_string();
    let doc = STANDARD.encode(b"a contract");
    let (status, sad) = csc(&app, "/csc/v2/credentials/authorize", &bank.token, json!({"credentialID": id, "numSignatures": 1, "hashes": [sha256(b"a contract")], "hashAlgorithmOID": SHA256, "authData": [{"id": "PIN", "value": PIN}]})).await;
    assert_eq!(status, 200, "{sad}");
    let sad = sad["SAD"].as_str().unwrap().to_owned();
    let document = |extra: Value| {
        let mut d = json!({"document": doc, "signature_format": "C", "signAlgo": RSA_SHA256});
        d.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"credentialID": id, "SAD": sad, "documents": [d]})
    };
    let digest = |extra: Value| {
        let mut d = json!({"hashes": [sha256(b"a contract")], "hashAlgorithmOID": SHA256, "signature_format": "C", "signAlgo": RSA_SHA256});
        d.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"credentialID": id, "SAD": sad, "documentDigests": [d]})
    };
    let with = |mut body: Value, extra: Value| {
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let cases = [
        (
            document(json!({"signature_format": "P"})),
            "Invalid parameter signature_format",
        ),
        (
            document(json!({"signature_format": "X"})),
            "Invalid parameter signature_format",
        ),
        (
            document(json!({"conformance_level": "Ades-B-LT"})),
            "Invalid parameter conformance_level",
        ),
        (
            document(json!({"conformance_level": "Ades-B-T"})),
            "Invalid parameter conformance_level",
        ),
        (
            document(json!({"signed_envelope_property": "Parallel"})),
            "Invalid parameter signed_envelope_property",
        ),
        (
            document(
                json!({"signed_props": [{"attribute_name": "commitment-type", "attribute_value": "x"}]}),
            ),
            "Invalid parameter signed_props",
        ),
        (
            document(json!({"document": "not base64!"})),
            "Invalid Base64 document string parameter",
        ),
        (
            document(json!({"hashAlgorithmOID": "1.3.14.3.2.26"})),
            "Invalid parameter hashAlgorithmOID",
        ),
        (
            document(json!({"signAlgo": "1.2.3.4"})),
            "Invalid parameter signAlgo",
        ),
        (
            digest(json!({"signed_envelope_property": "Attached"})),
            "Invalid parameter signed_envelope_property",
        ),
        (
            digest(json!({"hashAlgorithmOID": "1.3.14.3.2.26"})),
            "Invalid parameter hashAlgorithmOID",
        ),
        (digest(json!({"hashes": []})), "Empty hash array"),
        (
            with(document(json!({})), json!({"operationMode": "X"})),
            "Invalid parameter operationMode",
        ),
        (
            with(document(json!({})), json!({"validity_period": "soon"})),
            "Invalid parameter validity_period",
        ),
        (
            with(
                document(json!({})),
                json!({"documentDigests": [{"hashes": [sha256(b"x")], "hashAlgorithmOID": SHA256, "signature_format": "C", "signAlgo": "1.2.840.10045.4.3.2"}]}),
            ),
            "Invalid parameter signAlgo: every document of one call takes the same",
        ),
        (
            json!({"credentialID": id, "SAD": sad}),
            "Missing (or invalid type) array parameter documentDigests or documents",
        ),
        (
            json!({"credentialID": id, "SAD": sad, "documents": {"document": doc}}),
            "Missing (or invalid type) array parameter documents",
        ),
        (
            json!({"credentialID": id, "SAD": sad, "documents": ["a string"]}),
            "Invalid parameter documents",
        ),
        (
            json!({"SAD": sad, "documents": []}),
            "Missing (or invalid type) string parameter credentialID",
        ),
    ];
    for (body, description) in cases {
        let (status, e) = csc(&app, SIGN_DOC, &bank.token, body.clone()).await;
        assert_eq!(
            (status, e["error"].as_str(), e["error_description"].as_str()),
            (400, Some("invalid_request"), Some(description)),
            "{body}"
        );
    }
    // Nothing was spent: the one authorized document still signs.
    let (status, out) = csc(&app, SIGN_DOC, &bank.token, document(json!({}))).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["DocumentWithSignature"].as_array().unwrap().len(), 1);
    assert!(out.get("SignatureObject").is_none(), "{out}");
    app.stop().await;
}

/// Without `signature_format`, signDoc makes raw signatures (what signHash makes over the same
/// hashes), in `SignatureObject`: over a client's digest and over a document's SHA-256, each
/// verified by openssl; signHash of the same hash answers the same bytes; a level or envelope
/// named for a raw entry, or raw and CAdES in one call, is refused.
async fn sign_doc_without_a_format_signs_raw(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330200000020", Usage::General).await;
    consent(&h, &bank).await;
    let id = h.cert.id.to_string();
    let (page, contract) = (b"a page the bank hashed".to_vec(), b"a contract".to_vec());
    let (status, sad) = csc(&app, "/csc/v2/credentials/authorize", &bank.token, json!({"credentialID": id, "numSignatures": 2, "hashes": [sha256(&page), sha256(&contract)], "hashAlgorithmOID": SHA256, "authData": [{"id": "PIN", "value": PIN}]})).await;
    assert_eq!(status, 200, "{sad}");
    let sad = sad["SAD"].as_str().unwrap().to_owned();
    let digest =
        json!({"hashes": [sha256(&page)], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256});
    let document = json!({"document": STANDARD.encode(&contract), "signAlgo": RSA_SHA256});
    for (extra, description) in [
        (
            json!({"conformance_level": "Ades-B-B"}),
            "Invalid parameter conformance_level",
        ),
        (
            json!({"signed_envelope_property": "Detached"}),
            "Invalid parameter signed_envelope_property",
        ),
    ] {
        let mut d = digest.clone();
        d.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, e) = csc(
            &app,
            SIGN_DOC,
            &bank.token,
            json!({"credentialID": id, "SAD": sad, "documentDigests": [d]}),
        )
        .await;
        assert_eq!(
            (status, e["error_description"].as_str()),
            (400, Some(description))
        );
    }
    let mut cades = document.clone();
    cades["signature_format"] = json!("C");
    let (status, e) = csc(
        &app,
        SIGN_DOC,
        &bank.token,
        json!({"credentialID": id, "SAD": sad, "documentDigests": [digest], "documents": [cades]}),
    )
    .await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (
            400,
            Some("Invalid parameter signature_format: every document of one call takes the same")
        )
    );

    let (status, out) = csc(&app, SIGN_DOC, &bank.token, json!({"credentialID": id, "SAD": sad, "documentDigests": [digest], "documents": [document]})).await;
    assert_eq!(status, 200, "{out}");
    assert!(out.get("DocumentWithSignature").is_none(), "{out}");
    let raw = out["SignatureObject"].as_array().unwrap();
    assert_eq!(raw.len(), 2);
    let spki = x509_parser::parse_x509_certificate(&h.cert.der)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    for (sig, signed) in [(&raw[0], &page), (&raw[1], &contract)] {
        assert!(openssl_verify(
            fincert::custody::keys::SignatureScheme::RsaPkcs1Sha256,
            &spki,
            signed,
            &decoded(sig)
        ));
    }
    let (status, again) = csc(&app, "/csc/v2/signatures/signHash", &bank.token, json!({"credentialID": id, "SAD": sad, "hashes": [sha256(&page)], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["signatures"][0], raw[0],
        "one signature per hash, whichever method asks"
    );
    app.stop().await;
}

both_engines!(
    sign_doc_makes_cades_baseline_b,
    sign_doc_refuses_what_it_does_not_offer,
    sign_doc_without_a_format_signs_raw,
);
