//! The fuzz targets' seed corpora (`fuzz/seeds/<target>/`) and fixtures (`fuzz/fixtures/`)
//! are real artefacts: the test hierarchy's certificates, CSRs, PKCS#12 files and OCSP
//! requests from the openssl CLI, NPKI key files as `npki` makes them, the CA certificates of
//! a running fincert, RSASSA-PSS parameters from fincert's own encoder and the CSC bodies the
//! CSC tests send. With `FINCERT_WRITE_FUZZ_SEEDS=1` this test makes them anew and writes them
//! into `fuzz/`; either way it runs every committed seed through its target's entry point
//! (`fincert::fuzzing`, exactly what the target calls) and requires it to be accepted, so a
//! seed that stops reaching past the first refusal fails here instead of quietly making the
//! fuzz smoke run (scripts/test.sh) shallow.

use std::path::{Path, PathBuf};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use der::{Decode, Encode};
use fincert::{
    config::Engine,
    fuzzing::{self, Reached},
    pki::{foreign::TrustAnchors, ocsp::IssuerHashes},
    signing::{cms, request::Algorithm},
};
use serde_json::json;

use super::{
    ForeignCa,
    keys::export_p12,
    npki::{pkcs8_with_r, sign_pri_pbes2, sign_pri_pbkdf1},
};
use crate::helpers::*;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn write(rel: &str, bytes: &[u8]) {
    let path = fuzz_dir().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fuzz_dir().join(rel)).unwrap_or_else(|e| panic!("fuzz/{rel}: {e}"))
}

