//! A CAdES/PAdES-aware judge that is not fincert: pyHanko (PyPI `pyhanko`, in the test venv that
//! scripts/test.sh fills), run through `tests/api/signing/cades_validate.py`.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The test venv's python (`TEST_FINCERT_VENV`, else the cache's venv).
fn venv_python() -> PathBuf {
    let venv = std::env::var("TEST_FINCERT_VENV").unwrap_or_else(|_| {
        format!(
            "{}/.cache/fincert/venv",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let python = Path::new(&venv).join("bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run the suite with scripts/test.sh, which installs pyHanko",
        python.display()
    );
    python
}

/// pyHanko's verdict on a DER CMS `ContentInfo`, with `root` (DER) the only trust anchor and
/// `content` the signed bytes of a detached signature: the JSON object the script prints
/// (`indication`, `subindication`, `intact`, `valid`, `trusted`, `signing_certificate_v2`,
/// `issuer_serial`, `missing`, `forbidden`, `certificates`, `baseline_b`). Offline, no
/// revocation checks.
pub fn cades_verdict(cms: &[u8], root: &[u8], content: Option<&[u8]>) -> Value {
    verdict(false, cms, root, content)
}

/// The same for the CMS of a PDF signature (PAdES-B-B: detached, no signing-time attribute).
pub fn pades_verdict(cms: &[u8], root: &[u8], content: &[u8]) -> Value {
    verdict(true, cms, root, Some(content))
}

fn verdict(pades: bool, cms: &[u8], root: &[u8], content: Option<&[u8]>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("sig.der"), cms).unwrap();
    std::fs::write(p("root.der"), root).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/signing/cades_validate.py");
    let mut cmd = std::process::Command::new(venv_python());
    cmd.arg(script);
    if pades {
        cmd.arg("--pades");
    }
    cmd.arg(p("sig.der")).arg(p("root.der"));
    if let Some(c) = content {
        std::fs::write(p("content"), c).unwrap();
        cmd.arg(p("content"));
    }
    let out = cmd.output().expect("run the pyHanko script");
    assert!(
        out.status.success(),
        "pyHanko script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "pyHanko script printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A PDF signed the way an institution would sign it through fincert, driven step by step
/// through `tests/api/signing/pades_pdf.py` (pyHanko prepares the document, embeds the CMS,
/// adds the DSS and judges the result). The steps share a scratch directory.
pub struct PadesPdf {
    dir: tempfile::TempDir,
}

impl PadesPdf {
    /// A one-page PDF with a signature placeholder (sub-filter `ETSI.CAdES.detached`) for the
    /// holder of `certs[0]` (then its CA certificates): the answer's `digest` (base64 SHA-256
    /// over the /ByteRange, what `cms-pades` signs) and `to_sign` (base64 SHA-256 of the PAdES
    /// signed attributes pyHanko made over that digest, what a CSC `signHash` signs).
    pub fn prepare(certs: &[&[u8]]) -> (Self, Value) {
        let dir = tempfile::tempdir().unwrap();
        let this = Self { dir };
        let mut args = vec!["prepare".into(), this.dir.path().display().to_string()];
        for (i, c) in certs.iter().enumerate() {
            args.push(this.write(&format!("cert{i}.der"), c));
        }
        let answer = this.run(&args);
        (this, answer)
    }

    /// Embeds a CMS `ContentInfo` (DER) in the placeholder: `signed.pdf`.
    pub fn embed(&self, cms: &[u8]) {
        let cms = self.write("sig.p7s", cms);
        self.run(&["embed".into(), self.work(), cms]);
    }

    /// Wraps a raw signature over the prepared signed attributes into pyHanko's CMS (signer
    /// `certs[0]`, then the CA certificates it carries) and embeds it: `signed.pdf`.
    pub fn assemble(&self, signature: &[u8], certs: &[&[u8]]) {
        let mut args = vec![
            "assemble".into(),
            self.work(),
            self.write("raw.sig", signature),
        ];
        for (i, c) in certs.iter().enumerate() {
            args.push(self.write(&format!("chain{i}.der"), c));
        }
        self.run(&args);
    }

    /// Adds `material` (a `validation_info` / `validationInfo` object) to `signed.pdf` as a
    /// DSS in an incremental update: `lt.pdf` (replaced at each call).
    pub fn add_dss(&self, material: &Value) -> Value {
        let path = self.write("material.json", material.to_string().as_bytes());
        self.run(&["add-dss".into(), self.work(), path])
    }

    /// pyHanko's verdict on `signed.pdf` (`lt: false`) or `lt.pdf` (`lt: true`), with `root`
    /// the only trust anchor: `baseline_b`, `baseline_lt`, `b_b`, `lt`, `dss`,
    /// `signing_certificate_v2`, … (see the script's documentation). Offline.
    pub fn validate(&self, lt: bool, root: &[u8]) -> Value {
        let pdf = self
            .dir
            .path()
            .join(if lt { "lt.pdf" } else { "signed.pdf" });
        let root = self.write("root.der", root);
        self.run(&["validate".into(), pdf.display().to_string(), root])
    }

    fn work(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }

    fn run(&self, args: &[String]) -> Value {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/signing/pades_pdf.py");
        let out = std::process::Command::new(venv_python())
            .arg(script)
            .args(args)
            .output()
            .expect("run the pyHanko PDF script");
        assert!(
            out.status.success(),
            "pades_pdf.py {}: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "pades_pdf.py {} printed no JSON ({e}): {}",
                args[0],
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}
