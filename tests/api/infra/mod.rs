//! infra/ as a platform team meets it, checked here because nothing in this suite can run
//! Docker, Kubernetes or AWS: the image's runtime contract (the binary started exactly as the
//! manifests start it), the Kubernetes manifests (kubernetes-validate --strict, the operators'
//! resources by structure, the alerts by promtool), the Dockerfile and its build context, and
//! Terraform (python-hcl2) with its IAM policy against the KMS calls in `src/`.
//!
//! | file           | checks                                                                  |
//! |----------------|-------------------------------------------------------------------------|
//! | `contract.rs`  | the Jobs' and the Deployment's command lines, env, user, read-only dir  |
//! | `pod.rs`       | the contract's sandbox: binary, user, read-only dir, kubelet's env      |
//! | `manifests.rs` | schemas, kustomizations, pod security, ports, probes, policies          |
//! | `operators.rs` | ServiceMonitor, PrometheusRule, ExternalSecret; alerts by promtool      |
//! | `image.rs`     | Dockerfile ↔ toolchain, manifests, build context (.dockerignore)      |
//! | `terraform.rs` | keys, RDS, IRSA ↔ manifests, `terraform fmt`                           |
//! | `iam.rs`       | IAM actions ↔ aws-sdk-kms calls in src/, context keys ↔ the code       |
//!
//! The Python tools live in the test venv (`TEST_FINCERT_VENV`, which scripts/test.sh fills),
//! promtool is Debian's (`TEST_FINCERT_PROMTOOL`, unpacked by scripts/test.sh).

mod contract;
mod iam;
mod image;
mod manifests;
mod operators;
mod pod;
mod terraform;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A program of the test venv (`kubernetes-validate`, `python`).
pub fn venv_bin(name: &str) -> PathBuf {
    let venv = std::env::var("TEST_FINCERT_VENV").unwrap_or_else(|_| {
        format!(
            "{}/.cache/fincert/venv",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let bin = Path::new(&venv).join("bin").join(name);
    assert!(
        bin.is_file(),
        "{} is missing: run the suite with scripts/test.sh, which installs it",
        bin.display()
    );
    bin
}

/// Runs `program args…`; returns (success, stdout + stderr).
pub fn run(program: &Path, args: &[&str], dir: &Path) -> (bool, String) {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A program on PATH, if there is one.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// Every YAML document of `path` (as JSON values).
pub fn yaml_docs(path: &Path) -> Vec<Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

/// The Kubernetes manifests: infra/k8s/base and the production overlay's patches.
pub struct Manifests {
    /// (file, document) of every base resource.
    pub base: Vec<(PathBuf, Value)>,
    /// (file, document) of the production overlay's own files (resources and patches).
    pub overlay: Vec<(PathBuf, Value)>,
}

impl Manifests {
    pub fn k8s() -> PathBuf {
        repo().join("infra/k8s")
    }

    pub fn load() -> Self {
        let read = |dir: &Path| {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                .filter(|p| !p.ends_with("kustomization.yaml"))
                .collect();
            files.sort();
            files
                .into_iter()
                .flat_map(|f| yaml_docs(&f).into_iter().map(move |d| (f.clone(), d)))
                .collect::<Vec<_>>()
        };
        Self {
            base: read(&Self::k8s().join("base")),
            overlay: read(&Self::k8s().join("overlays/production")),
        }
    }

    /// The base resource of `kind` named `name`.
    pub fn get(&self, kind: &str, name: &str) -> &Value {
        find(&self.base, kind, name).unwrap_or_else(|| panic!("no {kind} {name} in base"))
    }

    /// Every base resource of `kind`.
    pub fn all(&self, kind: &str) -> Vec<&Value> {
        self.base
            .iter()
            .map(|(_, d)| d)
            .filter(|d| d["kind"] == kind)
            .collect()
    }

    /// The data of ConfigMap `name` in production: the base's, with the overlay's patch
    /// merged key by key (what kustomize's strategic merge does to a ConfigMap's `data`).
    pub fn production_config(&self, name: &str) -> Vec<(String, String)> {
        let mut data: Vec<(String, String)> = strings(&self.get("ConfigMap", name)["data"]);
        if let Some(patch) = find(&self.overlay, "ConfigMap", name) {
            for (k, v) in strings(&patch["data"]) {
                match data.iter_mut().find(|(dk, _)| *dk == k) {
                    Some(slot) => slot.1 = v,
                    None => data.push((k, v)),
                }
            }
        }
        data
    }

    /// Every pod template (Deployment and Jobs) with the resource it belongs to.
    pub fn pod_specs(&self) -> Vec<(String, &Value)> {
        self.base
            .iter()
            .map(|(_, d)| d)
            .filter(|d| matches!(d["kind"].as_str(), Some("Deployment" | "Job")))
            .map(|d| {
                (
                    format!("{} {}", d["kind"].as_str().unwrap(), d["metadata"]["name"]),
                    &d["spec"]["template"]["spec"],
                )
            })
            .collect()
    }
}

fn find<'a>(docs: &'a [(PathBuf, Value)], kind: &str, name: &str) -> Option<&'a Value> {
    docs.iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

/// A YAML map of strings as (key, value) pairs, in file order; anything but strings panics.
pub fn strings(map: &Value) -> Vec<(String, String)> {
    map.as_object()
        .unwrap_or_else(|| panic!("not a map: {map}"))
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .unwrap_or_else(|| panic!("{k}: ConfigMap values must be strings, got {v}"))
                    .to_owned(),
            )
        })
        .collect()
}

/// The package version (Cargo.toml), which is the image tag.
pub fn package_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Whether `labels` carry every label of `selector` (no selector selects everything, as in
/// Kubernetes).
pub fn labels_match(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_none_or(|s| s.iter().all(|(k, v)| labels[k] == *v))
}
