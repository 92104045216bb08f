//! NPKI key pairs (`signCert.der` + `signPri.key`) made here: a generated key with the identity
//! random `R` attribute, encrypted with SEED-CBC under PBKDF1 (`seedCBCWithSHA1`, the cipher
//! run by the openssl CLI, not by fincert's SEED) and under PBES2/PBKDF2 (fincert's SEED;
//! and one written by `openssl pkcs8 -v2 seed-cbc`), imported over HTTP, signed with and
//! verified by openssl; and every bad input refused with nothing stored.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use der::{
    Decode, Encode,
    asn1::{BitString, OctetString, SetOfVec},
};
use fincert::{
    config::Engine,
    pki::{foreign::npki, foreign::seed, profile::Usage},
    store,
};
use serde_json::{Value, json};
use x509_cert::{attr::Attribute, spki::AlgorithmIdentifierOwned};

use super::{
    ForeignCa, app_trusting,
    keys::{imported_holder, sign_with_imported},
};
use crate::{both_engines, helpers::*};

const PASSWORD: &str = "npki-Pass!23";

/// `<name>.key` as PKCS#8 DER with the `vidRandom` attribute `r` added.
pub(crate) fn pkcs8_with_r(ca: &ForeignCa, name: &str, r: &[u8]) -> Vec<u8> {
    let der = format!("{name}.pk8");
    ca.run(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        &format!("{name}.key"),
        "-outform",
        "DER",
        "-out",
        &der,
    ]);
    let mut info = npki::PrivateKeyInfo::from_der(&ca.read(&der)).unwrap();
    let value = der::Any::encode_from(&BitString::from_bytes(r).unwrap()).unwrap();
    let attr = Attribute {
        oid: npki::VID_RANDOM,
        values: SetOfVec::try_from(vec![value]).unwrap(),
    };
    info.attributes = Some(SetOfVec::try_from(vec![attr]).unwrap());
    info.to_der().unwrap()
}

fn any(value: &impl Encode) -> der::Any {
    der::Any::from_der(&value.to_der().unwrap()).unwrap()
}

/// `signPri.key` under `seedCBCWithSHA1`: PBKDF1-SHA1, the SEED-CBC run by `openssl enc`.
pub(crate) fn sign_pri_pbkdf1(
    ca: &ForeignCa,
    pkcs8: &[u8],
    password: &str,
    iterations: u32,
) -> Vec<u8> {
    let salt = [0x5au8, 1, 2, 3, 4, 5, 6, 7];
    let (key, iv) = npki::pbkdf1_seed(password.as_bytes(), &salt, iterations);
    std::fs::write(ca.dir.path().join("plain.bin"), pkcs8).unwrap();
    ca.run(&[
        "enc",
        "-seed-cbc",
        "-provider",
        "legacy",
        "-provider",
        "default",
        "-K",
        &hex::encode(&key[..]),
        "-iv",
        &hex::encode(iv),
        "-in",
        "plain.bin",
        "-out",
        "ct.bin",
    ]);
    let info = npki::EncryptedPrivateKeyInfo {
        encryption_algorithm: AlgorithmIdentifierOwned {
            oid: npki::SEED_CBC_WITH_SHA1,
            parameters: Some(any(&npki::PbeParameter {
                salt: OctetString::new(salt.to_vec()).unwrap(),
                iteration_count: iterations,
            })),
        },
        encrypted_data: OctetString::new(ca.read("ct.bin")).unwrap(),
    };
    info.to_der().unwrap()
}

