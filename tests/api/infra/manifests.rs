//! The Kubernetes manifests (infra/k8s): every file valid for Kubernetes (kubernetes-validate
//! --strict, offline), the kustomizations complete, every pod restricted, ports, probes and
//! settings consistent across Deployment, Service, Ingress, NetworkPolicy and ConfigMap. The
//! operators' resources and the alerts are `operators.rs`'s.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Manifests, labels_match, on_path, package_version, run, venv_bin, yaml_docs};

/// Kinds whose schema is an operator's CRD: checked by their structure in `operators.rs`.
const CRD_KINDS: &[&str] = &["ServiceMonitor", "PrometheusRule", "ExternalSecret"];

/// The oldest Kubernetes the manifests support (preStop `sleep` is on by default from 1.30)
/// and the newest kubernetes-validate knows.
const KUBERNETES: &[&str] = &["1.31.0", "1.37.0"];

fn manifest_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["base", "overlays/production"] {
        for e in std::fs::read_dir(Manifests::k8s().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") && !p.ends_with("kustomization.yaml") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Runs kubernetes-validate --strict on `files` for each supported version; every document
/// must pass, and only operator kinds may lack a schema.
fn validate(files: &[PathBuf]) {
    let docs: Vec<Value> = files.iter().flat_map(|f| yaml_docs(f)).collect();
    let crds = docs
        .iter()
        .filter(|d| CRD_KINDS.contains(&d["kind"].as_str().unwrap_or_default()))
        .count();
    let tool = venv_bin("kubernetes-validate");
    for version in KUBERNETES {
        let mut args = vec!["--strict", "-k", version];
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        args.extend(names.iter().map(String::as_str));
        let (ok, out) = run(&tool, &args, &Manifests::k8s());
        assert!(ok, "kubernetes-validate {version}:\n{out}");
        let passed = out
            .lines()
            .filter(|l| l.contains(" passed for resource "))
            .count();
        let no_schema: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("Couldn't find schema for kind"))
            .collect();
        assert_eq!(passed, docs.len() - crds, "{version}:\n{out}");
        assert_eq!(no_schema.len(), crds, "{version}:\n{out}");
        for line in no_schema {
            assert!(
                CRD_KINDS
                    .iter()
                    .any(|k| line.contains(&format!("kind {k} with api version"))),
                "a kind without a schema that is no operator's: {line}"
            );
        }
    }
}

#[test]
fn every_manifest_passes_kubernetes_validate_strict() {
    validate(&manifest_files());
}

/// The production overlay as `kubectl apply -k` renders it, when kubectl (whose kustomize is
/// built in) is installed: valid, and what the other tests assume of it.
#[test]
fn kustomize_renders_the_production_overlay() {
    let Some(kubectl) = on_path("kubectl") else {
        eprintln!("NOTICE: kubectl is not on PATH; the rendered overlay is not checked");
        return;
    };
    let (ok, out) = run(
        &kubectl,
        &["kustomize", "overlays/production"],
        &Manifests::k8s(),
    );
    assert!(ok, "kubectl kustomize:\n{out}");
    let dir = tempfile::tempdir().unwrap();
    let rendered = dir.path().join("production.yaml");
    std::fs::write(&rendered, &out).unwrap();
    validate(std::slice::from_ref(&rendered));

    let docs = yaml_docs(&rendered);
    let m = Manifests::load();
    let config = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "fincert-config")
        .unwrap();
    let mut rendered_data = super::strings(&config["data"]);
    let mut merged = m.production_config("fincert-config");
    rendered_data.sort();
    merged.sort();
    assert_eq!(
        rendered_data, merged,
        "the contract test's merge is kustomize's"
    );
    let kustomization =
        &yaml_docs(&Manifests::k8s().join("overlays/production/kustomization.yaml"))[0];
    let image = &kustomization["images"][0];
    let want = format!(
        "{}:{}",
        image["newName"].as_str().unwrap(),
        image["newTag"].as_str().unwrap()
    );
    for d in &docs {
        assert_eq!(
            d["metadata"]["namespace"].as_str().unwrap_or("fincert"),
            "fincert"
        );
        if let Some(spec) = d["spec"]["template"]["spec"].as_object() {
            for c in spec["containers"].as_array().unwrap() {
                assert_eq!(c["image"], want.as_str(), "{}", d["metadata"]["name"]);
            }
        }
    }
    let jobs: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "Job")
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    let release = format!("fincert-migrate-{}", package_version().replace('.', "-"));
    assert!(jobs.contains(&release.as_str()), "{jobs:?}");
}

