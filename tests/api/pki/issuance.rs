//! What the CA issues: the published hierarchy, the financial certificate profile with a cloud
//! key, and joint device certificates from openssl-made CSRs (and the requests refused).

use fincert::{
    audit::Action,
    config::Engine,
    custody::keys::SignatureScheme,
    error::{ApiError, ErrorCode},
    pki::{
        IssueRequest, KeySource, PkiError,
        lifecycle::CertStatus,
        profile::{CertKind, HolderName, Usage},
        x509::X509Error,
    },
    store,
};

use super::Openssl;
use crate::helpers::*;

/// The hierarchy is published at stable URLs and is a proper chain.
pub(super) async fn ca_hierarchy_is_published(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let (ok, out) = o.run(&["verify", "-CAfile", "root.pem", "issuing.pem"]);
    assert!(ok, "{out}");
    let (ok, out) = o.run(&[
        "verify",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "issuing.pem",
        "-purpose",
        "ocsphelper",
        "ocsp.pem",
    ]);
    assert!(ok, "{out}");
    let issuing = o.text(&o.path("issuing.pem"));
    assert!(issuing.contains("CA:TRUE, pathlen:0"), "{issuing}");
    assert!(issuing.contains("Certificate Sign, CRL Sign"), "{issuing}");
    let responder = o.text(&o.path("ocsp.pem"));
    assert!(
        responder.contains("OCSP Signing") && responder.contains("OCSP No Check"),
        "{responder}"
    );
    assert_eq!(
        store::audit::by_action(&app.db, Action::CaInitialized, 5)
            .await
            .unwrap()
            .len(),
        1
    );
    // Unknown names are 404 problems.
    assert_problem(app.get("/pki/ca/nothing.crt").await, 404, "route_not_found").await;
}

/// A financial certificate follows the profile and its key signs for it.
pub(super) async fn financial_certificate_profile(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let cert = cloud_cert("user-hong").issue(&app).await;
    let leaf = o.write_cert("leaf.pem", &cert.der);
    let (ok, out) = o.verify(&leaf, None);
    assert!(ok, "openssl verify: {out}");
    let text = o.text(&leaf);
    let arc = &app.settings.pki.policy_arc;
    for expected in [
        "Digital Signature, Non Repudiation".to_string(),
        format!("Policy: {arc}.1.2"),
        "OCSP - URI:http://127.0.0.1:8080/pki/ocsp".into(),
        "CA Issuers - URI:http://127.0.0.1:8080/pki/ca/issuing.crt".into(),
        "URI:http://127.0.0.1:8080/pki/crl/issuing.crl".into(),
        "CA:FALSE".into(),
        "C=KR".into(),
        "CN=홍길동()".into(),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in\n{text}");
    }
    assert_eq!(cert.serial.len(), 32, "128-bit serial");
    // Calendar years, whatever leap days fall inside.
    assert_eq!(
        cert.not_after,
        cert.not_before
            .checked_add_months(chrono::Months::new(36))
            .unwrap(),
        "three years"
    );
    assert_eq!(cert.status, CertStatus::Active);
    assert!(!cert.renewal_open);

    // The sealed key behind it signs, and openssl verifies with the certificate's key.
    let (_, pubkey) = o.run(&["x509", "-in", "leaf.pem", "-noout", "-pubkey"]);
    std::fs::write(o.path("pub.pem"), &pubkey).unwrap();
    let (_, spki) = o.run(&[
        "pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", "-out", "pub.der",
    ]);
    let spki = std::fs::read(o.path("pub.der")).unwrap_or_else(|_| panic!("{spki}"));
    let who = owner("user-hong");
    let act = app
        .custody
        .activate_with_pin(
            &app.db,
            &who,
            cert.custody_key_id.unwrap(),
            &pin("482915"),
            Some(1),
        )
        .await
        .unwrap();
    let sig = app
        .custody
        .sign(&who, act.id, SignatureScheme::RsaPkcs1Sha256, b"hello")
        .unwrap();
    assert!(openssl_verify(
        SignatureScheme::RsaPkcs1Sha256,
        &spki,
        b"hello",
        &sig
    ));

    // General-purpose is charged; restricted-use is free.
    cloud_cert("user-hong")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    let fees = app.pki.fees(&app.db, &who).await.unwrap();
    assert_eq!(
        fees.iter()
            .map(|f| (f.event.as_str(), f.amount_krw))
            .collect::<Vec<_>>(),
        [("issue", 4400)]
    );
    assert_eq!(app.pki.certificates(&app.db, &who).await.unwrap().len(), 2);
}

