//! The certificate authority, checked with someone else's verifier: every certificate, CRL and
//! OCSP answer fincert makes is read and verified by the openssl command line.

use std::path::{Path, PathBuf};

use chrono::Duration;
use fincert::{
    audit::Action,
    clock::Clock,
    config::Engine,
    custody::{CustodyError, keys::SignatureScheme},
    error::ApiError,
    pki::{
        IssueRequest, KeySource, PkiError,
        lifecycle::{CertStatus, LifecycleError, RevocationReason},
        profile::{CertKind, HolderName, Usage},
        x509::{X509Error, pem_certificate},
    },
    store,
};
use x509_parser::prelude::FromDer;

use crate::{both_engines, helpers::*};

/// A scratch directory with the CA files written out for openssl.
struct Openssl {
    dir: tempfile::TempDir,
    clock: fincert::clock::FixedClock,
}

impl Openssl {
    async fn for_app(app: &TestApp) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for name in ["root", "issuing", "ocsp"] {
            let der = app
                .get(&format!("/pki/ca/{name}.crt"))
                .await
                .bytes()
                .await
                .unwrap();
            std::fs::write(
                dir.path().join(format!("{name}.pem")),
                pem_certificate(&der),
            )
            .unwrap();
        }
        let chain = app.get("/pki/ca/chain.pem").await.text().await.unwrap();
        std::fs::write(dir.path().join("chain.pem"), chain).unwrap();
        Self {
            dir,
            clock: app.clock.clone(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_cert(&self, name: &str, der: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, pem_certificate(der)).unwrap();
        p
    }

    /// Runs openssl in the scratch directory; returns (success, stdout + stderr).
    fn run(&self, args: &[&str]) -> (bool, String) {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
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

    /// `openssl verify` at the app clock's time.
    fn verify(&self, leaf: &Path, crl: Option<&Path>) -> (bool, String) {
        let at = self.clock.now().timestamp().to_string();
        let mut args = vec![
            "verify",
            "-attime",
            at.as_str(),
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
        ];
        let crl_s;
        if let Some(crl) = crl {
            crl_s = crl.to_string_lossy().into_owned();
            args.extend(["-crl_check", "-CRLfile", crl_s.as_str()]);
        }
        let leaf = leaf.to_string_lossy().into_owned();
        args.push(&leaf);
        self.run(&args)
    }

    fn text(&self, cert: &Path) -> String {
        let c = cert.to_string_lossy().into_owned();
        self.run(&[
            "x509",
            "-in",
            &c,
            "-noout",
            "-text",
            "-nameopt",
            "RFC2253,-esc_msb",
        ])
        .1
    }

    /// Asks the live OCSP responder about `cert` (POST, with a nonce openssl checks).
    fn ocsp(&self, app: &TestApp, cert: &Path) -> String {
        let c = cert.to_string_lossy().into_owned();
        let url = app.url("/pki/ocsp");
        let (ok, out) = self.run(&[
            "ocsp",
            "-issuer",
            "issuing.pem",
            "-cert",
            &c,
            "-url",
            &url,
            "-CAfile",
            "chain.pem",
            "-resp_text",
        ]);
        assert!(ok, "openssl ocsp failed: {out}");
        out
    }

    async fn crl(&self, app: &TestApp) -> PathBuf {
        let der = app.get("/pki/crl/issuing.crl").await.bytes().await.unwrap();
        let p = self.path("issuing.crl.der");
        std::fs::write(&p, &der).unwrap();
        let (ok, out) = self.run(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl.der",
            "-out",
            "issuing.crl.pem",
        ]);
        assert!(ok, "{out}");
        self.path("issuing.crl.pem")
    }
}

/// The hierarchy is published at stable URLs and is a proper chain.
async fn ca_hierarchy_is_published(engine: Engine) {
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
async fn financial_certificate_profile(engine: Engine) {
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
async fn joint_device_certificates_from_csrs(engine: Engine) {
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
    assert_eq!(ApiError::from(err).problem().code, "invalid_profile");
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

/// Revocation reaches the CRL (openssl -crl_check) and the OCSP responder (openssl ocsp).
async fn revocation_reaches_crl_and_ocsp(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let cert = cloud_cert("user-lee")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    let leaf = o.write_cert("leaf.pem", &cert.der);

    let crl = o.crl(&app).await;
    let (ok, out) = o.verify(&leaf, Some(&crl));
    assert!(ok, "valid with an empty CRL: {out}");
    let out = o.ocsp(&app, &leaf);
    assert!(out.contains("leaf.pem: good"), "{out}");
    assert!(out.contains("Response verify OK"), "{out}");

    app.pki
        .revoke(
            &app.db,
            &owner("user-lee"),
            cert.id,
            RevocationReason::KeyCompromise,
        )
        .await
        .unwrap();
    let crl = o.crl(&app).await;
    let (ok, out) = o.verify(&leaf, Some(&crl));
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (_, crl_text) = o.run(&["crl", "-in", "issuing.crl.pem", "-noout", "-text"]);
    assert!(
        crl_text.contains("Key Compromise") && crl_text.contains("Next Update"),
        "{crl_text}"
    );
    let out = o.ocsp(&app, &leaf);
    assert!(
        out.contains("leaf.pem: revoked") && out.contains("Reason: keyCompromise"),
        "{out}"
    );

    // Revoking twice is an illegal transition (409).
    let err = app
        .pki
        .revoke(
            &app.db,
            &owner("user-lee"),
            cert.id,
            RevocationReason::Unspecified,
        )
        .await
        .unwrap_err();
    assert_eq!(ApiError::from(err).problem().code, "illegal_transition");
    // Another owner cannot touch it at all.
    let err = app
        .pki
        .revoke(
            &app.db,
            &owner("user-other"),
            cert.id,
            RevocationReason::Unspecified,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PkiError::NotFound));
    assert_eq!(
        store::audit::by_action(&app.db, Action::CertificateRevoked, 5)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// OCSP over GET, unknown serials, and malformed requests.
async fn ocsp_get_unknown_and_malformed(engine: Engine) {
    use base64::Engine as _;
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let cert = cloud_cert("user-park")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    o.write_cert("leaf.pem", &cert.der);
    let (ok, out) = o.run(&[
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-cert",
        "leaf.pem",
        "-reqout",
        "req.der",
        "-no_nonce",
    ]);
    assert!(ok, "{out}");
    let req = std::fs::read(o.path("req.der")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&req);
    let encoded: String = b64
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_string(),
            '/' => "%2F".to_string(),
            '=' => "%3D".to_string(),
            c => c.to_string(),
        })
        .collect();
    let resp = app.get(&format!("/pki/ocsp/{encoded}")).await;
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/ocsp-response"
    );
    std::fs::write(o.path("resp.der"), resp.bytes().await.unwrap()).unwrap();
    let (ok, out) = o.run(&[
        "ocsp",
        "-respin",
        "resp.der",
        "-issuer",
        "issuing.pem",
        "-cert",
        "leaf.pem",
        "-CAfile",
        "chain.pem",
        "-no_nonce",
    ]);
    assert!(ok && out.contains("leaf.pem: good"), "{out}");

    // A serial this CA never issued.
    let url = app.url("/pki/ocsp");
    let (ok, out) = o.run(&[
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-serial",
        "0x1234567890",
        "-url",
        &url,
        "-CAfile",
        "chain.pem",
    ]);
    assert!(ok && out.contains(": unknown"), "{out}");

    // Garbage gets an OCSP malformedRequest answer; a wrong content type a 415 problem.
    let resp = app
        .client
        .post(url.clone())
        .header("content-type", "application/ocsp-request")
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    std::fs::write(o.path("bad.der"), resp.bytes().await.unwrap()).unwrap();
    let (_, out) = o.run(&["ocsp", "-respin", "bad.der", "-resp_text", "-noverify"]);
    assert!(
        out.contains("malformedrequest") || out.contains("malformedRequest"),
        "{out}"
    );
    let resp = app
        .client
        .post(url)
        .header("content-type", "text/plain")
        .body(req)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415, "unsupported_media_type").await;
}

/// Suspension shows as certificateHold; resumption restores good status; illegal moves are 409.
async fn suspend_and_resume(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let who = owner("user-choi");
    let cert = cloud_cert("user-choi").issue(&app).await;
    let leaf = o.write_cert("leaf.pem", &cert.der);
    assert_eq!(
        app.pki
            .suspend(&app.db, &who, cert.id)
            .await
            .unwrap()
            .status,
        CertStatus::Suspended
    );
    let out = o.ocsp(&app, &leaf);
    assert!(
        out.contains("leaf.pem: revoked") && out.contains("certificateHold"),
        "{out}"
    );
    let crl = o.crl(&app).await;
    assert!(!o.verify(&leaf, Some(&crl)).0);
    let err = app.pki.suspend(&app.db, &who, cert.id).await.unwrap_err();
    assert!(matches!(
        err,
        PkiError::Lifecycle(LifecycleError::NotAllowed { .. })
    ));

    assert_eq!(
        app.pki.resume(&app.db, &who, cert.id).await.unwrap().status,
        CertStatus::Active
    );
    assert!(o.ocsp(&app, &leaf).contains("leaf.pem: good"));
    let crl = o.crl(&app).await;
    assert!(o.verify(&leaf, Some(&crl)).0, "off the CRL again");
    let err = app.pki.resume(&app.db, &who, cert.id).await.unwrap_err();
    assert_eq!(ApiError::from(err).problem().code, "illegal_transition");
}

/// Renewal opens 30 days before expiry, needs the PIN, keeps the subject, makes a new key and
/// serial, charges again, and happens once.
async fn renewal_window_and_rules(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let who = owner("user-jung");
    let cert = cloud_cert("user-jung").issue(&app).await;

    let err = app
        .pki
        .renew(&app.db, &who, cert.id, KeySource::Cloud(&pin("482915")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::Lifecycle(LifecycleError::RenewalNotOpen {
                window_days: 30,
                ..
            })
        ),
        "{err:?}"
    );
    let p = ApiError::from(err).problem();
    assert_eq!((p.status, p.code.as_str()), (409, "renewal_not_open"));

    app.clock
        .advance(cert.not_after - app.clock.now() - Duration::days(20));
    assert!(
        app.pki
            .certificate(&app.db, &who, cert.id)
            .await
            .unwrap()
            .renewal_open
    );
    let err = app
        .pki
        .renew(&app.db, &who, cert.id, KeySource::Cloud(&pin("111112")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PkiError::Custody(CustodyError::WrongPin)),
        "{err:?}"
    );

    let renewed = app
        .pki
        .renew(&app.db, &who, cert.id, KeySource::Cloud(&pin("482915")))
        .await
        .unwrap();
    assert_ne!(renewed.serial, cert.serial);
    assert_eq!(renewed.subject, cert.subject);
    assert_ne!(renewed.custody_key_id, cert.custody_key_id);
    let old = app.pki.certificate(&app.db, &who, cert.id).await.unwrap();
    assert_eq!(
        old.status,
        CertStatus::Active,
        "superseded, not revoked, until it expires"
    );
    let leaf = o.write_cert("renewed.pem", &renewed.der);
    assert!(o.verify(&leaf, None).0);
    // The same PIN opens the new key.
    app.custody
        .activate_with_pin(
            &app.db,
            &who,
            renewed.custody_key_id.unwrap(),
            &pin("482915"),
            Some(1),
        )
        .await
        .unwrap();

    let err = app
        .pki
        .renew(&app.db, &who, cert.id, KeySource::Cloud(&pin("482915")))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        PkiError::Lifecycle(LifecycleError::AlreadyRenewed)
    ));
    let fees: Vec<_> = app
        .pki
        .fees(&app.db, &who)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.event)
        .collect();
    assert_eq!(fees, ["issue", "renew"]);
}

