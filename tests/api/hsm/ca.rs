//! A CA whose root and issuing keys are key pairs in the HSM (`pki.pkcs11_ca_keys`), judged
//! by pkilint and openssl like the local CA (`pki::lint`).

use cryptoki::{
    context::Pkcs11,
    object::{Attribute, AttributeType, ObjectClass},
};
use fincert::{config::Engine, pki::profile::Usage, store};

use super::raw_session;
use crate::{helpers::*, hsm_tests};

/// A CA made in the HSM (`pki.pkcs11_ca_keys`): the root and issuing keys are key pairs on the
/// token, sensitive and non-extractable, the responder's key stays sealed; everything the CA
/// publishes (certificates, CRL, ARL, OCSP answers) passes pkilint and openssl's checks.
async fn a_ca_in_the_hsm_signs_what_openssl_and_pkilint_accept(engine: Engine, hsm: SoftHsm) {
    hsm_ca(engine, &hsm, "rsa2048").await;
}

/// The same with ECDSA P-256 CA keys (`CKM_ECDSA` over a SHA-256 digest, DER-encoded here).
async fn an_ecdsa_ca_in_the_hsm_signs_what_openssl_and_pkilint_accept(hsm: SoftHsm) {
    hsm_ca(Engine::Sqlite, &hsm, "p256").await;
}

async fn hsm_ca(engine: Engine, hsm: &SoftHsm, algorithm: &str) {
    let app = spawn_app_tuned(engine, |s| {
        s.kms = hsm.kms_settings();
        s.pki.pkcs11_ca_keys = true;
        s.pki.ca_algorithm = algorithm.into();
    })
    .await;
    let rows = store::pki::authorities(&app.db).await.unwrap();
    let module = Pkcs11::new(softhsm_module()).unwrap();
    let session = raw_session(&module);
    for row in &rows {
        if row.id == "ocsp" {
            assert_eq!(row.key_kind, "sealed", "the responder's key stays sealed");
            continue;
        }
        assert_eq!(row.key_kind, "pkcs11", "{}", row.id);
        let label = row
            .kms_key_id
            .as_deref()
            .and_then(|k| k.strip_prefix("pkcs11:"))
            .unwrap();
        assert!(
            label.starts_with(&format!("fincert-ca-{}-", row.id)),
            "{label}"
        );
        let private = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .unwrap();
        assert_eq!(private.len(), 1);
        let attrs = session
            .get_attributes(
                private[0],
                &[
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::Token,
                ],
            )
            .unwrap();
        for wanted in [
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Token(true),
        ] {
            assert!(attrs.contains(&wanted), "{label}: {wanted:?}");
        }
    }
    assert_eq!(rows.len(), 3);
    crate::pki::lint_everything_the_ca_publishes(&app).await;
    // Every signature the HSM made is counted, as the AWS CA keys' are.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let signs = metrics
        .lines()
        .find(|l| l.starts_with(r#"fincert_kms_calls_total{operation="Sign",outcome="ok"}"#))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(signs >= 10, "{signs} HSM signatures counted");

    // Another node opens the same HSM keys (the load path) and issues with them.
    let node = spawn_node(&app).await;
    assert_eq!(store::pki::authorities(&app.db).await.unwrap(), rows);
    let cert = node
        .pki
        .issue(
            &app.db,
            fincert::pki::IssueRequest {
                owner: user(&app, "330100000009").await,
                holder: fincert::pki::profile::HolderName::parse("홍길동").unwrap(),
                kind: fincert::pki::profile::CertKind::Joint,
                usage: Usage::General,
                key: fincert::pki::KeySource::Cloud(&pin(PIN)),
            },
        )
        .await
        .unwrap();
    let issuing = &rows
        .iter()
        .find(|r| r.id == "issuing")
        .unwrap()
        .certificate_der;
    let (_, issuing) = x509_parser::parse_x509_certificate(issuing).unwrap();
    let (_, leaf) = x509_parser::parse_x509_certificate(&cert.der).unwrap();
    leaf.verify_signature(Some(issuing.public_key()))
        .expect("the other node's certificate is signed by the HSM's issuing key");
    node.kill().await;
}

hsm_tests!(an_ecdsa_ca_in_the_hsm_signs_what_openssl_and_pkilint_accept);
hsm_tests!(engines: a_ca_in_the_hsm_signs_what_openssl_and_pkilint_accept);