fn openssl_csr(o: &Openssl, name: &str, key_args: &[&str]) -> Vec<u8> {
    let mut args = vec![
        "req",
        "-new",
        "-nodes",
        "-subj",
        "/CN=ignored/O=device",
        "-outform",
        "DER",
    ];
    let key = format!("{name}.key");
    let out = format!("{name}.csr");
    args.extend(key_args);
    args.extend(["-keyout", key.as_str(), "-out", out.as_str()]);
    let (ok, text) = o.run(&args);
    assert!(ok, "openssl req: {text}");
    std::fs::read(o.path(&out)).unwrap()
}

/// A joint certificate with device storage: the key stays on the device; fincert certifies
/// the key of an openssl-made CSR and refuses bad requests without changing anything.
pub(super) async fn joint_device_certificates_from_csrs(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let who = owner("user-kim");
    let holder = || HolderName::parse("김철수").unwrap();
    for (name, key_args) in [
        ("rsa", vec!["-newkey", "rsa:2048"]),
        (
            "ec",
            vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        ),
    ] {
        let csr = openssl_csr(&o, name, &key_args);
        let cert = app
            .pki
            .issue(
                &app.db,
                IssueRequest {
                    owner: who.clone(),
                    holder: holder(),
                    kind: CertKind::Joint,
                    usage: Usage::Restricted,
                    key: KeySource::Device(&csr),
                },
            )
            .await
            .unwrap();
        assert!(cert.custody_key_id.is_none(), "fincert holds no device key");
        assert_eq!(
            cert.not_after,
            cert.not_before
                .checked_add_months(chrono::Months::new(12))
                .unwrap(),
            "one year"
        );
        let leaf = o.write_cert(&format!("{name}.pem"), &cert.der);
        let (ok, out) = o.verify(&leaf, None);
        assert!(ok, "{out}");
        // The certified key is the CSR's key.
        let (_, a) = o.run(&["x509", "-in", &format!("{name}.pem"), "-noout", "-pubkey"]);
        let (_, b) = o.run(&["pkey", "-in", &format!("{name}.key"), "-pubout"]);
        assert_eq!(a, b);
        assert!(
            o.text(&leaf)
                .contains(&format!("Policy: {}.2.1", app.settings.pki.policy_arc))
        );
    }

    let certs_before = app.pki.certificates(&app.db, &who).await.unwrap().len();
    let head_before = store::audit::head(&app.db).await.unwrap();
    let weak = openssl_csr(&o, "weak", &["-newkey", "rsa:1024"]);
    let mut tampered = openssl_csr(
        &o,
        "tampered",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let n = tampered.len();
    tampered[n - 5] ^= 0x01;
    let p384 = openssl_csr(
        &o,
        "p384",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
    );
    let cases: Vec<(&[u8], Box<dyn Fn(&PkiError) -> bool>, u16, &str)> = vec![
        (
            b"garbage",
            Box::new(|e| matches!(e, PkiError::Input(X509Error::Malformed(_)))),
            400,
            "malformed_input",
        ),
        (
            &weak,
            Box::new(|e| matches!(e, PkiError::Input(X509Error::WeakKey(_)))),
            422,
            "weak_key",
        ),
        (
            &tampered,
            Box::new(|e| {
                matches!(
                    e,
                    PkiError::Input(X509Error::BadSignature | X509Error::Malformed(_))
                )
            }),
            422,
            "",
        ),
        (
            &p384,
            Box::new(|e| matches!(e, PkiError::Input(X509Error::WeakKey(_)))),
            422,
            "weak_key",
        ),
    ];
    for (csr, expected, status, code) in cases {
        let err = app
            .pki
            .issue(
                &app.db,
                IssueRequest {
                    owner: who.clone(),
                    holder: holder(),
                    kind: CertKind::Joint,
                    usage: Usage::General,
                    key: KeySource::Device(csr),
                },
            )
            .await
            .unwrap_err();
        assert!(expected(&err), "{err:?}");
        let p = ApiError::from(err).problem();
        assert!(
            p.status == status || (code.is_empty() && p.status >= 400 && p.status < 500),
            "{p:?}"
        );
        if !code.is_empty() {
            assert_eq!(p.code, code);
        }
    }
    // A financial certificate never goes on a device.
    let csr = openssl_csr(&o, "fin", &["-newkey", "rsa:2048"]);
    let err = app
        .pki
        .issue(
            &app.db,
            IssueRequest {
                owner: who.clone(),
                holder: holder(),
                kind: CertKind::Financial,
                usage: Usage::General,
                key: KeySource::Device(&csr),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        ApiError::from(err).problem().code,
        ErrorCode::InvalidProfile
    );
    assert_eq!(
        app.pki.certificates(&app.db, &who).await.unwrap().len(),
        certs_before,
        "nothing issued"
    );
    assert_eq!(
        store::audit::head(&app.db).await.unwrap(),
        head_before,
        "nothing audited"
    );
    assert!(
        app.pki.fees(&app.db, &who).await.unwrap().is_empty(),
        "nothing charged"
    );
}