/// Reissuance revokes a live predecessor as superseded; an expired one is left expired.
async fn reissue_supersedes_the_old_certificate(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let who = owner("user-yoon");
    let cert = cloud_cert("user-yoon")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    let old_leaf = o.write_cert("old.pem", &cert.der);
    // Forgotten PIN: a new key with a new PIN.
    let new = app
        .pki
        .reissue(&app.db, &who, cert.id, KeySource::Cloud(&pin("604172")))
        .await
        .unwrap();
    assert_eq!(new.status, CertStatus::Active);
    let old = app.pki.certificate(&app.db, &who, cert.id).await.unwrap();
    assert_eq!(old.status, CertStatus::Revoked);
    let out = o.ocsp(&app, &old_leaf);
    assert!(
        out.contains("old.pem: revoked") && out.contains("superseded"),
        "{out}"
    );

    // Expired, then reissued: the old one stays expired.
    app.clock.advance(Duration::days(365 * 3 + 2));
    let report = app.pki.run_lifecycle_job(&app.db).await.unwrap().unwrap();
    assert_eq!(report.expired, 1);
    assert_eq!(
        app.pki
            .certificate(&app.db, &who, new.id)
            .await
            .unwrap()
            .status,
        CertStatus::Expired
    );
    let newer = app
        .pki
        .reissue(&app.db, &who, new.id, KeySource::Cloud(&pin("604172")))
        .await
        .unwrap();
    assert_eq!(
        app.pki
            .certificate(&app.db, &who, new.id)
            .await
            .unwrap()
            .status,
        CertStatus::Expired
    );
    assert_eq!(newer.status, CertStatus::Active);
    assert_eq!(
        store::audit::by_action(&app.db, Action::CertificateExpired, 5)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store::audit::verify(&app.db).await.unwrap().is_ok());
}

