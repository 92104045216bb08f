//! Registering certificates issued elsewhere: by public certificate (chain to a configured trust
//! anchor) or by importing a PKCS#12 file into the cloud keystore. A foreign CA made with the
//! openssl CLI stands in for yessign, with yessign's policy OIDs. `keys`: imported keys used
//! like issued ones (consent, sign-in, native and CSC signing); `npki`: NPKI key files.

use chrono::Duration;
use fincert::{
    config::Engine,
    custody::keys::SignatureScheme,
    domain::pin::Pin,
    error::{ApiError, ErrorCode},
    pki::{PkiError, foreign::ForeignError, profile::Usage},
    store,
};

use crate::{both_engines, helpers::*};

mod fuzz_seeds;
mod heavy;
pub(crate) mod keys;
pub(crate) mod npki;

pub(crate) struct ForeignCa {
    pub(crate) dir: tempfile::TempDir,
}

impl ForeignCa {
    pub(crate) fn run(&self, args: &[&str]) {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub(crate) fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    pub(crate) fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(name)).unwrap()
    }

    /// Root → intermediate CA, both P-256.
    pub(crate) fn new() -> Self {
        let ca = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        ca.write(
            "ca.ext",
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
        );
        ca.run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-subj",
            "/C=KR/O=yessign/CN=Test Root CA",
            "-days",
            "3650",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        ca.run(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.csr",
            "-subj",
            "/C=KR/O=yessign/CN=Test Issuing CA",
        ]);
        ca.run(&[
            "x509",
            "-req",
            "-in",
            "ca.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-out",
            "ca.pem",
            "-days",
            "1825",
            "-extfile",
            "ca.ext",
        ]);
        ca
    }

    /// A personal RSA-2048 certificate with `policy`, issued by the intermediate; returns its
    /// DER, and leaves `<name>.key`, `<name>.pem` in the directory.
    pub(crate) fn leaf(&self, name: &str, policy: &str) -> Vec<u8> {
        self.write(&format!("{name}.ext"), &format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\ncertificatePolicies={policy}\n"));
        self.run(&[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-utf8",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            "/C=KR/O=yessign/OU=personal4IB/CN=홍길동()0012345",
        ]);
        self.run(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "365",
            "-extfile",
            &format!("{name}.ext"),
        ]);
        self.run(&[
            "x509",
            "-in",
            &format!("{name}.pem"),
            "-outform",
            "DER",
            "-out",
            &format!("{name}.der"),
        ]);
        self.read(&format!("{name}.der"))
    }

    pub(crate) fn intermediate_der(&self) -> Vec<u8> {
        self.run(&["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"]);
        self.read("ca.der")
    }
}

/// An app whose trust anchors include the foreign root.
pub(super) async fn app_trusting(engine: Engine, ca: &ForeignCa) -> TestApp {
    let test_db = TestDb::new(engine).await;
    let anchors = test_db.data_dir.path().join("trust-anchors");
    std::fs::create_dir_all(&anchors).unwrap();
    std::fs::copy(
        ca.dir.path().join("root.pem"),
        anchors.join("yessign-test-root.pem"),
    )
    .unwrap();
    spawn_app_on(test_db).await
}

