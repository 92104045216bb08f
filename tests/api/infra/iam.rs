//! The IAM policy against the code: the KMS operations fincert's pods may perform (every policy
//! attached to an IRSA role in infra/terraform) are exactly the aws-sdk-kms operations the code
//! calls (every `client….<operation>()….send()` in src/), both ways; and the encryption-context
//! condition names exactly the context keys the code builds (every
//! `EncryptionContext::new().with("…")` chain in src/), each context naming its subject.

use std::{collections::BTreeSet, path::Path};

use super::{repo, terraform::Terraform};

/// The production sources: src/**/*.rs, each cut at its `#[cfg(test)]` module, without the
/// KMS contract (test support compiled into the library).
fn production_sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo().join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|p| !p.ends_with("custody/kms/contract.rs"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(i) => text[..i].to_owned(),
                None => text,
            };
            (p.strip_prefix(repo()).unwrap().display().to_string(), code)
        })
        .collect()
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every `client[()].<op>()` … `.send()` in files that use aws-sdk-kms: the operations.
fn kms_operations_called() -> BTreeSet<String> {
    let mut ops = BTreeSet::new();
    for (file, code) in production_sources() {
        if !code.contains("aws_sdk_kms") {
            continue;
        }
        for (i, _) in code.match_indices("client") {
            let before = code[..i].chars().next_back().unwrap_or(' ');
            if before.is_ascii_alphanumeric() || before == '_' {
                continue;
            }
            let mut rest = &code[i + "client".len()..];
            rest = rest.strip_prefix("()").unwrap_or(rest).trim_start();
            let Some(after_dot) = rest.strip_prefix('.') else {
                continue;
            };
            let op = ident_at(after_dot.trim_start());
            let tail = &after_dot.trim_start()[op.len()..];
            if op.is_empty() || !tail.starts_with("()") {
                continue;
            }
            // A fluent builder sent before the statement ends: an API call.
            let statement = &tail[..tail.find(';').unwrap_or(tail.len())];
            if statement.contains(".send()") {
                ops.insert(op.to_owned());
            } else {
                panic!("{file}: client.{op}() is not sent in the same statement; teach this test");
            }
        }
    }
    ops
}

/// aws-sdk-kms operation (snake case) → the IAM actions it needs.
fn iam_actions(op: &str) -> Vec<String> {
    let pascal: String = op
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or(String::new(), |f| {
                f.to_ascii_uppercase().to_string() + c.as_str()
            })
        })
        .collect();
    match pascal.as_str() {
        // ReEncrypt is authorised on both keys: decrypting under the source, encrypting under
        // the destination.
        "ReEncrypt" => vec!["kms:ReEncryptFrom".into(), "kms:ReEncryptTo".into()],
        _ => vec![format!("kms:{pascal}")],
    }
}

fn reference<'a>(v: &'a str, prefix: &str, suffix: &str) -> &'a str {
    v.strip_prefix(prefix)
        .and_then(|s| s.strip_suffix(suffix))
        .unwrap_or_else(|| panic!("{v} is not {prefix}…{suffix}"))
}

/// Every statement of every policy attached to an IRSA role (roles get no inline policies).
fn granted_statements(tf: &Terraform) -> Vec<serde_json::Value> {
    assert!(
        tf.blocks("resource", "aws_iam_role_policy").is_empty(),
        "inline role policies would escape this check"
    );
    let mut statements = Vec::new();
    let attachments = tf.blocks("resource", "aws_iam_role_policy_attachment");
    assert!(attachments.len() >= 2, "{attachments:?}");
    for (_, a) in attachments {
        reference(a["role"].as_str().unwrap(), "${aws_iam_role.", ".name}");
        let policy = reference(
            a["policy_arn"].as_str().unwrap(),
            "${aws_iam_policy.",
            ".arn}",
        );
        let doc = reference(
            tf.block("resource", "aws_iam_policy", policy)["policy"]
                .as_str()
                .unwrap(),
            "${data.aws_iam_policy_document.",
            ".json}",
        );
        let doc = tf.block("data", "aws_iam_policy_document", doc);
        assert!(
            doc["source_policy_documents"].is_null(),
            "{policy}: nothing merged in unseen"
        );
        statements.extend(doc["statement"].as_array().unwrap().iter().cloned());
    }
    statements
}

