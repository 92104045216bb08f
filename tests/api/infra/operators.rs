//! The operators' resources, which kubernetes-validate has no schema for (their CRDs are not
//! bundled): ServiceMonitor, PrometheusRule and ExternalSecret checked by the structure their
//! operators read (unknown keys refused, as --strict does for built-in kinds) and against the
//! resources they point at; the alerts on the metric names agreed with the metrics work, checked
//! and unit-tested by promtool (infra/k8s/alerts.test.yaml).

use std::path::PathBuf;

use serde_json::Value;

use super::{Manifests, labels_match, run};

/// Keys allowed at a level of an operator resource: anything else is a typo their operator
/// would ignore silently (what --strict does for built-in kinds).
fn only_keys(v: &Value, allowed: &[&str], what: &str) {
    for k in v
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not a map"))
        .keys()
    {
        assert!(allowed.contains(&k.as_str()), "{what}: unexpected key {k}");
    }
}

fn is_duration(s: &str) -> bool {
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && matches!(unit, "s" | "m" | "h")
}

#[test]
fn operator_resources_have_the_structure_their_operators_read() {
    let m = Manifests::load();
    let svc = m.get("Service", "fincert");

    let sm = m.get("ServiceMonitor", "fincert");
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    only_keys(
        &sm["spec"],
        &["selector", "namespaceSelector", "endpoints"],
        "ServiceMonitor.spec",
    );
    assert!(labels_match(
        &sm["spec"]["selector"]["matchLabels"],
        &svc["metadata"]["labels"]
    ));
    assert_eq!(
        sm["spec"]["namespaceSelector"]["matchNames"],
        serde_json::json!(["fincert"])
    );
    let ep = &sm["spec"]["endpoints"].as_array().unwrap()[..];
    assert_eq!(ep.len(), 1);
    only_keys(
        &ep[0],
        &["port", "path", "interval", "scrapeTimeout"],
        "endpoint",
    );
    assert_eq!(
        ep[0]["port"], "metrics",
        "the metrics port, by the Service's port name"
    );
    assert_eq!(ep[0]["path"], "/metrics");
    assert!(is_duration(ep[0]["interval"].as_str().unwrap()));

    let pr = m.get("PrometheusRule", "fincert");
    assert_eq!(pr["apiVersion"], "monitoring.coreos.com/v1");
    only_keys(&pr["spec"], &["groups"], "PrometheusRule.spec");
    let mut alerts = Vec::new();
    for g in pr["spec"]["groups"].as_array().unwrap() {
        only_keys(g, &["name", "interval", "rules"], "group");
        for r in g["rules"].as_array().unwrap() {
            only_keys(
                r,
                &["alert", "expr", "for", "labels", "annotations"],
                "rule",
            );
            let name = r["alert"].as_str().unwrap();
            assert!(
                r["expr"].as_str().is_some_and(|e| !e.trim().is_empty()),
                "{name}"
            );
            assert!(is_duration(r["for"].as_str().unwrap()), "{name}");
            assert!(
                matches!(
                    r["labels"]["severity"].as_str(),
                    Some("warning" | "critical")
                ),
                "{name}"
            );
            only_keys(
                &r["annotations"],
                &["summary", "description", "runbook_url"],
                name,
            );
            assert!(
                r["annotations"]["summary"].is_string()
                    && r["annotations"]["description"].is_string()
            );
            alerts.push((name.to_owned(), r["expr"].as_str().unwrap().to_owned()));
        }
    }
    // The four things an SRE asked for, on the metric names agreed with the metrics work.
    for (metric, what) in [
        ("fincert_kms_calls_total", "KMS errors"),
        ("fincert_http_requests_total", "5xx ratio"),
        (
            "fincert_audit_commit_seconds_bucket",
            "audit commit latency",
        ),
        ("fincert_ready", "readiness"),
    ] {
        assert!(
            alerts.iter().any(|(_, e)| e.contains(metric)),
            "no alert on {what} ({metric})"
        );
    }
    for (name, expr) in &alerts {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("fincert_") {
                assert!(
                    [
                        "fincert_kms_calls_total",
                        "fincert_http_requests_total",
                        "fincert_audit_commit_seconds_bucket",
                        "fincert_ready"
                    ]
                    .contains(&word),
                    "{name}: {word} is not an agreed metric name"
                );
            }
        }
    }

    // ExternalSecrets make exactly the Secrets and keys the pods reference.
    let mut referenced: Vec<(String, String)> = m
        .pod_specs()
        .into_iter()
        .flat_map(|(_, spec)| spec["containers"].as_array().unwrap().clone())
        .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| {
            let r = &e["valueFrom"]["secretKeyRef"];
            Some((
                r["name"].as_str()?.to_owned(),
                r["key"].as_str()?.to_owned(),
            ))
        })
        .collect();
    referenced.sort();
    referenced.dedup();
    let mut made = Vec::new();
    for es in m
        .overlay
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"] == "ExternalSecret")
    {
        assert_eq!(es["apiVersion"], "external-secrets.io/v1");
        let spec = &es["spec"];
        only_keys(
            spec,
            &["refreshInterval", "secretStoreRef", "target", "data"],
            "ExternalSecret.spec",
        );
        only_keys(&spec["secretStoreRef"], &["kind", "name"], "secretStoreRef");
        only_keys(
            &spec["target"],
            &["name", "creationPolicy", "template"],
            "target",
        );
        let target = spec["target"]["name"].as_str().unwrap();
        let keys: Vec<String> = match spec["target"]["template"]["data"].as_object() {
            Some(t) => t.keys().cloned().collect(),
            None => spec["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["secretKey"].as_str().unwrap().to_owned())
                .collect(),
        };
        for d in spec["data"].as_array().unwrap() {
            only_keys(d, &["secretKey", "remoteRef"], "data");
            assert!(d["remoteRef"]["key"].is_string());
        }
        made.extend(keys.into_iter().map(|k| (target.to_owned(), k)));
    }
    made.sort();
    assert_eq!(
        made, referenced,
        "ExternalSecrets ↔ the pods' secretKeyRefs"
    );
}

#[test]
fn alerts_pass_promtool_check_and_unit_tests() {
    let promtool = std::env::var("TEST_FINCERT_PROMTOOL")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(format!(
                "{}/.cache/fincert/prometheus/usr/bin/promtool",
                std::env::var("HOME").unwrap_or_default()
            ))
        });
    assert!(
        promtool.is_file(),
        "{} is missing: run the suite with scripts/test.sh, which unpacks Debian's promtool",
        promtool.display()
    );
    let m = Manifests::load();
    let rule = m.get("PrometheusRule", "fincert");
    let dir = tempfile::tempdir().unwrap();
    let rules =
        serde_norway::to_string(&serde_json::json!({"groups": rule["spec"]["groups"]})).unwrap();
    std::fs::write(dir.path().join("fincert.rules.yaml"), rules).unwrap();
    std::fs::copy(
        Manifests::k8s().join("alerts.test.yaml"),
        dir.path().join("alerts.test.yaml"),
    )
    .unwrap();
    let (ok, out) = run(
        &promtool,
        &["check", "rules", "fincert.rules.yaml"],
        dir.path(),
    );
    assert!(ok, "promtool check rules:\n{out}");
    let (ok, out) = run(
        &promtool,
        &["test", "rules", "alerts.test.yaml"],
        dir.path(),
    );
    assert!(ok && out.contains("SUCCESS"), "promtool test rules:\n{out}");
}
