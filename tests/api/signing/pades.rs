//! PAdES inside a real PDF, judged by pyHanko: the institution's side of a PDF signature done
//! with pyHanko's interrupted-signing API (`tests/api/signing/pades_pdf.py`). pyHanko prepares
//! the document (signature field, /ByteRange, reserved /Contents, `ETSI.CAdES.detached`) and
//! computes its digest; fincert signs it — the native API's `cms-pades` over the document
//! digest, or a CSC v2 `signHash` over the signed attributes pyHanko built — and pyHanko embeds
//! the CMS. Then:
//! - **PAdES-B-B**: pyHanko validates it against the fincert root as the only trust anchor,
//!   no revocation checks; the profile holds (signing-certificate-v2 naming the signer, no
//!   signing-time attribute, the time in the dictionary's /M).
//! - **B-LT**: revocation information *required* for every certificate of the path
//!   (pyHanko's "require" mode), nothing fetched: without a DSS the signature is not
//!   trusted; with fincert's validation material added as a DSS (certificates, the OCSP
//!   response, the issuing CA's CRL and the root's ARL) it is. Material without the ARL, or
//!   with certificates only, is not enough; material built after a revocation says revoked.
//!
//! The judge's own checks can fail: a CMS with signing-time (`cms-detached`) or without
//! signing-certificate-v2 is not PAdES-B-B.

use fincert::{
    config::Engine,
    custody::keys::{KeyAlgorithm, SignatureScheme, SigningKey},
    pki::{lifecycle::RevocationReason, profile::Usage},
    signing::{
        cms,
        institution::Sector,
        request::{Algorithm, Digest},
    },
};
use serde_json::{Value, json};

use super::{
    approve_pin, b64, created,
    validation_material::{csc, signed_view},
};
use crate::helpers::*;

/// The verdict is PAdES-B-B (the signed revision covers the file, or is followed by DSS
/// updates only).
fn assert_b_b(v: &Value, what: &str) {
    assert_eq!(v["baseline_b"], true, "{what}: {v}");
    assert_eq!(v["subfilter"], "/ETSI.CAdES.detached", "{what}");
    assert_eq!(v["signing_certificate_v2"], "matches", "{what}");
    assert_eq!(v["signing_time_attribute"], false, "{what}");
    assert_eq!(v["signing_time_in_dictionary"], true, "{what}");
    for flag in ["intact", "valid", "trusted"] {
        assert_eq!(v["b_b"][flag], true, "{what}: {flag} in {v}");
    }
}

/// No revocation information in the document: B-B holds, require-mode validation does not
/// trust it.
fn assert_not_lt(v: &Value, what: &str) {
    assert_eq!(v["baseline_lt"], false, "{what}: {v}");
    assert_eq!(v["lt"]["intact"], true, "{what}: {v}");
    assert_eq!(v["lt"]["valid"], true, "{what}: {v}");
    assert_eq!(v["lt"]["trusted"], false, "{what}: {v}");
}

/// With the DSS: B-LT, every certificate of the path checked from the document alone.
fn assert_lt(v: &Value, what: &str) {
    assert_b_b(v, what);
    assert_eq!(v["baseline_lt"], true, "{what}: {v}");
    assert_eq!(v["lt"]["trusted"], true, "{what}: {v}");
    assert_eq!(v["lt"]["problems"], json!([]), "{what}: {v}");
    assert_eq!(v["dss"]["ocsps"], 1, "{what}: the signer's OCSP response");
    assert_eq!(
        v["dss"]["crls"], 2,
        "{what}: the issuing CA's CRL and the root's ARL"
    );
    assert_eq!(
        v["dss"]["vri"], true,
        "{what}: a VRI entry for the signature"
    );
    assert_eq!(v["b_b"]["modification_level"], "LTA_UPDATES", "{what}");
}

/// `info` with only `keep` of its members (the others empty).
fn only(info: &Value, keep: &[&str]) -> Value {
    let mut out = json!({"certificates": [], "ocsp": [], "crl": []});
    for k in keep {
        out[*k] = info[*k].clone();
    }
    out
}