/// Every seed of `target`, by file name.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join("seeds").join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(out.len() >= 2, "{target}: at least two seeds");
    out
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes every seed and fixture anew (`FINCERT_WRITE_FUZZ_SEEDS=1`).
async fn write_seeds() {
    let password = String::from_utf8(read("fixtures/password.txt")).unwrap();
    let ca = ForeignCa::new();
    let dir = ca.dir.path();
    let leaf = ca.leaf("holder", "1.2.410.200005.1.1.4");
    write("fixtures/foreign-root.der", &{
        openssl(
            dir,
            &[
                "x509", "-in", "root.pem", "-outform", "DER", "-out", "root.der",
            ],
        );
        ca.read("root.der")
    });
    write("fixtures/foreign-ca.der", &ca.intermediate_der());
    // One hour after the fixtures were made: inside every validity.
    let now = chrono::Utc::now().timestamp() + 3600;
    write("fixtures/now.txt", now.to_string().as_bytes());

    // csr: RSA-2048 as DER, P-256 as PEM.
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "dev.key",
            "-subj",
            "/CN=device key",
            "-outform",
            "DER",
            "-out",
            "rsa.csr",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "dev-ec.key",
            "-subj",
            "/CN=device key",
            "-out",
            "p256.csr",
        ],
    );
    write("seeds/csr/rsa2048.der", &ca.read("rsa.csr"));
    write("seeds/csr/p256.pem", &ca.read("p256.csr"));

    // certificate: the holder's leaf as DER and PEM.
    write("seeds/certificate/leaf.der", &leaf);
    write("seeds/certificate/leaf.pem", &ca.read("holder.pem"));

    // pkcs12: OpenSSL 3's default (PBES2, AES-256, HMAC-SHA-256 MAC) and the legacy 3DES form.
    write(
        "seeds/pkcs12/pbes2-aes.p12",
        &export_p12(&ca, "holder", &password, &[]),
    );
    write(
        "seeds/pkcs12/legacy-3des.p12",
        &export_p12(
            &ca,
            "holder",
            &password,
            &[
                "-certpbe",
                "PBE-SHA1-3DES",
                "-keypbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        ),
    );

    // npki_key: signPri.key under seedCBCWithSHA1 and under PBES2, both carrying R.
    let pkcs8 = pkcs8_with_r(&ca, "holder", &[7u8; 20]);
    write(
        "seeds/npki_key/seed-pbkdf1.key",
        &sign_pri_pbkdf1(&ca, &pkcs8, &password, 2048),
    );
    write(
        "seeds/npki_key/seed-pbes2.key",
        &sign_pri_pbes2(&pkcs8, &password, 2048),
    );

    // A running fincert's issuing CA and OCSP responder.
    let app = spawn_app(Engine::Sqlite).await;
    let issuing = app.get("/pki/ca/issuing.crt").await.bytes().await.unwrap();
    let responder = app.get("/pki/ca/ocsp.crt").await.bytes().await.unwrap();
    write("fixtures/issuing.der", &issuing);
    write("fixtures/ocsp.der", &responder);
    std::fs::write(dir.join("issuing.der"), &issuing).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            "issuing.der",
            "-out",
            "issuing.pem",
        ],
    );

    // cms: the signer certificates (an uploaded one, the CA's) and fincert's PSS parameters.
    write("seeds/cms/foreign-leaf.der", &leaf);
    write("seeds/cms/issuing.der", &issuing);
    let pss = cms::signature_algorithm(Algorithm::RsaPssSha256).unwrap();
    write(
        "seeds/cms/pss-params.der",
        &pss.parameters.unwrap().to_der().unwrap(),
    );

    // ocsp_request: openssl's SHA-1 request with a nonce, a SHA-256 one without, and the
    // first as a GET path (base64, percent-encoded).
    openssl(
        dir,
        &[
            "ocsp",
            "-issuer",
            "issuing.pem",
            "-serial",
            "0x5fe2a1c49b3d7e01",
            "-reqout",
            "sha1.req",
        ],
    );
    openssl(
        dir,
        &[
            "ocsp",
            "-sha256",
            "-issuer",
            "issuing.pem",
            "-serial",
            "0x0123456789abcdef",
            "-no_nonce",
            "-reqout",
            "sha256.req",
        ],
    );
    let sha1 = ca.read("sha1.req");
    write("seeds/ocsp_request/sha1-nonce.der", &sha1);
    write("seeds/ocsp_request/sha256.der", &ca.read("sha256.req"));
    let get = STANDARD
        .encode(&sha1)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    write("seeds/ocsp_request/get-path.txt", get.as_bytes());

    // csc_body: what the CSC tests send to each method.
    let id = "0f8e2c7a-3b1d-4e5f-9a6b-7c8d9e0f1a2b";
    let h1 = STANDARD.encode([0x11u8; 32]);
    let h2 = STANDARD.encode([0x22u8; 32]);
    let bodies = [
        ("list-v1.json", json!({"maxResults": 10, "pageToken": "0"})),
        (
            "list-v2.json",
            json!({"onlyValid": true, "credentialInfo": true, "certificates": "chain", "certInfo": true}),
        ),
        (
            "info.json",
            json!({"credentialID": id, "certificates": "chain", "certInfo": true, "authInfo": true}),
        ),
        (
            "authorize-v1.json",
            json!({"credentialID": id, "numSignatures": 2, "hash": [h1, h2], "PIN": "135792", "clientData": "12345678"}),
        ),
        (
            "authorize-v2.json",
            json!({"credentialID": id, "numSignatures": 1, "hashes": [h1], "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "authData": [{"id": "PIN", "value": "135792"}]}),
        ),
        (
            "extend.json",
            json!({"credentialID": id, "SAD": "c2FkLXZhbHVl", "hash": [h1]}),
        ),
        (
            "signhash-v1.json",
            json!({"credentialID": id, "SAD": "c2FkLXZhbHVl", "hash": [h1], "hashAlgo": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.1"}),
        ),
        (
            "signhash-v2-pss.json",
            json!({"credentialID": id, "SAD": "c2FkLXZhbHVl", "hashes": [h1], "signAlgo": "1.2.840.113549.1.1.10", "signAlgoParams": STANDARD.encode(read("seeds/cms/pss-params.der")), "returnValidationInfo": true}),
        ),
    ];
    for (name, body) in bodies {
        write(
            &format!("seeds/csc_body/{name}"),
            &serde_json::to_vec(&body).unwrap(),
        );
    }
    app.stop().await;
}

/// Every committed seed is accepted by its target's entry point.
#[tokio::test]
async fn fuzz_seeds_reach_past_the_parsers_refusals() {
    if std::env::var_os("FINCERT_WRITE_FUZZ_SEEDS").is_some() {
        write_seeds().await;
    }
    let password = String::from_utf8(read("fixtures/password.txt")).unwrap();
    let now_secs: i64 = String::from_utf8(read("fixtures/now.txt"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let now = chrono::DateTime::from_timestamp(now_secs, 0).unwrap();
    let anchors = TrustAnchors::from_der(vec![read("fixtures/foreign-root.der")]);
    let intermediates = vec![read("fixtures/foreign-ca.der")];
    let issuing = x509_cert::Certificate::from_der(&read("fixtures/issuing.der")).unwrap();
    let responder = x509_cert::Certificate::from_der(&read("fixtures/ocsp.der")).unwrap();
    let hashes = IssuerHashes::of(&issuing).unwrap();
    let accepted = Ok(Reached::Accepted);

    for (name, seed) in seeds("csr") {
        assert_eq!(fuzzing::csr(&seed), accepted, "csr/{name}");
    }
    for (name, seed) in seeds("certificate") {
        assert_eq!(
            fuzzing::certificate(&seed, &intermediates, &anchors, now),
            accepted,
            "certificate/{name}"
        );
        // Without the intermediate there is no path: the target reaches path building.
        assert_eq!(
            fuzzing::certificate(&seed, &[], &anchors, now),
            Ok(Reached::Refused),
            "certificate/{name} without its chain"
        );
    }
    for (name, seed) in seeds("pkcs12") {
        assert_eq!(fuzzing::pkcs12(&seed, &password), accepted, "pkcs12/{name}");
        assert_eq!(
            fuzzing::pkcs12(&seed, "not the password"),
            Ok(Reached::Refused),
            "pkcs12/{name} with a wrong password"
        );
    }
    for (name, seed) in seeds("npki_key") {
        assert_eq!(
            fuzzing::npki_key(&seed, password.as_bytes()),
            accepted,
            "npki_key/{name}"
        );
    }
    for (name, seed) in seeds("cms") {
        if name.starts_with("pss") {
            assert!(cms::is_supported_pss(&seed), "cms/{name}");
        } else {
            assert_eq!(fuzzing::cms(&seed, now), accepted, "cms/{name}");
        }
    }
    for (name, seed) in seeds("ocsp_request") {
        assert_eq!(
            fuzzing::ocsp_request(&seed, &hashes, &responder, now),
            accepted,
            "ocsp_request/{name}"
        );
    }
    for (name, seed) in seeds("csc_body") {
        assert_eq!(
            fuzzing::csc_body(&seed),
            Reached::Accepted,
            "csc_body/{name}"
        );
    }
    // And the refusals are real: garbage reaches none of them.
    let garbage = b"\x30\x82\xff\xff not DER, not JSON";
    assert_eq!(fuzzing::csr(garbage), Ok(Reached::Refused));
    assert_eq!(fuzzing::pkcs12(garbage, &password), Ok(Reached::Refused));
    assert_eq!(
        fuzzing::ocsp_request(garbage, &hashes, &responder, now),
        Ok(Reached::Refused)
    );
    assert_eq!(fuzzing::csc_body(garbage), Reached::Refused);
}
