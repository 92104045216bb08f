//! A pod's sandbox for the runtime-contract test: the image's binary copied where the
//! Dockerfile puts it, the pod's numeric user (through `setpriv` when the test runs as root), a
//! read-only working directory that is HOME and TMPDIR, and exactly the environment kubelet
//! would give the container (its `envFrom` ConfigMap and `env`, Secret references resolved to
//! the test's values, and the service-link variables of a Service).

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use super::Manifests;
use crate::helpers::*;

/// The Secret values of this test, by (Secret, key): every secretKeyRef must be one of them.
pub(super) fn secret(secrets: &[((&str, &str), String)], name: &str, key: &str) -> String {
    secrets
        .iter()
        .find(|((n, k), _)| *n == name && *k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("the manifests reference Secret {name}/{key}, unknown here"))
}

/// The environment kubelet gives `container`: `envFrom` ConfigMaps, then `env` (literal values
/// and Secret/ConfigMap references), later entries overriding earlier ones as in Kubernetes.
pub(super) fn container_env(
    container: &Value,
    config: &[(String, String)],
    secrets: &[((&str, &str), String)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: String, v: String| {
        env.retain(|(ek, _)| *ek != k);
        env.push((k, v));
    };
    for from in container["envFrom"].as_array().into_iter().flatten() {
        let name = from["configMapRef"]["name"]
            .as_str()
            .unwrap_or_else(|| panic!("only configMapRef envFrom is expected: {from}"));
        assert_eq!(name, "fincert-config", "unknown ConfigMap {name}");
        for (k, v) in config {
            set(k.clone(), v.clone());
        }
    }
    for var in container["env"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap().to_owned();
        let value = if let Some(v) = var["value"].as_str() {
            v.to_owned()
        } else if let Some(r) = var["valueFrom"]["secretKeyRef"].as_object() {
            secret(
                secrets,
                r["name"].as_str().unwrap(),
                r["key"].as_str().unwrap(),
            )
        } else {
            panic!("unexpected env source for {name}: {var}")
        };
        set(name, value);
    }
    env
}

/// What kubelet injects into pods for `service` (docker-link style variables), as if
/// `enableServiceLinks` were on: fincert must start either way.
pub(super) fn service_links(service: &Value, cluster_ip: &str) -> Vec<(String, String)> {
    let prefix = service["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_uppercase()
        .replace('-', "_");
    let ports = service["spec"]["ports"].as_array().unwrap();
    let mut env = vec![(format!("{prefix}_SERVICE_HOST"), cluster_ip.to_owned())];
    for (i, p) in ports.iter().enumerate() {
        let port = p["port"].as_u64().unwrap();
        let proto = p["protocol"].as_str().unwrap_or("TCP");
        let url = format!("{}://{cluster_ip}:{port}", proto.to_lowercase());
        if i == 0 {
            env.push((format!("{prefix}_SERVICE_PORT"), port.to_string()));
            env.push((format!("{prefix}_PORT"), url.clone()));
        }
        if let Some(name) = p["name"].as_str() {
            env.push((
                format!(
                    "{prefix}_SERVICE_PORT_{}",
                    name.to_uppercase().replace('-', "_")
                ),
                port.to_string(),
            ));
        }
        let base = format!("{prefix}_PORT_{port}_{proto}");
        env.push((base.clone(), url));
        env.push((format!("{base}_PROTO"), proto.to_lowercase()));
        env.push((format!("{base}_PORT"), port.to_string()));
        env.push((format!("{base}_ADDR"), cluster_ip.to_owned()));
    }
    env
}

pub(super) fn value_of<'a>(env: &'a [(String, String)], key: &str) -> &'a str {
    env.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("the manifests do not set {key}"))
}

pub(super) fn override_env(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_owned(), value.to_owned()));
}

/// A pod's sandbox: the image's binary, its user, a read-only working directory.
pub(super) struct Pod {
    binary: PathBuf,
    pub(super) workdir: PathBuf,
    pub(super) uid: u64,
    pub(super) gid: u64,
    _root: tempfile::TempDir,
}

impl Pod {
    pub(super) fn new(pod_spec: &Value) -> Self {
        let sc = &pod_spec["securityContext"];
        let uid = sc["runAsUser"].as_u64().expect("runAsUser");
        let gid = sc["runAsGroup"].as_u64().expect("runAsGroup");
        assert!(uid > 0 && gid > 0 && sc["runAsNonRoot"] == true, "{sc}");
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin_dir = root.path().join("usr/local/bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        let binary = bin_dir.join("fincert");
        std::fs::copy(fincert_bin(), &binary).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o555)).unwrap();
        let workdir = root.path().join("home");
        std::fs::create_dir(&workdir).unwrap();
        std::fs::set_permissions(&workdir, std::fs::Permissions::from_mode(0o555)).unwrap();
        Self {
            binary,
            workdir,
            uid,
            gid,
            _root: root,
        }
    }

    /// The container's command line with exactly `env`, as the pod's user when this test runs
    /// as root (as a non-root test user otherwise: then it is not root either).
    pub(super) fn command(&self, args: &[String], env: &[(String, String)]) -> Command {
        let running_as_root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
        let mut cmd = if running_as_root {
            let mut c = Command::new("setpriv");
            c.args([
                format!("--reuid={}", self.uid),
                format!("--regid={}", self.gid),
                "--clear-groups".into(),
                "--".into(),
            ])
            .arg(&self.binary);
            c
        } else {
            Command::new(&self.binary)
        };
        cmd.args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("HOME", &self.workdir)
            .env("TMPDIR", &self.workdir)
            .current_dir(&self.workdir);
        cmd
    }

    /// Runs a Job's command to completion: (exit code, stdout, stderr).
    pub(super) fn run(&self, args: &[String], env: &[(String, String)]) -> (i32, String, String) {
        let out = self
            .command(args, env)
            .output()
            .expect("run the Job's command");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(super) fn args_of(container: &Value) -> Vec<String> {
    assert!(
        container["command"].is_null(),
        "the image's ENTRYPOINT is the binary: containers give args only"
    );
    container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// The sandbox is what it claims: the pod's user cannot write its working directory.
#[test]
fn the_sandbox_is_read_only_for_the_pods_user() {
    let m = Manifests::load();
    let spec = &m.get("Deployment", "fincert")["spec"]["template"]["spec"];
    let pod = Pod::new(spec);
    let running_as_root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let probe = pod.workdir.join("probe");
    let out = if running_as_root {
        Command::new("setpriv")
            .args([
                format!("--reuid={}", pod.uid),
                format!("--regid={}", pod.gid),
                "--clear-groups".into(),
                "--".into(),
                "touch".into(),
            ])
            .arg(&probe)
            .output()
            .unwrap()
    } else {
        Command::new("touch").arg(&probe).output().unwrap()
    };
    assert!(
        !out.status.success(),
        "the pod's user wrote {}",
        probe.display()
    );
    assert!(!Path::new(&probe).exists());
    if running_as_root {
        let id = Command::new("setpriv")
            .args([
                format!("--reuid={}", pod.uid),
                format!("--regid={}", pod.gid),
                "--clear-groups".into(),
                "--".into(),
                "id".into(),
                "-u".into(),
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&id.stdout).trim(),
            pod.uid.to_string()
        );
    }
}