async fn public_certificates_must_chain_to_an_anchor(engine: Engine) {
    // Everything openssl makes is made before the app's clock starts (it stamps real time).
    let ca = ForeignCa::new();
    let restricted = ca.leaf("banking", "1.2.410.200005.1.1.4");
    ca.leaf("general", "1.2.410.200005.1.1.1");
    let unknown = ca.leaf("unknown", "1.2.3.4.5");
    let corporate = ca.leaf("corporate", "1.2.410.200005.1.1.5");
    let app = app_trusting(engine, &ca).await;
    let who = owner("user-reg");
    let inter = vec![ca.intermediate_der()];

    let view = app
        .pki
        .register_foreign(&app.db, &who, &restricted, &inter)
        .await
        .unwrap();
    assert_eq!(
        (view.usage, view.source.as_str()),
        (Usage::Restricted, "public")
    );
    assert!(view.subject.contains("홍길동()0012345"), "{}", view.subject);
    assert!(view.issuer.contains("Test Issuing CA"));
    let pem = std::fs::read(ca.dir.path().join("general.pem")).unwrap();
    assert_eq!(
        app.pki
            .register_foreign(&app.db, &who, &pem, &inter)
            .await
            .unwrap()
            .usage,
        Usage::General
    );

    let code = |e: PkiError| ApiError::from(e).problem().document.code;
    let err = app
        .pki
        .register_foreign(&app.db, &who, &restricted, &inter)
        .await
        .unwrap_err();
    assert_eq!(code(err), ErrorCode::AlreadyRegistered);
    let err = app
        .pki
        .register_foreign(&app.db, &who, &restricted, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, PkiError::Foreign(ForeignError::Untrusted)),
        "no path without the intermediate"
    );
    // An unknown policy gets the narrower, restricted-use default; a Korean corporate
    // policy is not a person's certificate.
    assert_eq!(
        app.pki
            .register_foreign(&app.db, &who, &unknown, &inter)
            .await
            .unwrap()
            .usage,
        Usage::Restricted
    );
    let err = app
        .pki
        .register_foreign(&app.db, &who, &corporate, &inter)
        .await
        .unwrap_err();
    assert_eq!(code(err), ErrorCode::NotASigningCertificate);
    let err = app
        .pki
        .register_foreign(&app.db, &who, b"\x30\x03garbage", &inter)
        .await
        .unwrap_err();
    assert_eq!(ApiError::from(err).problem().status, 400);
    // A certificate fincert itself issued is not trusted through the foreign anchors.
    let ours = app.pki.ca_certificate("issuing").unwrap().to_vec();
    let err = app
        .pki
        .register_foreign(&app.db, &who, &ours, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::Foreign(ForeignError::NotForSigning | ForeignError::Untrusted)
        ),
        "{err:?}"
    );

    app.clock.advance(Duration::days(400));
    let late = ca.leaf("late", "1.2.410.200005.1.1.4");
    let err = app
        .pki
        .register_foreign(&app.db, &who, &late, &inter)
        .await
        .unwrap_err();
    assert_eq!(code(err), ErrorCode::CertificateNotValidNow);
    assert_eq!(
        app.pki
            .foreign_certificates(&app.db, &who)
            .await
            .unwrap()
            .len(),
        3
    );
}

