//! A scratch directory with the CA's files (root, issuing, OCSP responder, chain) written out
//! for the openssl command line, and openssl run against them at the app clock's time.

use std::path::{Path, PathBuf};

use fincert::{clock::Clock, pki::x509::pem_certificate};

use crate::helpers::*;

/// A scratch directory with the CA files written out for openssl.
pub(super) struct Openssl {
    dir: tempfile::TempDir,
    clock: fincert::clock::FixedClock,
}

impl Openssl {
    pub(super) async fn for_app(app: &TestApp) -> Self {
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

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(super) fn write_cert(&self, name: &str, der: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, pem_certificate(der)).unwrap();
        p
    }

    /// Runs openssl in the scratch directory; returns (success, stdout + stderr).
    pub(super) fn run(&self, args: &[&str]) -> (bool, String) {
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
    pub(super) fn verify(&self, leaf: &Path, crl: Option<&Path>) -> (bool, String) {
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

    pub(super) fn text(&self, cert: &Path) -> String {
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
    pub(super) fn ocsp(&self, app: &TestApp, cert: &Path) -> String {
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

    /// The CRL as published once the revocation refresh has run (the background runs it every
    /// five seconds on whichever node gets the job lock; this runs it now).
    pub(super) async fn crl(&self, app: &TestApp) -> PathBuf {
        refresh_revocation(app).await;
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

    /// The root's ARL, fetched over HTTP and written as `root.crl.pem`.
    pub(super) async fn arl(&self, app: &TestApp) -> PathBuf {
        let resp = app.get("/pki/crl/root.crl").await;
        assert_eq!(resp.status(), 200, "the ARL is published");
        let der = resp.bytes().await.unwrap();
        std::fs::write(self.path("root.crl.der"), &der).unwrap();
        let (ok, out) = self.run(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            "root.crl.der",
            "-out",
            "root.crl.pem",
        ]);
        assert!(ok, "{out}");
        self.path("root.crl.pem")
    }

    /// `openssl verify -crl_check_all` at the app clock's time: revocation checked at every
    /// level of the path, with the issuing CA's CRL and the root's ARL as fetched from the app.
    pub(super) async fn verify_full_chain(&self, app: &TestApp, leaf: &Path) -> (bool, String) {
        let crl = std::fs::read_to_string(self.crl(app).await).unwrap();
        let arl = std::fs::read_to_string(self.arl(app).await).unwrap();
        std::fs::write(self.path("crls.pem"), format!("{crl}{arl}")).unwrap();
        let at = self.clock.now().timestamp().to_string();
        let leaf = leaf.to_string_lossy().into_owned();
        self.run(&[
            "verify",
            "-attime",
            &at,
            "-crl_check_all",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "-CRLfile",
            "crls.pem",
            &leaf,
        ])
    }

    /// Asks the live OCSP responder about `target` (`-cert FILE` or `-serial N`), checks the
    /// answer with openssl, and keeps the DER response it got as `out`.
    pub(super) fn ocsp_respout(&self, app: &TestApp, target: [&str; 2], out: &str) -> String {
        let url = app.url("/pki/ocsp");
        let (ok, text) = self.run(&[
            "ocsp",
            "-issuer",
            "issuing.pem",
            target[0],
            target[1],
            "-url",
            &url,
            "-CAfile",
            "chain.pem",
            "-respout",
            out,
        ]);
        assert!(ok, "openssl ocsp failed: {text}");
        text
    }
}

/// Runs the revocation refresh now, waiting (bounded) while the app's own background run holds
/// the job lock.
pub(super) async fn refresh_revocation(app: &TestApp) -> fincert::pki::RevocationReport {
    for _ in 0..100 {
        if let Some(report) = app.pki.refresh_revocation(&app.db).await.unwrap() {
            return report;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the job lock stayed taken for five seconds");
}