/// The lifecycle job: one renewal notice per certificate entering its window, expiry marked
/// once, and only one node at a time (PostgreSQL advisory lock).
async fn lifecycle_job_notices_and_expires(engine: Engine) {
    let app = spawn_app(engine).await;
    let who = owner("user-seo");
    let cert = cloud_cert("user-seo")
        .kind(CertKind::Joint)
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    let report = app.pki.run_lifecycle_job(&app.db).await.unwrap().unwrap();
    assert_eq!((report.expired, report.renewal_notices), (0, 0));

    app.clock
        .advance(cert.not_after - app.clock.now() - Duration::days(29));
    let report = app.pki.run_lifecycle_job(&app.db).await.unwrap().unwrap();
    assert_eq!((report.expired, report.renewal_notices), (0, 1));
    let report = app.pki.run_lifecycle_job(&app.db).await.unwrap().unwrap();
    assert_eq!(report.renewal_notices, 0, "told once");
    let notices = store::audit::by_action(&app.db, Action::RenewalNoticeRecorded, 5)
        .await
        .unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].subject.as_deref(), Some(cert.serial.as_str()));

    app.clock.advance(Duration::days(30));
    assert_eq!(
        app.pki
            .run_lifecycle_job(&app.db)
            .await
            .unwrap()
            .unwrap()
            .expired,
        1
    );
    assert_eq!(
        app.pki
            .certificate(&app.db, &who, cert.id)
            .await
            .unwrap()
            .status,
        CertStatus::Expired
    );

    if engine == Engine::Postgres {
        use sea_orm::TransactionTrait;
        // Another node holds the job: this one skips it.
        let other = app.db.begin().await.unwrap();
        assert!(
            store::pki::try_job_lock(&other, 0x6669_6e63_0001)
                .await
                .unwrap()
        );
        assert!(app.pki.run_lifecycle_job(&app.db).await.unwrap().is_none());
        other.commit().await.unwrap();
        assert!(app.pki.run_lifecycle_job(&app.db).await.unwrap().is_some());
    }
}