/// `signPri.key` under PBES2: PBKDF2-HMAC-SHA1 (the default PRF, left out) and fincert's
/// SEED-CBC.
pub(super) fn sign_pri_pbes2(pkcs8: &[u8], password: &str, iterations: u32) -> Vec<u8> {
    let (salt, iv) = ([0x11u8; 8], [0x22u8; 16]);
    let mut key = [0u8; 16];
    aws_lc_rs::pbkdf2::derive(
        aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA1,
        std::num::NonZeroU32::new(iterations).unwrap(),
        &salt,
        password.as_bytes(),
        &mut key,
    );
    let params = npki::Pbes2Params {
        key_derivation_func: AlgorithmIdentifierOwned {
            oid: npki::PBKDF2,
            parameters: Some(any(&npki::Pbkdf2Params {
                salt: OctetString::new(salt.to_vec()).unwrap(),
                iteration_count: iterations,
                key_length: Some(16),
                prf: None,
            })),
        },
        encryption_scheme: AlgorithmIdentifierOwned {
            oid: npki::SEED_CBC,
            parameters: Some(any(&OctetString::new(iv.to_vec()).unwrap())),
        },
    };
    npki::EncryptedPrivateKeyInfo {
        encryption_algorithm: AlgorithmIdentifierOwned {
            oid: npki::PBES2,
            parameters: Some(any(&params)),
        },
        encrypted_data: OctetString::new(seed::cbc_encrypt(&key, &iv, pkcs8)).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// The request body: the pair, the foreign intermediate, the password and [`PIN`].
fn npki_body(ca: &ForeignCa, cert: &[u8], key_file: &[u8], password: &str) -> Value {
    json!({
        "sign_cert": STANDARD.encode(cert),
        "intermediates": [STANDARD.encode(ca.intermediate_der())],
        "sign_pri": STANDARD.encode(key_file),
        "password": password,
        "pin": PIN,
    })
}

/// Three NPKI pairs, one per encryption, each imported, signed in with and signed with; the
/// key decrypts to exactly the PKCS#8 with `R` (fincert's SEED agrees with OpenSSL's).
async fn npki_pairs_import_and_sign(engine: Engine) {
    let ca = ForeignCa::new();
    let cert1 = ca.leaf("npki1", "1.2.410.200005.1.1.1");
    let cert2 = ca.leaf("npki2", "1.2.410.200004.5.2.1.7.1");
    let cert3 = ca.leaf("npki3", "1.2.410.200004.5.4.1.1");
    let r = [0xa5u8; 20];
    let pk1 = pkcs8_with_r(&ca, "npki1", &r);
    let pk2 = pkcs8_with_r(&ca, "npki2", &r);
    let file1 = sign_pri_pbkdf1(&ca, &pk1, PASSWORD, 2048);
    let file2 = sign_pri_pbes2(&pk2, PASSWORD, 2048);
    ca.run(&[
        "pkcs8",
        "-topk8",
        "-v2",
        "seed-cbc",
        "-v2prf",
        "hmacWithSHA256",
        "-iter",
        "2048",
        "-provider",
        "legacy",
        "-provider",
        "default",
        "-in",
        "npki3.key",
        "-outform",
        "DER",
        "-out",
        "npki3.enc",
        "-passout",
        &format!("pass:{PASSWORD}"),
    ]);
    let file3 = ca.read("npki3.enc");

    // In memory, the key file opens to the PKCS#8 it was made from, `R` included.
    for (file, plain) in [(&file1, &pk1), (&file2, &pk2)] {
        let opened = npki::open_sign_pri(file, PASSWORD.as_bytes()).unwrap();
        assert_eq!(opened.pkcs8.as_slice(), plain.as_slice());
        assert!(opened.has_vid_random);
    }
    assert!(
        !npki::open_sign_pri(&file3, PASSWORD.as_bytes())
            .unwrap()
            .has_vid_random
    );

    let app = app_trusting(engine, &ca).await;
    for (n, (cert, file, usage)) in [
        (&cert1, &file1, Usage::General),
        (&cert2, &file2, Usage::Restricted),
        (&cert3, &file3, Usage::General),
    ]
    .into_iter()
    .enumerate()
    {
        let who = user(&app, &format!("33091000010{n}")).await;
        let ours = cloud_cert(who.as_str()).issue(&app).await;
        let session = sign_in(&app, ours.id).await;
        let resp = post(
            &app,
            "/v1/foreign-certificates/npki",
            &session,
            npki_body(&ca, cert, file, PASSWORD),
        )
        .await;
        assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
        let view: Value = resp.json().await.unwrap();
        crate::openapi::check_response("post", "/v1/foreign-certificates/npki", 201, &view);
        assert_eq!(
            (
                view["source"].as_str(),
                view["usage"].as_str(),
                view["key_held"].as_bool()
            ),
            (Some("npki"), Some(usage.as_str()), Some(true))
        );
        let id = uuid::Uuid::parse_str(view["id"].as_str().unwrap()).unwrap();
        let h = imported_holder(&app, who, id).await;
        if n < 2 {
            sign_with_imported(&app, &ca, &h, usage).await;
        }
    }

    // Neither the files nor the password is in the database; `R` only sealed.
    use sea_orm::{ConnectionTrait, Statement};
    let backend = app.db.get_database_backend();
    for sql in [
        "SELECT sealed_private FROM custody_keys",
        "SELECT certificate_der FROM foreign_certificates",
        "SELECT chain_der FROM foreign_certificates",
    ] {
        for row in app
            .db
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .unwrap()
        {
            let b: Vec<u8> = row.try_get_by_index(0).unwrap();
            assert!(!b.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()));
            assert!(!b.windows(20).any(|w| w == r), "R never in plaintext");
            assert!(!b.windows(64).any(|w| file1.windows(64).nth(2) == Some(w)));
        }
    }
}

/// Bad input: garbage, a wrong password, a key of another certificate, an unsupported
/// cipher, a costly KDF; each a clear problem, nothing stored, and the attempts counted.
async fn npki_bad_input_is_refused(engine: Engine) {
    let ca = ForeignCa::new();
    let cert = ca.leaf("bad", "1.2.410.200005.1.1.1");
    let other = ca.leaf("other", "1.2.410.200005.1.1.1");
    let pk = pkcs8_with_r(&ca, "bad", &[7u8; 20]);
    let file = sign_pri_pbes2(&pk, PASSWORD, 2048);
    ca.run(&[
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-in",
        "bad.key",
        "-outform",
        "DER",
        "-out",
        "aes.enc",
        "-passout",
        &format!("pass:{PASSWORD}"),
    ]);
    let aes = ca.read("aes.enc");
    let costly = sign_pri_pbkdf1(&ca, &pk, PASSWORD, 1_000_000);
    let app = app_trusting(engine, &ca).await;
    let ours = cloud_cert("user-npki-bad").issue(&app).await;
    let session = sign_in(&app, ours.id).await;
    let send = |body: Value| post(&app, "/v1/foreign-certificates/npki", &session, body);
    let keys_before = store::custody::count_keys(&app.db).await.unwrap();
    let head_before = store::audit::head(&app.db).await.unwrap();

    for (body, status, code) in [
        (
            npki_body(&ca, &cert, b"\x30\x03garbage", PASSWORD),
            400,
            "malformed_input",
        ),
        (
            npki_body(&ca, &cert, &file, "wrong-password"),
            422,
            "key_file_unreadable",
        ),
        (
            npki_body(&ca, &other, &file, PASSWORD),
            422,
            "unsupported_key",
        ),
        (
            npki_body(&ca, b"\x30\x03not a cert", &file, PASSWORD),
            400,
            "malformed_input",
        ),
        (
            npki_body(&ca, &cert, &aes, PASSWORD),
            422,
            "unsupported_key_file_cipher",
        ),
        (
            npki_body(&ca, &cert, &costly, PASSWORD),
            422,
            "kdf_too_costly",
        ),
    ] {
        let started = std::time::Instant::now();
        let p = assert_problem(send(body).await, status, code).await;
        assert!(!p.to_string().contains(PASSWORD), "{p}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{code}"
        );
    }
    assert_problem(
        send(json!({"sign_cert": "%%%", "sign_pri": "x", "password": "p", "pin": PIN})).await,
        400,
        "invalid_json",
    )
    .await;
    assert_eq!(
        store::custody::count_keys(&app.db).await.unwrap(),
        keys_before,
        "nothing stored"
    );
    assert_eq!(
        store::audit::head(&app.db).await.unwrap(),
        head_before,
        "nothing audited"
    );
    // Ten tries per user per ten minutes, on every node together: six were counted above.
    for _ in 0..4 {
        assert_problem(
            send(npki_body(&ca, &cert, &file, "guess")).await,
            422,
            "key_file_unreadable",
        )
        .await;
    }
    let limited = send(npki_body(&ca, &cert, &file, PASSWORD)).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
}

both_engines!(npki_pairs_import_and_sign, npki_bad_input_is_refused);
