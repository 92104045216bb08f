//! Someone else's verifier: signatures and CMS that fincert makes, checked by the openssl
//! command line, never by fincert's own code.

/// Verifies `signature` over `message` with openssl; `scheme` picks the padding.
pub fn openssl_verify(
    scheme: fincert::custody::keys::SignatureScheme,
    spki_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    use fincert::custody::keys::SignatureScheme as S;
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("pub.der"), spki_der).unwrap();
    std::fs::write(p("msg"), message).unwrap();
    std::fs::write(p("sig"), signature).unwrap();
    let converted = std::process::Command::new("openssl")
        .args(["pkey", "-pubin", "-inform", "DER", "-in"])
        .arg(p("pub.der"))
        .arg("-out")
        .arg(p("pub.pem"))
        .status()
        .expect("openssl");
    assert!(converted.success(), "openssl reads the public key");
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["dgst", "-sha256", "-verify"])
        .arg(p("pub.pem"))
        .arg("-signature")
        .arg(p("sig"));
    if scheme == S::RsaPssSha256 {
        cmd.args([
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
        ]);
    }
    let out = cmd.arg(p("msg")).output().expect("openssl dgst");
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

/// `openssl cms -verify` of a DER CMS against the root, with detached `content` if given;
/// returns whether it verified and what openssl wrote out (the content it found).
pub fn openssl_cms_verify(cms: &[u8], root: &[u8], content: Option<&[u8]>) -> (bool, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("sig.der"), cms).unwrap();
    std::fs::write(p("root.pem"), fincert::pki::x509::pem_certificate(root)).unwrap();
    let mut cmd = std::process::Command::new("openssl");
    cmd.args([
        "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any", "-in",
    ])
    .arg(p("sig.der"))
    .arg("-CAfile")
    .arg(p("root.pem"))
    .arg("-out")
    .arg(p("out"));
    if let Some(c) = content {
        std::fs::write(p("content"), c).unwrap();
        cmd.arg("-content").arg(p("content"));
    }
    let out = cmd.output().expect("openssl cms");
    let verified = out.status.success();
    if !verified {
        eprintln!("openssl: {}", String::from_utf8_lossy(&out.stderr));
    }
    (verified, std::fs::read(p("out")).unwrap_or_default())
}