/// Only an active certificate yields a signing key: suspended, revoked and expired ones never
/// sign, and a device certificate has no key here.
async fn only_active_certificates_sign(engine: Engine) {
    let app = spawn_app(engine).await;
    let who = owner("user-han");
    let cert = cloud_cert("user-han")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    assert_eq!(
        app.pki.signing_key(&app.db, &who, cert.id).await.unwrap(),
        cert.custody_key_id.unwrap()
    );
    app.pki.suspend(&app.db, &who, cert.id).await.unwrap();
    let err = app
        .pki
        .signing_key(&app.db, &who, cert.id)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::Lifecycle(LifecycleError::NotAllowed {
                status: "suspended",
                ..
            })
        ),
        "{err:?}"
    );
    app.pki.resume(&app.db, &who, cert.id).await.unwrap();
    assert!(app.pki.signing_key(&app.db, &who, cert.id).await.is_ok());
    app.pki
        .revoke(&app.db, &who, cert.id, RevocationReason::Unspecified)
        .await
        .unwrap();
    assert!(app.pki.signing_key(&app.db, &who, cert.id).await.is_err());

    let other = cloud_cert("user-han")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    app.clock.advance(Duration::days(365 * 3 + 2));
    let err = app
        .pki
        .signing_key(&app.db, &who, other.id)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::Lifecycle(LifecycleError::NotAllowed {
                status: "expired",
                ..
            })
        ),
        "{err:?}"
    );
    assert!(matches!(
        app.pki
            .signing_key(&app.db, &owner("user-x"), other.id)
            .await
            .unwrap_err(),
        PkiError::NotFound
    ));
}