/// The native API: pyHanko's document digest signed as `cms-pades`, embedded, B-B; the
/// material of `GET /v1/signature-requests/{id}` as a DSS, B-LT; less material, not; after a
/// revocation, the material makes the signature untrusted.
pub(super) async fn a_pdf_signed_with_cms_pades_is_b_b_then_b_lt(engine: Engine) {
    let app = spawn_app(engine).await;
    let root = app.pki.ca_certificate("root").unwrap().to_vec();
    let bank = institution(&app, "Woori Bank", Sector::Bank).await;
    let h = holder(&app, "330100000041", Usage::Restricted).await;
    consent(&h, &bank).await;

    let (pdf, prepared) = PadesPdf::prepare(&[&h.cert.der]);
    let req = created(&app, &bank, json!({"certificate_id": h.cert.id, "digests": [prepared["digest"]], "display_text": "Sign the loan contract (PDF, 1 page)", "format": "cms-pades"})).await;
    let signed: Value = approve_pin(&app, &h, &req, PIN).await.json().await.unwrap();
    assert_eq!(signed["format"], "cms-pades", "{signed}");
    pdf.embed(&b64(&signed["result"]["signatures"][0]));

    let v = pdf.validate(false, &root);
    assert_b_b(&v, "cms-pades in the PDF");
    assert_eq!(v["b_b"]["coverage"], "ENTIRE_FILE");
    assert_eq!(v["dss"]["ocsps"], 0);
    assert_not_lt(&v, "no DSS");
    assert!(
        v["lt"]["problems"].to_string().contains("revocation"),
        "pyHanko names the missing revocation information: {v}"
    );

    let view = signed_view(&app, &bank, req["id"].as_str().unwrap()).await;
    let info = &view["result"]["validation_info"];
    pdf.add_dss(info);
    assert_lt(&pdf.validate(true, &root), "fincert's material as the DSS");

    // Less than the whole material: the signer's OCSP response alone leaves the issuing CA
    // unchecked (the root's ARL is what covers it); certificates alone, nothing.
    pdf.add_dss(&only(info, &["certificates", "ocsp"]));
    let v = pdf.validate(true, &root);
    assert_not_lt(&v, "no ARL");
    assert!(
        v["lt"]["problems"].to_string().contains("intermediate"),
        "the issuing CA lacks revocation information: {v}"
    );
    pdf.add_dss(&only(info, &["certificates"]));
    assert_not_lt(&pdf.validate(true, &root), "certificates only");

    // Revoked since: material built now says so, and the signature is not trusted with it.
    app.pki
        .revoke(
            &app.db,
            &h.owner,
            h.cert.id,
            RevocationReason::KeyCompromise,
        )
        .await
        .unwrap();
    let view = signed_view(&app, &bank, req["id"].as_str().unwrap()).await;
    pdf.add_dss(&view["result"]["validation_info"]);
    let v = pdf.validate(true, &root);
    assert_not_lt(&v, "revoked");
    assert!(
        v["lt"]["problems"].to_string().contains("revoked"),
        "pyHanko finds the revocation in the DSS: {v}"
    );
    app.stop().await;
}

