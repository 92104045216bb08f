//! The `fincert` binary of this test run, and running it with a clean environment (only the
//! `FINCERT_*` variables a test gives it).

use std::path::PathBuf;

/// The `fincert` binary built for this test run.
pub fn fincert_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fincert"))
}

/// Runs the binary with only the given `FINCERT_*` variables; returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(fincert_bin());
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("FINCERT_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("FINCERT_LOG_LEVEL", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run fincert");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