#[test]
fn iam_grants_exactly_the_kms_operations_the_code_calls() {
    let called = kms_operations_called();
    for op in [
        "generate_data_key",
        "decrypt",
        "sign",
        "get_public_key",
        "describe_key",
    ] {
        assert!(called.contains(op), "the scan found no {op}: {called:?}");
    }
    assert!(
        !called.contains("create_key"),
        "production never calls CreateKey"
    );
    let needed: BTreeSet<String> = called.iter().flat_map(|op| iam_actions(op)).collect();

    let tf = Terraform::load();
    let mut granted = BTreeSet::new();
    for s in granted_statements(&tf) {
        assert!(s["effect"].is_null() || s["effect"] == "Allow", "{s}");
        assert!(
            s["not_actions"].is_null() && s["not_resources"].is_null(),
            "{s}"
        );
        for r in s["resources"].as_array().unwrap() {
            let r = r.as_str().unwrap();
            assert!(
                r.starts_with("${aws_kms_key.") && r.ends_with(".arn}"),
                "{}: a named key, never `*`: {r}",
                s["sid"]
            );
        }
        for a in s["actions"].as_array().unwrap() {
            let a = a.as_str().unwrap();
            assert!(!a.contains('*'), "{}: no wildcard actions: {a}", s["sid"]);
            granted.insert(a.to_owned());
        }
    }
    let missing: Vec<_> = needed.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&needed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "IAM vs code: called but not granted {missing:?}; granted but never called {extra:?}"
    );
}

/// Every `EncryptionContext::new()` chain in the production code: its `.with("key", …)` keys.
fn contexts_built() -> Vec<(String, BTreeSet<String>)> {
    let mut contexts = Vec::new();
    for (file, code) in production_sources() {
        for (i, _) in code.match_indices("EncryptionContext::new()") {
            let rest = &code[i..];
            let end = rest
                .find(';')
                .unwrap_or(rest.len())
                .min(rest.find("\n}").map_or(rest.len(), |e| e + 1));
            let chain = &rest[..end];
            let keys: BTreeSet<String> = chain
                .match_indices(".with(")
                .map(|(j, _)| {
                    let arg = chain[j + ".with(".len()..].trim_start();
                    let arg = arg
                        .strip_prefix('"')
                        .unwrap_or_else(|| panic!("{file}: a context key that is not a literal"));
                    arg[..arg.find('"').unwrap()].to_owned()
                })
                .collect();
            assert!(
                !keys.is_empty(),
                "{file}: an empty encryption context (IAM refuses it)"
            );
            contexts.push((file.clone(), keys));
        }
    }
    contexts
}

#[test]
fn encryption_context_conditions_name_the_codes_context_keys() {
    let contexts = contexts_built();
    assert!(
        contexts.len() >= 4,
        "seal, slot, activation record, security medium: {contexts:?}"
    );
    let in_code: BTreeSet<String> = contexts
        .iter()
        .flat_map(|(_, k)| k.iter().cloned())
        .collect();
    let tf = Terraform::load();
    let listed: BTreeSet<String> = tf
        .list(tf.local("encryption_context_keys"))
        .into_iter()
        .collect();
    assert_eq!(
        in_code, listed,
        "local.encryption_context_keys ↔ the keys the code uses"
    );
    let subjects: BTreeSet<String> = tf
        .list(tf.local("encryption_context_subjects"))
        .into_iter()
        .collect();
    for (file, keys) in &contexts {
        assert!(
            keys.intersection(&subjects).next().is_some(),
            "{file}: a context {keys:?} names none of {subjects:?} (ForAnyValue would refuse it)"
        );
    }

    // The data-key statement holds both conditions, on those lists.
    let statement = granted_statements(&tf)
        .into_iter()
        .find(|s| {
            s["actions"]
                .as_array()
                .unwrap()
                .contains(&"kms:GenerateDataKey".into())
        })
        .unwrap();
    let conditions = statement["condition"].as_array().unwrap();
    let has = |test: &str, values: &str| {
        conditions.iter().any(|c| {
            c["test"] == test
                && c["variable"] == "kms:EncryptionContextKeys"
                && c["values"] == values
        })
    };
    assert!(has(
        "ForAllValues:StringEquals",
        "${local.encryption_context_keys}"
    ));
    assert!(has(
        "ForAnyValue:StringEquals",
        "${local.encryption_context_subjects}"
    ));
    for action in statement["actions"].as_array().unwrap() {
        let a = action.as_str().unwrap();
        assert!(
            [
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:GenerateDataKey",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo"
            ]
            .contains(&a),
            "{a} takes an encryption context"
        );
    }
}