/// A PKCS#12 file is imported: its key is re-sealed under KMS, bound to a new PIN, and signs
/// for its certificate; the file's password is never stored; a wrong password changes nothing.
async fn pkcs12_import_reseals_the_key(engine: Engine) {
    let ca = ForeignCa::new();
    ca.leaf("holder", "1.2.410.200005.1.1.4");
    ca.run(&[
        "pkcs12",
        "-export",
        "-inkey",
        "holder.key",
        "-in",
        "holder.pem",
        "-certfile",
        "ca.pem",
        "-out",
        "holder.p12",
        "-passout",
        "pass:p12-secret-password",
    ]);
    let app = app_trusting(engine, &ca).await;
    let who = owner("user-p12");
    let p12 = ca.read("holder.p12");
    let pin = Pin::parse("482915").unwrap();

    let keys_before = store::custody::count_keys(&app.db).await.unwrap();
    let head_before = store::audit::head(&app.db).await.unwrap();
    for wrong in ["wrong-password", ""] {
        let err = app
            .pki
            .import_pkcs12(&app.db, &who, &p12, wrong, &pin)
            .await
            .unwrap_err();
        let p = ApiError::from(err).problem();
        assert_eq!((p.status, &p.code), (422, &ErrorCode::Pkcs12Unreadable));
    }
    let err = app
        .pki
        .import_pkcs12(&app.db, &who, b"not a p12", "x", &pin)
        .await
        .unwrap_err();
    assert_eq!(
        ApiError::from(err).problem().code,
        ErrorCode::Pkcs12Unreadable
    );
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

    let view = app
        .pki
        .import_pkcs12(&app.db, &who, &p12, "p12-secret-password", &pin)
        .await
        .unwrap();
    assert_eq!(
        (view.source.as_str(), view.usage),
        ("pkcs12", Usage::Restricted)
    );
    let key_id = view.custody_key_id.unwrap();
    let act = app
        .custody
        .activate_with_pin(&app.db, &who, key_id, &pin, Some(1))
        .await
        .unwrap();
    let sig = app
        .custody
        .sign(
            &who,
            act.id,
            SignatureScheme::RsaPkcs1Sha256,
            "로그인".as_bytes(),
        )
        .unwrap();
    ca.run(&[
        "x509",
        "-in",
        "holder.pem",
        "-noout",
        "-pubkey",
        "-out",
        "holder.pub",
    ]);
    ca.run(&[
        "pkey",
        "-pubin",
        "-in",
        "holder.pub",
        "-outform",
        "DER",
        "-out",
        "holder.spki",
    ]);
    assert!(openssl_verify(
        SignatureScheme::RsaPkcs1Sha256,
        &ca.read("holder.spki"),
        "로그인".as_bytes(),
        &sig
    ));

    // Neither the password nor the file's key is anywhere in the database.
    use sea_orm::{ConnectionTrait, Statement};
    let backend = app.db.get_database_backend();
    let key_der = {
        ca.run(&[
            "pkey",
            "-in",
            "holder.key",
            "-outform",
            "DER",
            "-out",
            "holder.key.der",
        ]);
        ca.read("holder.key.der")
    };
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
            assert!(!b.windows(19).any(|w| w == b"p12-secret-password"));
            assert!(
                !b.windows(64).any(|w| key_der.windows(64).next() == Some(w)),
                "no plaintext key"
            );
        }
    }
    let err = app
        .pki
        .import_pkcs12(&app.db, &who, &p12, "p12-secret-password", &pin)
        .await
        .unwrap_err();
    assert_eq!(
        ApiError::from(err).problem().code,
        ErrorCode::AlreadyRegistered
    );
}

/// The same import through the HTTP API, by a signed-in user.
async fn pkcs12_import_over_http(engine: Engine) {
    use base64::Engine as _;
    let ca = ForeignCa::new();
    ca.leaf("holder", "1.2.410.200005.1.1.1");
    ca.run(&[
        "pkcs12",
        "-export",
        "-inkey",
        "holder.key",
        "-in",
        "holder.pem",
        "-certfile",
        "ca.pem",
        "-out",
        "holder.p12",
        "-passout",
        "pass:pw-1234",
    ]);
    let app = app_trusting(engine, &ca).await;
    let ours = cloud_cert("user-http-p12")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    let token = sign_in(&app, ours.id).await;
    let p12 = base64::engine::general_purpose::STANDARD.encode(ca.read("holder.p12"));
    let send =
        |body: serde_json::Value| post(&app, "/v1/foreign-certificates/pkcs12", &token, body);
    assert_problem(
        send(serde_json::json!({"pkcs12": p12, "password": "wrong", "pin": "604172"})).await,
        422,
        "pkcs12_unreadable",
    )
    .await;
    assert_problem(
        send(serde_json::json!({"pkcs12": p12, "password": "pw-1234", "pin": "123456"})).await,
        400,
        "invalid_json",
    )
    .await;
    let resp =
        send(serde_json::json!({"pkcs12": p12, "password": "pw-1234", "pin": "604172"})).await;
    assert_eq!(resp.status(), 201);
    let view: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (view["source"].as_str(), view["usage"].as_str()),
        (Some("pkcs12"), Some("general"))
    );
    let list: serde_json::Value = get(&app, "/v1/foreign-certificates", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

both_engines!(
    public_certificates_must_chain_to_an_anchor,
    pkcs12_import_reseals_the_key,
    pkcs12_import_over_http
);
