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
pub(super) fn assert_good(app: &TestApp, info: &Value, leaf: &[u8]) {
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
pub(super) fn assert_revoked(app: &TestApp, info: &Value, leaf: &[u8]) {
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

pub(super) async fn signed_view(app: &TestApp, inst: &Inst, id: &str) -> Value {
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

pub(super) async fn csc(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
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

/// The bodies `receiver` got, parsed, each checked against its `X-Fincert-Signature` and
/// against the webhook schema of openapi.yaml.
fn webhook_bodies(rx: &super::receiver::Receiver, inst: &Inst) -> Vec<Value> {
    rx.calls
        .lock()
        .unwrap()
        .iter()
        .map(|(headers, body)| {
            let header = |n: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
                    .unwrap()
            };
            let ts: i64 = header("x-fincert-timestamp").parse().unwrap();
            assert_eq!(
                header("x-fincert-signature"),
                fincert::outbound::signature(inst.webhook_secret.as_bytes(), ts, body.as_bytes()),
                "signed over the body as sent"
            );
            let v: Value = serde_json::from_str(body).unwrap();
            crate::openapi::check_webhook("signatureRequestEvent", &v);
            v
        })
        .collect()
}

/// Webhook bodies carry the validation material once the operator opts the institution in
/// (off by default): the same object as the GET, built at the delivery attempt, so a
/// revocation before the attempt says revoked; rejections carry none; opting out stops it.
pub(super) async fn webhooks_carry_validation_material_when_opted_in(engine: Engine) {
    use fincert::signing::institution::set_webhook_validation_info;
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000034", Usage::General).await;
    consent(&h, &bank).await;
    let (rx, hook_url, hook) = super::receiver::receiver(0).await;
    let digest = fincert::signing::request::Digest::of(b"loan contract").to_b64();
    let ask = |text: &str| json!({"certificate_id": h.cert.id, "digests": [digest], "display_text": text, "webhook_url": hook_url});
    let sign = async |text: &str| {
        let req = created(&app, &bank, ask(text)).await;
        assert_eq!(approve_pin(&app, &h, &req, PIN).await.status(), 200);
        assert_eq!(app.signing.deliver_due(&app.db, 10).await.unwrap(), 1);
        req["id"].as_str().unwrap().to_owned()
    };

    // By default: the result without the material.
    sign("Loan contract 1").await;
    let bodies = webhook_bodies(&rx, &bank);
    assert_eq!(bodies[0]["event"], "signature_request.signed");
    assert!(bodies[0]["request"]["result"].is_object());
    assert!(
        bodies[0]["request"]["result"]
            .get("validation_info")
            .is_none(),
        "{}",
        bodies[0]
    );

    // Opted in: the material, good, verified offline, the same certificates and CRLs as the
    // GET answers; a rejection has no result and so no material.
    // (as the operator does it: the CLI, against the app's database)
    let url = app.settings.database_url();
    let client_id = bank.client_id.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run_cli(
            &["institution", "webhook-validation-info", &client_id, "on"],
            &[("FINCERT_DATABASE_URL", url.as_str())],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("webhook_validation_info=true"), "{out}");
    let id = sign("Loan contract 2").await;
    let body = &webhook_bodies(&rx, &bank)[1];
    let info = &body["request"]["result"]["validation_info"];
    assert_good(&app, info, &h.cert.der);
    let got = signed_view(&app, &bank, &id).await;
    let from_get = &got["result"]["validation_info"];
    assert_eq!(info["certificates"], from_get["certificates"]);
    assert_eq!(info["crl"], from_get["crl"]);
    let mut without = body["request"].clone();
    without["result"]
        .as_object_mut()
        .unwrap()
        .remove("validation_info");
    let mut get_without = got.clone();
    get_without["result"]
        .as_object_mut()
        .unwrap()
        .remove("validation_info");
    assert_eq!(
        without, get_without,
        "otherwise the request as the GET answers it"
    );
    let sizes: Vec<usize> = rx
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| b.len())
        .collect();
    println!(
        "webhook body with validation material: {} bytes (without: {} bytes)",
        sizes[1], sizes[0]
    );

    let rejected = created(&app, &bank, ask("Loan contract 3")).await;
    let path = format!("/v1/approvals/{}/reject", rejected["id"].as_str().unwrap());
    assert_eq!(
        post(&app, &path, Some(&h.token), json!({})).await.status(),
        200
    );
    assert_eq!(app.signing.deliver_due(&app.db, 10).await.unwrap(), 1);
    let body = &webhook_bodies(&rx, &bank)[2];
    assert_eq!(body["event"], "signature_request.rejected");
    assert!(body["request"].get("result").is_none(), "{body}");

    // Signed, then revoked before the delivery attempt: the material says revoked.
    let req = created(&app, &bank, ask("Loan contract 4")).await;
    assert_eq!(approve_pin(&app, &h, &req, PIN).await.status(), 200);
    app.pki
        .revoke(
            &app.db,
            &h.owner,
            h.cert.id,
            RevocationReason::KeyCompromise,
        )
        .await
        .unwrap();
    assert_eq!(app.signing.deliver_due(&app.db, 10).await.unwrap(), 1);
    let body = &webhook_bodies(&rx, &bank)[3];
    assert_revoked(
        &app,
        &body["request"]["result"]["validation_info"],
        &h.cert.der,
    );

    // Opted out again: no material.
    let view = set_webhook_validation_info(&app.db, app.clock.now(), &bank.id, false)
        .await
        .unwrap();
    assert!(!view.webhook_validation_info);
    let switched: Vec<serde_json::Value> = fincert::store::audit::page_after(&app.db, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "institution.webhook_validation_info_set")
        .map(|e| serde_json::from_str(&e.details).unwrap())
        .collect();
    assert_eq!(
        switched,
        [
            json!({"webhook_validation_info": true}),
            json!({"webhook_validation_info": false})
        ],
        "both switches audited"
    );
    let h2 = holder(&app, "330100000035", Usage::General).await;
    consent(&h2, &bank).await;
    let req = created(&app, &bank, json!({"certificate_id": h2.cert.id, "digests": [digest], "display_text": "Loan contract 5", "webhook_url": hook_url})).await;
    assert_eq!(approve_pin(&app, &h2, &req, PIN).await.status(), 200);
    assert_eq!(app.signing.deliver_due(&app.db, 10).await.unwrap(), 1);
    let body = &webhook_bodies(&rx, &bank)[4];
    assert!(body["request"]["result"].get("validation_info").is_none());
    hook.stop(true).await;
    app.stop().await;
}