/// When the stored CRL is due for refresh, concurrent fetches may all try to publish the
/// next one: one wins the CRL number, and every fetch is answered with a valid CRL.
async fn concurrent_crl_refresh_answers_everyone(engine: Engine) {
    let app = spawn_app(engine).await;
    let first = app.get("/pki/crl/issuing.crl").await;
    assert_eq!(first.status(), 200);
    app.clock.advance(Duration::hours(19));
    let fetches = (0..8).map(|_| app.get("/pki/crl/issuing.crl"));
    let answers = futures_util::future::join_all(fetches).await;
    for a in answers {
        assert_eq!(a.status(), 200);
        let der = a.bytes().await.unwrap();
        let (_, crl) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&der).expect("a CRL");
        let next = crl.next_update().unwrap().timestamp();
        assert!(next > app.clock.now().timestamp(), "a CRL valid now");
    }
    app.stop().await;
}

both_engines!(
    concurrent_crl_refresh_answers_everyone,
    lifecycle_job_notices_and_expires,
    only_active_certificates_sign,
    ca_hierarchy_is_published,
    financial_certificate_profile,
    joint_device_certificates_from_csrs,
    revocation_reaches_crl_and_ocsp,
    ocsp_get_unknown_and_malformed,
    suspend_and_resume,
    renewal_window_and_rules,
    reissue_supersedes_the_old_certificate,
);

/// With the AWS backend the root and issuing keys live in KMS (RSA-2048) and sign through
/// `Sign`; openssl accepts what they signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_keys_in_aws_kms_sign_through_kms() {
    let kms = moto_kms_settings(&moto_url()).await;
    let app = spawn_app_tuned(Engine::Sqlite, |s| {
        s.kms = kms;
        s.pki.ca_algorithm = "rsa2048".into();
    })
    .await;
    let o = Openssl::for_app(&app).await;
    let (ok, out) = o.run(&[
        "verify",
        "-check_ss_sig",
        "-CAfile",
        "root.pem",
        "issuing.pem",
    ]);
    assert!(ok, "{out}");
    let cert = cloud_cert("user-aws")
        .kind(CertKind::Joint)
        .issue(&app)
        .await;
    let leaf = o.write_cert("leaf.pem", &cert.der);
    assert!(o.verify(&leaf, None).0);
    app.pki
        .revoke(
            &app.db,
            &owner("user-aws"),
            cert.id,
            RevocationReason::CessationOfOperation,
        )
        .await
        .unwrap();
    let crl = o.crl(&app).await;
    let (ok, out) = o.verify(&leaf, Some(&crl));
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let kinds: Vec<_> = store::pki::authorities(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.id, a.key_kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("issuing".to_string(), "kms".to_string()),
            ("ocsp".into(), "sealed".into()),
            ("root".into(), "kms".into())
        ]
    );
}
