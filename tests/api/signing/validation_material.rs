//! Validation material with every signature (PAdES-B-LT / CAdES-LT without a second round
//! trip): the native result and CSC v2 `signHash` with `returnValidationInfo` carry the
//! signer's chain, an OCSP response and the CA levels' CRLs, which openssl verifies offline
//! against the root alone; after a revocation no material ever says `good`.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{
    clock::Clock,
    config::Engine,
    pki::{lifecycle::RevocationReason, profile::Usage, x509::pem_certificate},
    signing::institution::Sector,
};
use serde_json::{Value, json};

use super::{approve_pin, created};
use crate::helpers::*;

/// What openssl says of one piece of validation material, offline.
struct Verdict {
    /// `openssl ocsp -respin` (the response's signature, and the signer's status line).
    ocsp: String,
    /// Whether `openssl verify -crl_check` (the signer's CRL) passed, with its output.
    leaf_crl: (bool, String),
    /// Whether `openssl verify -crl_check_all` passed, with its output.
    full_crl: (bool, String),
    /// Whether the issuing CA names a CRL of the root (a CRL distribution point).
    issuing_has_cdp: bool,
}

fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn decode_all(v: &Value) -> Vec<Vec<u8>> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|s| STANDARD.decode(s.as_str().unwrap()).unwrap())
        .collect()
}

/// Verifies `info` (the `validationInfo` / `validation_info` object) for `leaf` with openssl
/// in a scratch directory holding nothing but it and the root (no network, no fincert code).
fn judge(app: &TestApp, info: &Value, leaf: &[u8]) -> Verdict {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let certs = decode_all(&info["certificates"]);
    let crls = decode_all(&info["crl"]);
    let ocsp = decode_all(&info["ocsp"]);
    assert_eq!(certs[0], leaf, "the signer certificate first");
    let root = app.pki.ca_certificate("root").unwrap();
    assert_eq!(certs[2], root, "then the issuing CA, then the root");
    assert_eq!(
        certs[1],
        app.pki.ca_certificate("issuing").unwrap(),
        "the issuing CA"
    );
    assert_eq!(ocsp.len(), 1, "one OCSP response for the signer");
    assert!(!crls.is_empty(), "the CA levels' CRLs");
    // The trust anchor comes from the CA itself, not from the material.
    std::fs::write(d.join("root.pem"), pem_certificate(root)).unwrap();
    std::fs::write(d.join("leaf.pem"), pem_certificate(&certs[0])).unwrap();
    std::fs::write(d.join("issuing.pem"), pem_certificate(&certs[1])).unwrap();
    std::fs::write(d.join("ocsp.der"), &ocsp[0]).unwrap();
    let mut crl_pems = String::new();
    for (i, crl) in crls.iter().enumerate() {
        let name = format!("crl{i}.der");
        std::fs::write(d.join(&name), crl).unwrap();
        let (ok, out) = run(d, &["crl", "-inform", "DER", "-in", &name]);
        assert!(ok, "openssl reads CRL {i}: {out}");
        crl_pems.push_str(&out);
    }
    std::fs::write(d.join("crls.pem"), crl_pems).unwrap();
    let at = app.clock.now().timestamp().to_string();
    let verify = |flag: &str| {
        run(
            d,
            &[
                "verify",
                "-attime",
                &at,
                "-CAfile",
                "root.pem",
                "-untrusted",
                "issuing.pem",
                flag,
                "-CRLfile",
                "crls.pem",
                "leaf.pem",
            ],
        )
    };
    let (_, ocsp_out) = run(
        d,
        &[
            "ocsp",
            "-respin",
            "ocsp.der",
            "-issuer",
            "issuing.pem",
            "-cert",
            "leaf.pem",
            "-CAfile",
            "root.pem",
            "-verify_other",
            "issuing.pem",
            "-no_nonce",
            "-resp_text",
        ],
    );
    let (_, issuing_text) = run(d, &["x509", "-in", "issuing.pem", "-noout", "-text"]);
    Verdict {
        ocsp: ocsp_out,
        leaf_crl: verify("-crl_check"),
        full_crl: verify("-crl_check_all"),
        issuing_has_cdp: issuing_text.contains("CRL Distribution Points"),
    }
}