#[test]
fn kustomizations_list_exactly_the_files_there_are() {
    let k8s = Manifests::k8s();
    let listed = |dir: &Path, key: &str| -> Vec<String> {
        let k = &yaml_docs(&dir.join("kustomization.yaml"))[0];
        k[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().or_else(|| v["path"].as_str()))
            .map(str::to_owned)
            .collect()
    };
    let files_in = |dir: &Path| -> Vec<String> {
        let mut f: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
            .collect();
        f.sort();
        f
    };
    let base = k8s.join("base");
    let mut resources = listed(&base, "resources");
    resources.sort();
    assert_eq!(
        resources,
        files_in(&base),
        "base/kustomization.yaml resources"
    );

    let prod = k8s.join("overlays/production");
    let resources = listed(&prod, "resources");
    let patches = listed(&prod, "patches");
    for r in &resources {
        let p = prod.join(r);
        assert!(
            p.is_file() || p.join("kustomization.yaml").is_file(),
            "overlay resource {r} does not exist"
        );
    }
    let mut own: Vec<String> = resources
        .iter()
        .chain(&patches)
        .filter(|r| !r.starts_with(".."))
        .cloned()
        .collect();
    own.sort();
    assert_eq!(
        own,
        files_in(&prod),
        "overlay files not listed, or listed and missing"
    );

    let k = &yaml_docs(&prod.join("kustomization.yaml"))[0];
    let image = &k["images"][0];
    assert_eq!(image["name"], "fincert", "the base's image name");
    assert_eq!(
        image["newTag"],
        package_version(),
        "the release's image tag"
    );
    let suffix = format!("fincert-migrate-{}", package_version().replace('.', "-"));
    let patch = k["patches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["target"]["name"] == "fincert-migrate")
        .expect("the migrate Job's per-release name");
    assert!(
        patch["patch"].as_str().unwrap().contains(&suffix),
        "the migrate Job is named for the image tag: {suffix}"
    );
}

fn has_all_capabilities_dropped(sc: &Value) -> bool {
    sc["capabilities"]["drop"] == serde_json::json!(["ALL"]) && sc["capabilities"]["add"].is_null()
}

#[test]
fn every_pod_meets_the_restricted_pod_security_standard() {
    let m = Manifests::load();
    let ns = m.get("Namespace", "fincert");
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    let accounts: Vec<&str> = m
        .all("ServiceAccount")
        .iter()
        .map(|s| {
            assert_eq!(
                s["automountServiceAccountToken"], false,
                "{}",
                s["metadata"]["name"]
            );
            s["metadata"]["name"].as_str().unwrap()
        })
        .collect();
    let pods = m.pod_specs();
    assert_eq!(pods.len(), 3, "the Deployment and two Jobs: {pods:?}");
    for (what, spec) in pods {
        let sc = &spec["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true, "{what}");
        assert!(sc["runAsUser"].as_u64().is_some_and(|u| u > 0), "{what}");
        assert!(sc["runAsGroup"].as_u64().is_some_and(|g| g > 0), "{what}");
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{what}");
        assert_eq!(spec["enableServiceLinks"], false, "{what}");
        assert_eq!(spec["automountServiceAccountToken"], false, "{what}");
        for host in ["hostNetwork", "hostPID", "hostIPC"] {
            assert!(
                spec[host].is_null() || spec[host] == false,
                "{what}: {host}"
            );
        }
        let account = spec["serviceAccountName"].as_str().unwrap();
        assert!(accounts.contains(&account), "{what}: {account}");
        for v in spec["volumes"].as_array().into_iter().flatten() {
            assert!(
                v["configMap"].is_object() || v["emptyDir"].is_object(),
                "{what}: only ConfigMap and emptyDir volumes: {v}"
            );
        }
        let containers = spec["containers"]
            .as_array()
            .unwrap()
            .iter()
            .chain(spec["initContainers"].as_array().into_iter().flatten());
        for c in containers {
            let name = &c["name"];
            let csc = &c["securityContext"];
            assert_eq!(csc["allowPrivilegeEscalation"], false, "{what} {name}");
            assert_eq!(csc["readOnlyRootFilesystem"], true, "{what} {name}");
            assert_eq!(csc["runAsNonRoot"], true, "{what} {name}");
            assert!(csc["privileged"].is_null() || csc["privileged"] == false);
            assert!(has_all_capabilities_dropped(csc), "{what} {name}: drop ALL");
            assert_eq!(
                csc["seccompProfile"]["type"], "RuntimeDefault",
                "{what} {name}"
            );
            assert_eq!(
                c["image"],
                format!("fincert:{}", package_version()).as_str(),
                "{what} {name}: the image `docker build -t fincert:<version>` makes"
            );
            assert!(
                c["resources"]["limits"]["memory"].is_string(),
                "{what} {name}"
            );
            for p in c["ports"].as_array().into_iter().flatten() {
                assert!(p["hostPort"].is_null(), "{what} {name}");
            }
        }
    }
}

fn port_of(addr: &str) -> u64 {
    addr.rsplit_once(':').unwrap().1.parse().unwrap()
}

fn config_value(config: &[(String, String)], key: &str) -> String {
    config
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("ConfigMap has no {key}"))
}

#[test]
fn ports_probes_and_settings_agree() {
    let m = Manifests::load();
    let config = m.production_config("fincert-config");
    let deploy = m.get("Deployment", "fincert");
    let pod = &deploy["spec"]["template"];
    let c = &pod["spec"]["containers"][0];
    let container_port = |name: &str| {
        c["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("no container port {name}"))
    };
    let (api, metrics) = (container_port("http"), container_port("metrics"));
    assert_eq!((api, metrics), (8080, 9090));
    assert_eq!(port_of(&config_value(&config, "FINCERT_HTTP_LISTEN")), api);
    assert_eq!(
        port_of(&config_value(&config, "FINCERT_HTTP_METRICS_LISTEN")),
        metrics
    );

    // Stop sequence: the preStop pause and fincert's own drain fit in the grace period.
    let grace = pod["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    let pause = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .unwrap();
    let drain: u64 = config_value(&config, "FINCERT_HTTP_SHUTDOWN_TIMEOUT_SECS")
        .parse()
        .unwrap();
    assert!(pause + drain < grace, "{pause} + {drain} < {grace}");

    // Service → pods, by labels and port names.
    let svc = m.get("Service", "fincert");
    assert!(labels_match(
        &svc["spec"]["selector"],
        &pod["metadata"]["labels"]
    ));
    let svc_port = |name: &str| {
        svc["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("Service has no port {name}"))
            .clone()
    };
    assert_eq!(svc_port("http")["targetPort"], "http");
    assert_eq!(svc_port("metrics")["targetPort"], "metrics");

    // Ingress → the API port only; its body limit is fincert's.
    let ing = m.get("Ingress", "fincert");
    for rule in ing["spec"]["rules"].as_array().unwrap() {
        for p in rule["http"]["paths"].as_array().unwrap() {
            assert_eq!(p["backend"]["service"]["name"], "fincert");
            assert_eq!(p["backend"]["service"]["port"]["name"], "http");
        }
    }
    let body = ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
        .as_str()
        .unwrap();
    let max: u64 = config_value(&config, "FINCERT_HTTP_MAX_BODY_BYTES")
        .parse()
        .unwrap();
    assert_eq!(body, format!("{}k", max / 1024));
    // The production host is the public base URL's and the passkey origin's.
    let prod_ing = m
        .overlay
        .iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == "Ingress")
        .unwrap();
    let host = prod_ing["spec"]["rules"][0]["host"].as_str().unwrap();
    assert_eq!(prod_ing["spec"]["tls"][0]["hosts"][0], host);
    assert_eq!(
        config_value(&config, "FINCERT_PKI_PUBLIC_BASE_URL"),
        format!("https://{host}")
    );
    assert_eq!(
        config_value(&config, "FINCERT_AUTH_WEBAUTHN_ORIGIN"),
        format!("https://{host}")
    );
    assert_eq!(config_value(&config, "FINCERT_AUTH_WEBAUTHN_RP_ID"), host);

    // NetworkPolicy: deny by default; the API port from the ingress controller only, the
    // metrics port from Prometheus' namespace only, nothing else into the server pods.
    let policies = m.all("NetworkPolicy");
    assert!(
        policies
            .iter()
            .any(|p| p["spec"]["podSelector"] == serde_json::json!({})
                && p["spec"]["policyTypes"] == serde_json::json!(["Ingress", "Egress"])
                && p["spec"]["ingress"].is_null()
                && p["spec"]["egress"].is_null())
    );
    let mut admitted = Vec::new();
    for p in &policies {
        if !labels_match(
            &p["spec"]["podSelector"]["matchLabels"],
            &pod["metadata"]["labels"],
        ) && p["spec"]["podSelector"] != serde_json::json!({})
        {
            continue;
        }
        for rule in p["spec"]["ingress"].as_array().into_iter().flatten() {
            let from = &rule["from"];
            assert_eq!(from.as_array().unwrap().len(), 1, "{rule}");
            let ns = from[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                .as_str()
                .unwrap_or_else(|| panic!("every source is a named namespace: {rule}"));
            for port in rule["ports"].as_array().unwrap() {
                admitted.push((ns.to_owned(), port["port"].as_u64().unwrap()));
            }
        }
        for rule in p["spec"]["egress"].as_array().into_iter().flatten() {
            for to in rule["to"].as_array().unwrap() {
                if let Some(except) = to["ipBlock"]["except"].as_array() {
                    assert!(except.contains(&"169.254.169.254/32".into()), "no IMDS");
                }
            }
        }
    }
    admitted.sort();
    assert_eq!(
        admitted,
        [
            ("ingress-nginx".to_owned(), api),
            ("monitoring".to_owned(), metrics)
        ]
    );

    // Availability: zones, disruptions, autoscaling.
    let spread = pod["spec"]["topologySpreadConstraints"].as_array().unwrap();
    assert!(
        spread
            .iter()
            .any(|s| s["topologyKey"] == "topology.kubernetes.io/zone"
                && s["whenUnsatisfiable"] == "DoNotSchedule"
                && labels_match(
                    &s["labelSelector"]["matchLabels"],
                    &pod["metadata"]["labels"]
                ))
    );
    let pdb = m.get("PodDisruptionBudget", "fincert");
    assert!(labels_match(
        &pdb["spec"]["selector"]["matchLabels"],
        &pod["metadata"]["labels"]
    ));
    let hpa = m.get("HorizontalPodAutoscaler", "fincert");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "fincert");
    assert!(hpa["spec"]["minReplicas"].as_u64().unwrap() >= 3);
}
