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
}

/// A moto server of one test's own (so the test can stop it); killed on drop.
pub struct PrivateMoto {
    child: std::process::Child,
    pub url: String,
}

impl PrivateMoto {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port).await
    }

    async fn start_on(port: u16) -> Self {
        let bin = std::env::var("TEST_FINCERT_MOTO_BIN")
            .expect("TEST_FINCERT_MOTO_BIN is unset: run the suite with scripts/test.sh");
        let child = std::process::Command::new(bin)
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

/// Settings for an app on `test_db` with the given KMS backend (fresh moto keys for AWS).
pub async fn settings_for(test_db: &TestDb, backend: Backend) -> Settings {
    let mut s = test_db.settings();
    if backend == Backend::Aws {
        use_moto(&mut s, &moto_url()).await;
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