/// A good signer: the OCSP response verifies under the root and says good; the chain and the
/// CRLs verify with `-crl_check`, and with `-crl_check_all` (the root's ARL is in the material).
fn assert_good(app: &TestApp, info: &Value, leaf: &[u8]) {
    let v = judge(app, info, leaf);
    assert!(v.ocsp.contains("Response verify OK"), "{}", v.ocsp);
    assert!(v.ocsp.contains("leaf.pem: good"), "{}", v.ocsp);
    assert!(v.leaf_crl.0, "openssl verify -crl_check: {}", v.leaf_crl.1);
    // The issuing CA points to the root's ARL, and the material carries it: the whole path
    // verifies offline.
    assert!(
        v.issuing_has_cdp,
        "the issuing CA has no CRL distribution point"
    );
    assert!(
        v.full_crl.0,
        "openssl verify -crl_check_all: {}",
        v.full_crl.1
    );
}

/// A revoked signer: whatever the material is, it never says good, and says revoked.
fn assert_revoked(app: &TestApp, info: &Value, leaf: &[u8]) {
    let v = judge(app, info, leaf);
    assert!(v.ocsp.contains("Response verify OK"), "{}", v.ocsp);
    assert!(
        v.ocsp.contains("leaf.pem: revoked") && !v.ocsp.contains("leaf.pem: good"),
        "{}",
        v.ocsp
    );
    assert!(
        !v.leaf_crl.0 && v.leaf_crl.1.contains("certificate revoked"),
        "{}",
        v.leaf_crl.1
    );
}

async fn signed_view(app: &TestApp, inst: &Inst, id: &str) -> Value {
    let path = format!("/v1/signature-requests/{id}");
    let resp = get(app, &path, &inst.token).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    crate::openapi::check_response("get", "/v1/signature-requests/{id}", 200, &body);
    body
}

