//! CAdES baseline B: the CMS that a signature request returns, judged by pyHanko (ETSI EN 319
//! 102-1 basic validation against the root as the only trust anchor, the ESS
//! signing-certificate-v2 attribute checked against the signer certificate, the attributes that
//! CAdES-B-B requires present; for `cms-pades`, PAdES-B-B's: no signing-time) and by
//! `openssl cms -verify`. A signing-certificate-v2 naming
//! another certificate is refused by pyHanko whether the signature still verifies or not
//! (openssl refuses only the one whose signature broke: it does not read the attribute).

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{
    config::Engine,
    custody::keys::{KeyAlgorithm, SignatureScheme, SigningKey},
    pki::profile::Usage,
    signing::{
        cms,
        institution::Sector,
        request::{Algorithm, Digest},
    },
};
use serde_json::{Value, json};

use super::{approve_pin, b64, created};
use crate::helpers::*;

/// The SHA-256 of `der`, hex (as the script names the certificates it found).
fn sha256_hex(der: &[u8]) -> String {
    Digest::of(der).to_hex()
}

/// Asserts pyHanko's verdict is CAdES-B-B: PASSED, intact, valid, trusted, the attribute
/// present with an issuer-serial and naming the signer, nothing required missing; and that the
/// SignedData carries the signer and the issuing CA, not the root.
fn assert_baseline_b(verdict: &Value, signer: &[u8], issuing: &[u8], what: &str) {
    assert_eq!(verdict["indication"], "PASSED", "{what}: {verdict}");
    assert_eq!(verdict["subindication"], "OK", "{what}: {verdict}");
    for flag in ["intact", "valid", "trusted", "issuer_serial", "baseline_b"] {
        assert_eq!(verdict[flag], true, "{what}: {flag} in {verdict}");
    }
    assert_eq!(verdict["signing_certificate_v2"], "matches", "{what}");
    assert_eq!(verdict["missing"], json!([]), "{what}");
    assert_eq!(verdict["forbidden"], json!([]), "{what}");
    let mut carried: Vec<String> = verdict["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    carried.sort();
    let mut chain = vec![sha256_hex(signer), sha256_hex(issuing)];
    chain.sort();
    assert_eq!(carried, chain, "{what}: signer and issuing CA, no root");
}

/// Flips the first byte of the signing-certificate-v2 certHash (the SHA-256 of `signer`, which
/// occurs once in the CMS) so it names no certificate.
fn tamper_cert_hash(cms: &[u8], signer: &[u8]) -> Vec<u8> {
    let hash = Digest::of(signer);
    let at: Vec<usize> = cms
        .windows(32)
        .enumerate()
        .filter(|(_, w)| *w == hash.as_bytes().as_slice())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "the certHash occurs once");
    let mut out = cms.to_vec();
    out[at[0]] ^= 0x01;
    out
}

