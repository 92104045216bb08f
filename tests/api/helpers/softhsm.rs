//! SoftHSM2 as the PKCS#11 HSM: a token directory and configuration file of one test's own
//! (`softhsm2-util --init-token`), and the child process that test runs in.
//!
//! A PKCS#11 module is per process (one `C_Initialize`, and SoftHSM reads its configuration
//! once, from `SOFTHSM2_CONF`), and a test that pulls its token makes fincert `C_Finalize` the
//! module: so each HSM test runs in a process of its own. `hsm_tests!` makes, for each test
//! body, a test that prepares the token and re-runs this test binary for just that body (an
//! `#[ignore]`d test, so the harness never runs it by itself) with `SOFTHSM2_CONF` set.

use std::path::{Path, PathBuf};

use fincert::config::{KmsBackend, KmsSettings, Settings};

/// The label of every test's token (each test has a token directory of its own).
pub const TOKEN_LABEL: &str = "fincert-test";
/// A second token in the same directory: "another HSM" for tests that need one.
pub const OTHER_TOKEN_LABEL: &str = "fincert-other";
/// The token's security officer PIN.
pub const SO_PIN: &str = "so-4a7d0e91";
/// The token's user PIN (what fincert logs in with).
pub const USER_PIN: &str = "user-5c28b3f6";

/// The SoftHSM2 module the test command installed.
pub fn softhsm_module() -> String {
    std::env::var("TEST_FINCERT_SOFTHSM_MODULE").expect(
        "TEST_FINCERT_SOFTHSM_MODULE is unset: run the suite with scripts/test.sh, which installs SoftHSM2",
    )
}

/// One test's SoftHSM: `<dir>/softhsm2.conf` naming the token directory `<dir>/tokens`.
pub struct SoftHsm {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl SoftHsm {
    /// A fresh directory, configuration and two initialized tokens (`TOKEN_LABEL` and
    /// `OTHER_TOKEN_LABEL`, both with `USER_PIN`).
    pub fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        std::fs::create_dir(dir.join("tokens")).unwrap();
        std::fs::write(
            dir.join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                dir.join("tokens").display()
            ),
        )
        .unwrap();
        for label in [TOKEN_LABEL, OTHER_TOKEN_LABEL] {
            let out = std::process::Command::new("softhsm2-util")
                .args([
                    "--init-token",
                    "--free",
                    "--label",
                    label,
                    "--so-pin",
                    SO_PIN,
                    "--pin",
                    USER_PIN,
                ])
                .env("SOFTHSM2_CONF", dir.join("softhsm2.conf"))
                .output()
                .expect("softhsm2-util runs (Debian package softhsm2)");
            assert!(
                out.status.success(),
                "softhsm2-util --init-token: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Self {
            dir,
            _temp: Some(temp),
        }
    }

    /// In the child process: the SoftHSM its parent test prepared.
    pub fn from_env() -> Self {
        let dir = PathBuf::from(std::env::var("TEST_FINCERT_SOFTHSM_DIR").expect(
            "TEST_FINCERT_SOFTHSM_DIR is unset: this test body runs in a child process of its hsm_tests! test",
        ));
        assert_eq!(
            std::env::var_os("SOFTHSM2_CONF").map(PathBuf::from),
            Some(dir.join("softhsm2.conf")),
            "SOFTHSM2_CONF names this test's configuration"
        );
        Self { dir, _temp: None }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The token directory.
    pub fn tokens(&self) -> PathBuf {
        self.dir.join("tokens")
    }

    /// KMS settings for this token (keys created at first use).
    pub fn kms_settings(&self) -> KmsSettings {
        let mut s = Settings::default().kms;
        s.backend = KmsBackend::Pkcs11;
        s.pkcs11_module = softhsm_module();
        s.pkcs11_token_label = TOKEN_LABEL.into();
        s.pkcs11_pin = USER_PIN.into();
        s.pkcs11_create_keys = true;
        s.pkcs11_timeout_ms = 2000;
        s
    }

    /// KMS settings for the other token (another HSM's keys).
    pub fn other_kms_settings(&self) -> KmsSettings {
        let mut s = self.kms_settings();
        s.pkcs11_token_label = OTHER_TOKEN_LABEL.into();
        s
    }

    /// Pulls the token: its directory moves away (as a token taken out of its reader, or an
    /// HSM gone from the network).
    pub fn pull(&self) {
        std::fs::rename(self.tokens(), self.dir.join("tokens.pulled")).unwrap();
    }

    /// Puts the token back.
    pub fn put_back(&self) {
        std::fs::rename(self.dir.join("tokens.pulled"), self.tokens()).unwrap();
    }
}

/// Runs the test `name` (an `#[ignore]`d body made by `hsm_tests!`) in a child process of this
/// test binary, on a fresh SoftHSM of its own; fails with the child's output if it fails.
pub fn run_in_child(name: &str) {
    let hsm = SoftHsm::new();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SOFTHSM2_CONF", hsm.dir().join("softhsm2.conf"))
        .env("TEST_FINCERT_SOFTHSM_DIR", hsm.dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} failed in its process ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name} did not run in its process:\n{stdout}"
    );
}

/// Runs an HSM test body on a runtime of its own (as `#[tokio::test]` would, two workers),
/// drops that runtime with every task on it, then finalizes the module: SoftHSM2 may crash in
/// its exit-time destructors if the process ends with the module still initialized.
pub fn run_then_finalize(body: impl std::future::Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(body);
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    fincert::custody::kms::pkcs11::finalize_all();
}

/// Makes each HSM test body run in a process of its own (see the module doc).
/// `hsm_tests!(name)` for `async fn name(hsm: SoftHsm)` gives `name::in_its_own_process`;
/// `hsm_tests!(engines: name)` for `async fn name(engine: Engine, hsm: SoftHsm)` gives
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! hsm_tests {
    (engines: $($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                $crate::helpers::run_in_child(concat!(module_path!(), "::sqlite_body").split_once("::").unwrap().1)
            }
            #[test]
            fn postgres() {
                $crate::helpers::run_in_child(concat!(module_path!(), "::postgres_body").split_once("::").unwrap().1)
            }
            #[ignore = "the body of `sqlite`, which runs it in a process of its own"]
            #[test]
            fn sqlite_body() {
                $crate::helpers::run_then_finalize(super::$name(fincert::config::Engine::Sqlite, $crate::helpers::SoftHsm::from_env()))
            }
            #[ignore = "the body of `postgres`, which runs it in a process of its own"]
            #[test]
            fn postgres_body() {
                $crate::helpers::run_then_finalize(super::$name(fincert::config::Engine::Postgres, $crate::helpers::SoftHsm::from_env()))
            }
        }
    )*};
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn in_its_own_process() {
                $crate::helpers::run_in_child(concat!(module_path!(), "::body").split_once("::").unwrap().1)
            }
            #[ignore = "the body of `in_its_own_process`, which runs it in a process of its own"]
            #[test]
            fn body() {
                $crate::helpers::run_then_finalize(super::$name($crate::helpers::SoftHsm::from_env()))
            }
        }
    )*};
}
