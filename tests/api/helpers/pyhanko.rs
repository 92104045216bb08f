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
