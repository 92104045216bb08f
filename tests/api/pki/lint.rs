//! Everything the CA publishes, judged by DigiCert's pkilint (RFC 5280 / RFC 6960 linters, in
//! the test venv) and by openssl's full-chain revocation check: the hierarchy, end-entity
//! certificates of every kind × usage × storage, a renewed one, the CRL with entries, the
//! root's ARL, and OCSP answers good, revoked and unknown, all as the running service hands
//! them out.
//!
//! The verdict is pkilint's findings list: no ERROR or FATAL anywhere, and every NOTICE or
//! WARNING one of the few the README explains (`EXPLAINED`). A failure prints every finding.

use chrono::Duration;
use fincert::{
    clock::Clock,
    config::Engine,
    pki::{
        IssueRequest, KeySource,
        lifecycle::RevocationReason,
        profile::{CertKind, HolderName, Usage},
    },
};
use serde_json::Value;

use super::Openssl;
use crate::{helpers::*, infra::venv_bin};

/// NOTICE and WARNING findings that stay, each explained in the README ("Lint findings that
/// stay"): `(code, why in one line)`.
const EXPLAINED: &[(&str, &str)] = &[];

/// One pkilint finding.
#[derive(Debug, Clone)]
struct Finding {
    linter: &'static str,
    file: String,
    node: String,
    severity: String,
    code: String,
    message: Option<String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} @ {} [{}]{}",
            self.severity,
            self.code,
            self.file,
            self.node,
            self.linter,
            self.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )
    }
}

/// pkilint's linters over files in the scratch directory, collecting every finding of
/// severity NOTICE and above.
#[derive(Default)]
pub(super) struct Pkilint {
    findings: Vec<Finding>,
    runs: usize,
}