/// CSC v2: pyHanko builds the PAdES signed attributes, fincert's `signHash` signs their hash
/// and answers `validationInfo`; pyHanko's CMS with that signature is B-B, and with the
/// material as a DSS, B-LT.
pub(super) async fn a_pdf_signed_with_csc_v2_sign_hash_is_b_lt(engine: Engine) {
    let app = spawn_app(engine).await;
    let root = app.pki.ca_certificate("root").unwrap().to_vec();
    let issuing = app.pki.ca_certificate("issuing").unwrap().to_vec();
    let bank = institution(&app, "Woori Bank", Sector::Bank).await;
    let h = holder(&app, "330100000042", Usage::Restricted).await;
    consent(&h, &bank).await;
    let id = h.cert.id.to_string();

    let (pdf, prepared) = PadesPdf::prepare(&[&h.cert.der, &issuing]);
    let hash = prepared["to_sign"].clone();
    let (status, sad) = csc(
        &app,
        "/csc/v2/credentials/authorize",
        &bank.token,
        json!({"credentialID": id, "numSignatures": 1, "hashes": [hash], "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "authData": [{"id": "PIN", "value": PIN}]}),
    )
    .await;
    assert_eq!(status, 200, "{sad}");
    let (status, out) = csc(
        &app,
        "/csc/v2/signatures/signHash",
        &bank.token,
        json!({"credentialID": id, "SAD": sad["SAD"], "hashes": [hash], "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.11", "returnValidationInfo": true}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    pdf.assemble(&b64(&out["signatures"][0]), &[&h.cert.der, &issuing]);
    let v = pdf.validate(false, &root);
    assert_b_b(&v, "signHash in pyHanko's CMS");
    assert_not_lt(&v, "no DSS");
    pdf.add_dss(&out["validationInfo"]);
    assert_lt(&pdf.validate(true, &root), "validationInfo as the DSS");
    app.stop().await;
}

/// The judge refuses what is not PAdES-B-B: fincert's `cms-detached` (it carries
/// signing-time, which PAdES keeps in the dictionary) in the same document is intact and
/// trusted, but not the profile.
pub(super) async fn a_cms_with_signing_time_is_not_pades(engine: Engine) {
    let app = spawn_app(engine).await;
    let root = app.pki.ca_certificate("root").unwrap().to_vec();
    let bank = institution(&app, "Woori Bank", Sector::Bank).await;
    let h = holder(&app, "330100000043", Usage::Restricted).await;
    consent(&h, &bank).await;
    let (pdf, prepared) = PadesPdf::prepare(&[&h.cert.der]);
    let req = created(&app, &bank, json!({"certificate_id": h.cert.id, "digests": [prepared["digest"]], "display_text": "Sign the loan contract (PDF, 1 page)", "format": "cms-detached"})).await;
    let signed: Value = approve_pin(&app, &h, &req, PIN).await.json().await.unwrap();
    pdf.embed(&b64(&signed["result"]["signatures"][0]));
    let v = pdf.validate(false, &root);
    assert_eq!(v["signing_time_attribute"], true, "{v}");
    assert_eq!(v["signing_certificate_v2"], "matches", "{v}");
    assert_eq!(v["b_b"]["trusted"], true, "{v}");
    assert_eq!(v["baseline_b"], false, "{v}");
    app.stop().await;
}

/// fincert's two CMS phases with a key of the test's, over pyHanko's document digest: with the
/// signed attributes as fincert builds them for `cms-pades` the PDF is B-B (the control);
/// the same without signing-certificate-v2, under a signature that verifies, is not.
#[test]
fn a_pdf_signature_without_signing_certificate_v2_is_not_pades() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["signer.test".to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "PAdES test signer");
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::ContentCommitment,
    ];
    let cert = params.self_signed(&key).unwrap().der().to_vec();
    let signing = SigningKey::from_pkcs8(KeyAlgorithm::P256, &key.serialize_der()).unwrap();
    let sign = |pdf: &PadesPdf, digest: &Value, ess: bool| {
        let digest = Digest::parse_b64(digest.as_str().unwrap()).unwrap();
        let (mut attrs, _) = cms::signed_attributes(&digest, None, &cert).unwrap();
        if !ess {
            let kept: Vec<_> = attrs
                .iter()
                .filter(|a| a.oid != const_oid::db::rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2)
                .cloned()
                .collect();
            attrs = der::asn1::SetOfVec::try_from(kept).unwrap();
        }
        let der = der::Encode::to_der(&attrs).unwrap();
        let sig = signing
            .sign(SignatureScheme::EcdsaP256Sha256, &der)
            .unwrap();
        pdf.embed(
            &cms::assemble(attrs, sig, Algorithm::EcdsaP256Sha256, &cert, &[], None).unwrap(),
        );
    };

    let (pdf, prepared) = PadesPdf::prepare(&[&cert]);
    sign(&pdf, &prepared["digest"], true);
    let v = pdf.validate(false, &cert);
    assert_b_b(&v, "control");

    let (pdf, prepared) = PadesPdf::prepare(&[&cert]);
    sign(&pdf, &prepared["digest"], false);
    let v = pdf.validate(false, &cert);
    assert_eq!(v["signing_certificate_v2"], "absent", "{v}");
    assert_eq!(
        v["b_b"]["intact"], true,
        "the signature itself verifies: {v}"
    );
    assert_eq!(v["baseline_b"], false, "{v}");
}
