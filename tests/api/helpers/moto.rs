//! moto as the AWS KMS endpoint: the suite's shared moto (`TEST_FINCERT_MOTO_URL`, started by
//! the test command), fresh keys on it, a private moto a test may stop (the "KMS goes down"
//! moment), and apps on either KMS backend.

use fincert::config::{Engine, Settings};

use super::{
    app::{TestApp, spawn_app_with},
    db::TestDb,
};

/// Which KMS backend a custody test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    Aws,
    /// A PKCS#11 HSM: SoftHSM2, in a child process of the test's own (`custody_matrix!`).
    Pkcs11,
}

/// The moto server the test command started.
pub fn moto_url() -> String {
    std::env::var("TEST_FINCERT_MOTO_URL").expect(
        "TEST_FINCERT_MOTO_URL is unset: run the suite with scripts/test.sh, which starts moto",
    )
}

/// A raw aws-sdk-kms client for moto (to create keys the way an operator would).
pub async fn moto_client(url: &str) -> aws_sdk_kms::Client {
    use aws_config::{BehaviorVersion, Region};
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("ap-northeast-2"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await;
    aws_sdk_kms::Client::new(&conf)
}

/// Creates a symmetric key on moto; returns its id.
pub async fn moto_symmetric_key(client: &aws_sdk_kms::Client) -> String {
    client
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .unwrap()
        .key_id
}

/// Creates an HMAC_256 key on moto; returns its id.
pub async fn moto_mac_key(client: &aws_sdk_kms::Client) -> String {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    client
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .expect("CreateKey HMAC_256")
        .key_metadata
        .unwrap()
        .key_id
}

/// KMS settings for fresh keys (wrapping + HMAC) on the moto at `url`.
pub async fn moto_kms_settings(url: &str) -> fincert::config::KmsSettings {
    let client = moto_client(url).await;
    let key = moto_symmetric_key(&client).await;
    let mac = moto_mac_key(&client).await;
    let mut s = Settings::default().kms;
    s.backend = fincert::config::KmsBackend::Aws;
    s.aws_endpoint_url = url.to_owned();
    s.aws_key_id = key;
    s.aws_mac_key_id = mac;
    s.aws_access_key_id = "test".into();
    s.aws_secret_access_key = "test".into();
    s.aws_timeout_ms = 1500;
    s
}

/// Creates an asymmetric signing key for the CA on moto, as Terraform makes it (`SIGN_VERIFY`,
/// the spec of `ca_algorithm`: `rsa2048` or `p256`); returns its id.
pub async fn moto_ca_key(client: &aws_sdk_kms::Client, ca_algorithm: &str) -> String {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let spec = match ca_algorithm {
        "rsa2048" => KeySpec::Rsa2048,
        "p256" => KeySpec::EccNistP256,
        other => panic!("no KMS key spec for {other}"),
    };
    client
        .create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect("CreateKey SIGN_VERIFY")
        .key_metadata
        .unwrap()
        .key_id
}

/// Points `s` at AWS KMS on the moto at `url`: fresh wrapping and HMAC keys, and root and
/// issuing CA keys of `s.pki.ca_algorithm` (set it first) that `ca init` adopts.
pub async fn use_moto(s: &mut Settings, url: &str) {
    s.kms = moto_kms_settings(url).await;
    let client = moto_client(url).await;
    s.pki.aws_root_key_id = moto_ca_key(&client, &s.pki.ca_algorithm).await;
    s.pki.aws_issuing_key_id = moto_ca_key(&client, &s.pki.ca_algorithm).await;
    s.audit.aws_key_id = moto_ca_key(&client, "p256").await;
}

/// A moto server of one test's own (so the test can stop it); killed on drop.
pub struct PrivateMoto {
    child: std::process::Child,
    pub url: String,
}

impl PrivateMoto {
    pub async fn start() -> Self {
        Self::start_on(super::free_port(), false).await
    }

    /// A moto whose KMS `Sign` follows AWS for large messages (`MessageType=DIGEST` signed as
    /// a digest, RAW messages over 4,096 bytes refused): `tests/api/pki/moto_digest.py`.
    pub async fn start_digest_aware() -> Self {
        Self::start_on(super::free_port(), true).await
    }

    async fn start_on(port: u16, digest_aware: bool) -> Self {
        let mut cmd = if digest_aware {
            let venv = std::env::var("TEST_FINCERT_VENV")
                .expect("TEST_FINCERT_VENV is unset: run the suite with scripts/test.sh");
            let mut cmd = std::process::Command::new(format!("{venv}/bin/python3"));
            cmd.arg(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/api/pki/moto_digest.py"),
            );
            cmd
        } else {
            std::process::Command::new(
                std::env::var("TEST_FINCERT_MOTO_BIN")
                    .expect("TEST_FINCERT_MOTO_BIN is unset: run the suite with scripts/test.sh"),
            )
        };
        let child = cmd
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto_server");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "moto did not start");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Self { child, url }
    }

    /// Stops the server now (the "KMS goes down" moment).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Settings for an app on `test_db` with the given KMS backend (fresh moto keys for AWS, the
/// test process's own SoftHSM token for PKCS#11).
pub async fn settings_for(test_db: &TestDb, backend: Backend) -> Settings {
    let mut s = test_db.settings();
    match backend {
        Backend::Local => {}
        Backend::Aws => use_moto(&mut s, &moto_url()).await,
        Backend::Pkcs11 => s.kms = super::SoftHsm::from_env().kms_settings(),
    }
    s
}

/// Spawns an app on a fresh database with the given KMS backend.
pub async fn spawn_custody_app(engine: Engine, backend: Backend) -> TestApp {
    let test_db = TestDb::new(engine).await;
    let settings = settings_for(&test_db, backend).await;
    spawn_app_with(test_db, settings).await
}

// ---------------------------------------------------------------------------------------------

/// One KMS `Sign` request as it went over the wire.
#[derive(Debug, Clone)]
pub struct SignSeen {
    /// `MessageType` as sent (`RAW` when the request named none, as KMS defaults).
    pub message_type: String,
    /// The `Message` bytes (base64-decoded).
    pub message: Vec<u8>,
}

/// A recording proxy in front of a KMS endpoint: forwards every request as it is and keeps
/// the body of each `Sign` call, so a test sees what fincert really sent.
pub struct KmsRecorder {
    pub url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<SignSeen>>>,
    handle: actix_web::dev::ServerHandle,
}

struct Upstream {
    url: String,
    http: reqwest::Client,
    seen: std::sync::Arc<std::sync::Mutex<Vec<SignSeen>>>,
}

async fn forward(
    req: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
    up: actix_web::web::Data<Upstream>,
) -> actix_web::HttpResponse {
    use base64::Engine as _;
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target == "TrentService.Sign" {
        let v: serde_json::Value = serde_json::from_slice(&body).expect("Sign body is JSON");
        let message = base64::engine::general_purpose::STANDARD
            .decode(v["Message"].as_str().expect("Message"))
            .expect("Message is base64");
        up.seen.lock().unwrap().push(SignSeen {
            message_type: v["MessageType"].as_str().unwrap_or("RAW").to_owned(),
            message,
        });
    }
    let mut out = up.http.post(format!("{}{}", up.url, req.uri()));
    for (name, value) in req.headers() {
        if name != "host" && name != "content-length" {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    let resp = out.body(body.to_vec()).send().await.expect("KMS upstream");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let bytes = resp.bytes().await.expect("upstream body");
    actix_web::HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type(content_type)
        .body(bytes.to_vec())
}

impl KmsRecorder {
    /// Listens on a free loopback port, forwarding to `upstream`.
    pub async fn start(upstream: &str) -> Self {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let data = actix_web::web::Data::new(Upstream {
            url: upstream.to_owned(),
            http: reqwest::Client::new(),
            seen: seen.clone(),
        });
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(data.clone())
                .app_data(actix_web::web::PayloadConfig::new(1 << 20))
                .default_service(actix_web::web::to(forward))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("bind the KMS recorder");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            seen,
            handle,
        }
    }

    /// Every `Sign` request so far, in order.
    pub fn signs(&self) -> Vec<SignSeen> {
        self.seen.lock().unwrap().clone()
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}