pub(super) async fn cms_outputs_are_cades_baseline_b(engine: Engine) {
    // RSA (the default user key): attached with PKCS#1 v1.5, detached with PSS.
    let app = spawn_app(engine).await;
    let root = app.pki.ca_certificate("root").unwrap().to_vec();
    let issuing = app.pki.ca_certificate("issuing").unwrap().to_vec();
    let bank = institution(&app, "Shinhan Bank", Sector::Bank).await;
    let h = holder(&app, "330100000031", Usage::Restricted).await;
    consent(&h, &bank).await;

    let doc = b"mortgage contract 2026-12, 300,000,000 KRW".to_vec();
    let att = created(&app, &bank, json!({"certificate_id": h.cert.id, "content": STANDARD.encode(&doc), "display_text": "Sign the mortgage contract", "format": "cms-attached"})).await;
    let signed: Value = approve_pin(&app, &h, &att, PIN).await.json().await.unwrap();
    let signer = b64(&signed["result"]["certificate"]);
    let attached = b64(&signed["result"]["signatures"][0]);
    assert_baseline_b(
        &cades_verdict(&attached, &root, None),
        &signer,
        &issuing,
        "attached, PKCS#1 v1.5",
    );
    let (ok, out) = openssl_cms_verify(&attached, &root, None);
    assert!(ok, "openssl verifies the attached CMS");
    assert_eq!(out, doc);

    let pages = [b"page one".to_vec(), b"page two".to_vec()];
    let digests: Vec<String> = pages.iter().map(|p| Digest::of(p).to_b64()).collect();
    let det = created(&app, &bank, json!({"certificate_id": h.cert.id, "digests": digests, "display_text": "Sign 2 pages", "format": "cms-detached", "algorithm": "rsa-pss-sha256"})).await;
    let signed_detached: Value = approve_pin(&app, &h, &det, PIN).await.json().await.unwrap();
    for (i, page) in pages.iter().enumerate() {
        let cms = b64(&signed_detached["result"]["signatures"][i]);
        let what = format!("detached PSS page {i}");
        assert_baseline_b(
            &cades_verdict(&cms, &root, Some(page)),
            &signer,
            &issuing,
            &what,
        );
        assert!(openssl_cms_verify(&cms, &root, Some(page)).0, "{what}");
        let other = cades_verdict(&cms, &root, Some(b"page three"));
        assert_eq!(
            (&other["indication"], &other["subindication"]),
            (&json!("FAILED"), &json!("HASH_FAILURE")),
            "pyHanko refuses other content"
        );
    }

    // For a PDF: cms-pades leaves signing-time out (PAdES-B-B); the detached CMS is not PAdES.
    let pdf_bytes = b"%PDF-1.7 byte ranges of a prepared document".to_vec();
    let pdf = created(&app, &bank, json!({"certificate_id": h.cert.id, "digests": [Digest::of(&pdf_bytes).to_b64()], "display_text": "Sign the PDF", "format": "cms-pades"})).await;
    let signed: Value = approve_pin(&app, &h, &pdf, PIN).await.json().await.unwrap();
    assert_eq!(signed["format"], "cms-pades");
    let pades = b64(&signed["result"]["signatures"][0]);
    assert_baseline_b(
        &pades_verdict(&pades, &root, &pdf_bytes),
        &signer,
        &issuing,
        "PAdES",
    );
    assert!(
        openssl_cms_verify(&pades, &root, Some(&pdf_bytes)).0,
        "PAdES"
    );
    let detached = b64(&signed_detached["result"]["signatures"][0]);
    let not_pades = pades_verdict(&detached, &root, &pages[0]);
    assert_eq!(not_pades["forbidden"], json!(["signing_time"]));
    assert_eq!(not_pades["baseline_b"], false);

    // Another anchor: the signature is intact but not trusted.
    let foreign = rcgen::CertificateParams::new(vec!["other-root".to_owned()])
        .unwrap()
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap()
        .der()
        .to_vec();
    let untrusted = cades_verdict(&attached, &foreign, None);
    assert_eq!(untrusted["indication"], "INDETERMINATE", "{untrusted}");
    assert_eq!(untrusted["trusted"], false);

    // The attribute changed after signing: pyHanko finds no signing certificate (it checks the
    // attribute before the signature), openssl refuses it.
    let tampered = tamper_cert_hash(&attached, &signer);
    let verdict = cades_verdict(&tampered, &root, None);
    assert_eq!(
        (&verdict["indication"], &verdict["subindication"]),
        (
            &json!("INDETERMINATE"),
            &json!("NO_SIGNING_CERTIFICATE_FOUND")
        ),
        "{verdict}"
    );
    assert_eq!(verdict["signing_certificate_v2"], "mismatch");
    assert_eq!(verdict["baseline_b"], false);
    assert!(!openssl_cms_verify(&tampered, &root, None).0);
    app.stop().await;

    // ECDSA P-256 user keys, detached.
    let app = spawn_app_tuned(engine, |s| s.pki.user_key_algorithm = "p256".into()).await;
    let root = app.pki.ca_certificate("root").unwrap().to_vec();
    let issuing = app.pki.ca_certificate("issuing").unwrap().to_vec();
    let bank = institution(&app, "Shinhan Bank", Sector::Bank).await;
    let h = holder(&app, "330100000032", Usage::Restricted).await;
    consent(&h, &bank).await;
    let det = created(&app, &bank, json!({"certificate_id": h.cert.id, "digests": [Digest::of(&doc).to_b64()], "display_text": "Sign the mortgage contract", "format": "cms-detached"})).await;
    let signed: Value = approve_pin(&app, &h, &det, PIN).await.json().await.unwrap();
    assert_eq!(signed["algorithm"], "ecdsa-p256-sha256", "{signed}");
    let cms = b64(&signed["result"]["signatures"][0]);
    let signer = b64(&signed["result"]["certificate"]);
    assert_baseline_b(
        &cades_verdict(&cms, &root, Some(&doc)),
        &signer,
        &issuing,
        "detached ECDSA",
    );
    assert!(openssl_cms_verify(&cms, &root, Some(&doc)).0);
    app.stop().await;
}

/// A CMS built by fincert's own two phases with a key of the test's: first as fincert builds
/// it (the control: baseline B, and openssl verifies it), then with signing-certificate-v2
/// naming another certificate under a signature that verifies: pyHanko refuses it.
#[tokio::test]
async fn a_signing_certificate_naming_another_certificate_is_refused() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["signer.test".to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "CAdES test signer");
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::ContentCommitment,
    ];
    let cert = params.self_signed(&key).unwrap().der().to_vec();
    let other = rcgen::CertificateParams::new(vec!["other.test".to_owned()])
        .unwrap()
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap()
        .der()
        .to_vec();
    let signing = SigningKey::from_pkcs8(KeyAlgorithm::P256, &key.serialize_der()).unwrap();
    let content = b"lease, flat 301".to_vec();
    let build = |named: &[u8]| {
        let (attrs, der) =
            cms::signed_attributes(&Digest::of(&content), Some(chrono::Utc::now()), named).unwrap();
        let sig = signing
            .sign(SignatureScheme::EcdsaP256Sha256, &der)
            .unwrap();
        cms::assemble(attrs, sig, Algorithm::EcdsaP256Sha256, &cert, &[], None).unwrap()
    };

    let good = build(&cert);
    let verdict = cades_verdict(&good, &cert, Some(&content));
    assert_eq!(verdict["baseline_b"], true, "control: {verdict}");
    assert!(
        openssl_cms_verify(&good, &cert, Some(&content)).0,
        "control"
    );

    let wrong = build(&other);
    let verdict = cades_verdict(&wrong, &cert, Some(&content));
    assert_eq!(
        (&verdict["indication"], &verdict["subindication"]),
        (
            &json!("INDETERMINATE"),
            &json!("NO_SIGNING_CERTIFICATE_FOUND")
        ),
        "{verdict}"
    );
    assert_eq!(verdict["signing_certificate_v2"], "mismatch");
    assert_eq!(verdict["baseline_b"], false);
    // openssl 3.0's `cms -verify` does not check the ESS attribute (it accepts this CMS): the
    // signing-certificate check has pyHanko as its judge.
}