impl Pkilint {
    fn lint(&mut self, o: &Openssl, linter: &'static str, args: &[&str], files: &[&str]) {
        let mut cmd = std::process::Command::new(venv_bin(linter));
        cmd.arg("lint")
            .args(["-s", "NOTICE", "-f", "JSON"])
            .args(args)
            .args(files)
            .current_dir(o.path(""));
        let out = cmd.output().unwrap_or_else(|e| panic!("run {linter}: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{linter} {files:?} gave no JSON report ({e}): {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        self.runs += 1;
        let file = files.join(" → ");
        for result in report["results"].as_array().expect("results") {
            for d in result["finding_descriptions"].as_array().expect("findings") {
                self.findings.push(Finding {
                    linter,
                    file: file.clone(),
                    node: result["node_path"].as_str().unwrap_or_default().into(),
                    severity: d["severity"].as_str().unwrap_or_default().into(),
                    code: d["code"].as_str().unwrap_or_default().into(),
                    message: d["message"].as_str().map(str::to_owned),
                });
            }
        }
    }

    pub(super) fn cert(&mut self, o: &Openssl, file: &str) {
        self.lint(o, "lint_pkix_cert", &[], &[file]);
    }

    pub(super) fn pair(&mut self, o: &Openssl, issuer: &str, subject: &str) {
        self.lint(
            o,
            "lint_pkix_signer_signee_cert_chain",
            &[],
            &[issuer, subject],
        );
    }

    /// A leaf: the certificate alone, and as the issuing CA's subject.
    pub(super) fn leaf(&mut self, o: &Openssl, file: &str) {
        self.cert(o, file);
        self.pair(o, "issuing.pem", file);
    }

    pub(super) fn crl(&mut self, o: &Openssl, kind: &str, file: &str) {
        self.lint(o, "lint_crl", &["-t", kind, "-p", "PKIX"], &[file]);
    }

    pub(super) fn ocsp(&mut self, o: &Openssl, file: &str) {
        self.lint(o, "lint_ocsp_response", &[], &[file]);
    }

    /// The verdict: nothing at ERROR or FATAL, nothing at NOTICE or WARNING that is not
    /// explained.
    pub(super) fn assert_clean(&self) {
        let unexplained: Vec<String> = self
            .findings
            .iter()
            .filter(|f| {
                matches!(f.severity.as_str(), "ERROR" | "FATAL")
                    || !EXPLAINED.iter().any(|(code, _)| *code == f.code)
            })
            .map(ToString::to_string)
            .collect();
        assert!(
            unexplained.is_empty(),
            "pkilint findings ({} runs):\n{}",
            self.runs,
            unexplained.join("\n")
        );
    }
}

/// An openssl-made CSR for a device key (`rsa` or `ec`), DER.
fn device_csr(o: &Openssl, name: &str) -> Vec<u8> {
    let key_args: &[&str] = if name == "rsa" {
        &["-newkey", "rsa:2048"]
    } else {
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    };
    let key = format!("device-{name}.key");
    let out = format!("device-{name}.csr");
    let mut args = vec![
        "req",
        "-new",
        "-nodes",
        "-subj",
        "/CN=device",
        "-outform",
        "DER",
    ];
    args.extend(key_args);
    args.extend(["-keyout", key.as_str(), "-out", out.as_str()]);
    let (ok, text) = o.run(&args);
    assert!(ok, "openssl req: {text}");
    std::fs::read(o.path(&out)).unwrap()
}

/// Every artefact of a real hierarchy passes pkilint's PKIX linters, and every end-entity
/// certificate passes `openssl verify -crl_check_all` with the CRL and ARL the service serves.
pub(super) async fn everything_the_ca_publishes_is_lint_clean(engine: Engine) {
    let app = spawn_app(engine).await;
    lint_everything_the_ca_publishes(&app).await;
}

/// The whole judgement above, on `app`'s CA (also run on a CA whose keys are in an HSM).
pub(crate) async fn lint_everything_the_ca_publishes(app: &TestApp) {
    let o = Openssl::for_app(app).await;
    let mut lint = Pkilint::default();

    // The hierarchy as published (root.pem, issuing.pem, ocsp.pem came over HTTP).
    for name in ["root.pem", "issuing.pem", "ocsp.pem"] {
        lint.cert(&o, name);
    }
    lint.pair(&o, "root.pem", "root.pem");
    lint.pair(&o, "root.pem", "issuing.pem");
    lint.pair(&o, "issuing.pem", "ocsp.pem");

    // End-entity certificates: financial and joint × restricted and general (cloud keys),
    // joint × restricted and general with device keys (RSA and P-256 CSRs).
    let mut live = Vec::new();
    for kind in [CertKind::Financial, CertKind::Joint] {
        for usage in [Usage::Restricted, Usage::General] {
            let who = format!("user-{}-{}", kind.as_str(), usage.as_str());
            let cert = cloud_cert(&who).kind(kind).usage(usage).issue(app).await;
            live.push((format!("{who}.pem"), cert));
        }
    }
    for (usage, key) in [(Usage::Restricted, "rsa"), (Usage::General, "ec")] {
        let csr = device_csr(&o, key);
        let cert = app
            .pki
            .issue(
                &app.db,
                IssueRequest {
                    owner: owner("user-device"),
                    holder: HolderName::parse("김철수").unwrap(),
                    kind: CertKind::Joint,
                    usage,
                    key: KeySource::Device(&csr),
                },
            )
            .await
            .unwrap();
        live.push((format!("device-{key}.pem"), cert));
    }
    for (file, cert) in &live {
        o.write_cert(file, &cert.der);
        lint.leaf(&o, file);
    }

    // Revoked (a reason, and unspecified: no reason code at all) and suspended ones, so the
    // CRL has entries of each shape.
    let mut revoked = Vec::new();
    for (who, reason) in [
        ("user-revoked", Some(RevocationReason::KeyCompromise)),
        ("user-unspecified", Some(RevocationReason::Unspecified)),
        ("user-suspended", None),
    ] {
        let cert = cloud_cert(who).kind(CertKind::Joint).issue(app).await;
        match reason {
            Some(r) => app.pki.revoke(&app.db, &owner(who), cert.id, r).await,
            None => app.pki.suspend(&app.db, &owner(who), cert.id).await,
        }
        .unwrap();
        let file = format!("{who}.pem");
        o.write_cert(&file, &cert.der);
        lint.leaf(&o, &file);
        revoked.push(file);
    }

    // OCSP answers as the responder gives them over HTTP: good, revoked, unknown.
    let (good, _) = &live[0];
    let text = o.ocsp_respout(app, ["-cert", good], "ocsp-good.der");
    assert!(text.contains(": good"), "{text}");
    let text = o.ocsp_respout(app, ["-cert", &revoked[0]], "ocsp-revoked.der");
    assert!(text.contains(": revoked"), "{text}");
    let text = o.ocsp_respout(app, ["-serial", "0x1234567890"], "ocsp-unknown.der");
    assert!(text.contains(": unknown"), "{text}");
    for file in ["ocsp-good.der", "ocsp-revoked.der", "ocsp-unknown.der"] {
        lint.ocsp(&o, file);
    }

    // The CRL (three entries) and the root's ARL (none), as served.
    o.crl(app).await;
    o.arl(app).await;
    lint.crl(&o, "CRL", "issuing.crl.der");
    lint.crl(&o, "ARL", "root.crl.der");

    // Full-chain revocation: every live certificate passes, every revoked or held one fails.
    for (file, _) in &live {
        let (ok, out) = o.verify_full_chain(app, &o.path(file)).await;
        assert!(ok, "{file}: {out}");
    }
    for file in &revoked {
        let (ok, out) = o.verify_full_chain(app, &o.path(file)).await;
        assert!(!ok && out.contains("certificate revoked"), "{file}: {out}");
    }

    // A renewed certificate (joint, so a year on the clock), with a CRL and ARL re-signed at
    // that time.
    let (_, joint) = &live[2];
    assert_eq!(joint.kind, CertKind::Joint);
    app.clock
        .advance(joint.not_after - app.clock.now() - Duration::days(20));
    let who = format!("user-joint-{}", joint.usage.as_str());
    let renewed = app
        .pki
        .renew(&app.db, &owner(&who), joint.id, KeySource::Cloud(&pin(PIN)))
        .await
        .unwrap();
    o.write_cert("renewed.pem", &renewed.der);
    lint.leaf(&o, "renewed.pem");
    let (ok, out) = o.verify_full_chain(app, &o.path("renewed.pem")).await;
    assert!(ok, "renewed: {out}");
    lint.crl(&o, "CRL", "issuing.crl.der");
    lint.crl(&o, "ARL", "root.crl.der");

    lint.assert_clean();
    assert!(lint.runs >= 30, "{} pkilint runs", lint.runs);
}