/// The native result carries the material (always, on GET); after a revocation, a signature
/// attempt fails or its material says revoked, and the earlier signature's does too.
pub(super) async fn native_result_carries_validation_material(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000031", Usage::General).await;
    consent(&h, &bank).await;
    let digest = fincert::signing::request::Digest::of(b"loan contract").to_b64();
    let ask = |text: &str| json!({"certificate_id": h.cert.id, "digests": [digest], "display_text": text});
    let first = created(&app, &bank, ask("Loan contract 1")).await;
    let second = created(&app, &bank, ask("Loan contract 2")).await;
    assert_eq!(approve_pin(&app, &h, &first, PIN).await.status(), 200);
    let view = signed_view(&app, &bank, first["id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "signed");
    let info = &view["result"]["validation_info"];
    assert!(info.is_object(), "{view}");
    assert_good(&app, info, &h.cert.der);
    // Not while pending: there is no signature to validate.
    let pending = signed_view(&app, &bank, second["id"].as_str().unwrap()).await;
    assert!(pending["result"].is_null());

    app.pki
        .revoke(
            &app.db,
            &h.owner,
            h.cert.id,
            RevocationReason::KeyCompromise,
        )
        .await
        .unwrap();
    // In the same second: the attempt fails, or what slipped in says revoked.
    let approved = approve_pin(&app, &h, &second, PIN).await;
    if approved.status() == 200 {
        let view = signed_view(&app, &bank, second["id"].as_str().unwrap()).await;
        assert_revoked(&app, &view["result"]["validation_info"], &h.cert.der);
    } else {
        assert!(approved.status().is_client_error(), "{}", approved.status());
    }
    // The earlier signature's material is built fresh: it says revoked now, never good.
    let view = signed_view(&app, &bank, first["id"].as_str().unwrap()).await;
    assert_revoked(&app, &view["result"]["validation_info"], &h.cert.der);
    app.stop().await;
}

async fn csc(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = post(app, path, Some(token), body).await;
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    crate::openapi::check_response("post", path, status, &body);
    (status, body)
}

/// CSC v2 signHash answers `validationInfo` when `returnValidationInfo` asks (and only then);
/// a signature that slips in after a revocation carries material that says revoked.
pub(super) async fn csc_v2_sign_hash_returns_validation_info(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000032", Usage::General).await;
    consent(&h, &bank).await;
    let id = h.cert.id.to_string();
    let hashes: Vec<String> = ["page 1", "page 2", "page 3", "page 4"]
        .iter()
        .map(|p| fincert::signing::request::Digest::of(p.as_bytes()).to_b64())
        .collect();
    let (status, sad) = csc(
        &app,
        "/csc/v2/credentials/authorize",
        &bank.token,
        json!({"credentialID": id, "numSignatures": 4, "hashes": hashes, "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "authData": [{"id": "PIN", "value": PIN}]}),
    )
    .await;
    assert_eq!(status, 200, "{sad}");
    let sad = sad["SAD"].as_str().unwrap().to_owned();
    let sign = |hash: &str, flag: Option<Value>| {
        let mut b = json!({"credentialID": id, "SAD": sad, "hashes": [hash], "signAlgo": "1.2.840.113549.1.1.11"});
        if let Some(f) = flag {
            b["returnValidationInfo"] = f;
        }
        b
    };
    let path = "/csc/v2/signatures/signHash";
    // Without the flag (or with false): signatures only, as before.
    let (status, out) = csc(&app, path, &bank.token, sign(&hashes[0], None)).await;
    assert_eq!(status, 200, "{out}");
    assert!(out.get("validationInfo").is_none(), "{out}");
    let (status, out) = csc(
        &app,
        path,
        &bank.token,
        sign(&hashes[1], Some(json!(false))),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert!(out.get("validationInfo").is_none(), "{out}");
    let (status, e) = csc(
        &app,
        path,
        &bank.token,
        sign(&hashes[2], Some(json!("yes"))),
    )
    .await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some("Invalid parameter returnValidationInfo"))
    );
    // With it: the material, good, verified offline.
    let (status, out) = csc(&app, path, &bank.token, sign(&hashes[2], Some(json!(true)))).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["signatures"].as_array().unwrap().len(), 1);
    assert_good(&app, &out["validationInfo"], &h.cert.der);

    // Revoked behind this node's back (another node, or an operator's SQL: no cache epoch
    // this node has seen yet, no CRL re-signed): its cached checks still let the next
    // signature through, and that signature's material, read from the database after its
    // commit, says revoked, on the OCSP response and on the CRL.
    revoke_behind_the_caches(&app, h.cert.id).await;
    let (status, out) = csc(&app, path, &bank.token, sign(&hashes[3], Some(json!(true)))).await;
    assert_eq!(
        status, 200,
        "the node's cached checks let it through: {out}"
    );
    assert_revoked(&app, &out["validationInfo"], &h.cert.der);
    // A retry of a hash signed before the revocation: never a good answer either.
    let (status, out) = csc(&app, path, &bank.token, sign(&hashes[2], Some(json!(true)))).await;
    assert_eq!(status, 200, "{out}");
    assert_revoked(&app, &out["validationInfo"], &h.cert.der);
    app.stop().await;
}

/// Marks a certificate revoked (keyCompromise, now) with plain SQL, as an operator would:
/// no cache epoch moves and no CRL is signed.
async fn revoke_behind_the_caches(app: &TestApp, id: uuid::Uuid) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = 1 WHERE id = $2"
        }
        _ => {
            "UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = 1 WHERE id = ?"
        }
    };
    let res = app
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [app.clock.now().into(), id.to_string().into()],
        ))
        .await
        .unwrap();
    assert_eq!(res.rows_affected(), 1);
}

/// CSC 1.0.4.0 has no validation-info parameter: v1 answers signatures only, whatever is sent.
pub(super) async fn csc_v1_sign_hash_has_no_validation_info(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000033", Usage::General).await;
    consent(&h, &bank).await;
    let id = h.cert.id.to_string();
    let hash = fincert::signing::request::Digest::of(b"v1 page").to_b64();
    let (status, sad) = csc(
        &app,
        "/csc/v1/credentials/authorize",
        &bank.token,
        json!({"credentialID": id, "numSignatures": 1, "hash": [hash], "PIN": PIN}),
    )
    .await;
    assert_eq!(status, 200, "{sad}");
    let (status, out) = csc(
        &app,
        "/csc/v1/signatures/signHash",
        &bank.token,
        json!({"credentialID": id, "SAD": sad["SAD"], "hash": [hash], "signAlgo": "1.2.840.113549.1.1.11", "returnValidationInfo": true}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert!(out.get("validationInfo").is_none(), "{out}");
    app.stop().await;
}
