//! infra/terraform, parsed by python-hcl2 (Terraform itself cannot initialise its AWS provider
//! offline): every KMS key with a policy and a 30-day deletion window, aliases that are the
//! names the ConfigMap uses, RDS Multi-AZ, encrypted, backed up and protected, the IRSA roles
//! trusting exactly the manifests' ServiceAccounts; and `terraform fmt` when terraform is on
//! PATH.

use std::path::PathBuf;

use serde_json::Value;

use super::{Manifests, on_path, repo, run, venv_bin};

/// Every block of every .tf file, merged by block type, quotes and parser markers removed.
pub struct Terraform(Value);

const PARSE: &str = r#"
import glob, json, os, sys
import hcl2

def clean(v):
    if isinstance(v, str):
        return v[1:-1] if len(v) >= 2 and v[0] == '"' and v[-1] == '"' else v
    if isinstance(v, list):
        return [clean(x) for x in v]
    if isinstance(v, dict):
        return {clean(k): clean(x) for k, x in v.items() if k not in ("__is_block__", "__comments__")}
    return v

out = {}
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.tf"))):
    with open(f) as fh:
        for block, items in clean(hcl2.load(fh)).items():
            out.setdefault(block, []).extend(items)
print(json.dumps(out))
"#;

impl Terraform {
    pub fn dir() -> PathBuf {
        repo().join("infra/terraform")
    }

    pub fn load() -> Self {
        let dir = Self::dir();
        let python = venv_bin("python");
        let (ok, out) = run(&python, &["-c", PARSE, dir.to_str().unwrap()], &dir);
        assert!(ok, "python-hcl2 could not parse infra/terraform:\n{out}");
        Self(serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")))
    }

    /// Every labelled block of `kind` (`resource`, `data`) of `ty`: (name, body).
    pub fn blocks(&self, kind: &str, ty: &str) -> Vec<(String, &Value)> {
        self.0[kind]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b.get(ty))
            .flat_map(|by_name| by_name.as_object().unwrap().iter())
            .map(|(n, v)| (n.clone(), v))
            .collect()
    }

    pub fn block(&self, kind: &str, ty: &str, name: &str) -> &Value {
        self.blocks(kind, ty)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {kind} {ty}.{name}"))
    }

    pub fn local(&self, name: &str) -> &Value {
        self.0["locals"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|l| l.get(name))
            .unwrap_or_else(|| panic!("no local.{name}"))
    }

    pub fn variable_default(&self, name: &str) -> &Value {
        self.0["variable"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|v| v.get(name))
            .map(|v| &v["default"])
            .unwrap_or_else(|| panic!("no var.{name}"))
    }

    /// A string value with `${local.name}` and `${var.environment}` filled in for the
    /// installation `environment` (the manifests' is `prod`).
    pub fn render(&self, value: &str, environment: &str) -> String {
        let name = self
            .local("name")
            .as_str()
            .unwrap()
            .replace("${var.environment}", environment);
        value
            .replace("${local.name}", &name)
            .replace("${var.environment}", environment)
            .replace(
                "${var.namespace}",
                self.variable_default("namespace").as_str().unwrap(),
            )
    }

    /// `[a, b]` or `${local.x}` (a list local): the strings it stands for.
    pub fn list(&self, v: &Value) -> Vec<String> {
        if let Some(name) = v
            .as_str()
            .and_then(|s| s.strip_prefix("${local."))
            .and_then(|s| s.strip_suffix('}'))
        {
            return self.list(self.local(name));
        }
        v.as_array()
            .unwrap_or_else(|| panic!("not a list: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    }
}

/// The installation the manifests describe.
const ENVIRONMENT: &str = "prod";

#[test]
fn kms_keys_have_policies_a_30_day_window_and_the_aliases_the_config_names() {
    let tf = Terraform::load();
    let keys = tf.blocks("resource", "aws_kms_key");
    assert_eq!(
        keys.len(),
        5,
        "data, PIN MAC, root CA, issuing CA, database"
    );
    for (name, key) in &keys {
        assert_eq!(key["deletion_window_in_days"], 30, "{name}");
        let policy = key["policy"].as_str().unwrap();
        let doc = policy
            .strip_prefix("${data.aws_iam_policy_document.")
            .and_then(|p| p.strip_suffix(".json}"))
            .unwrap_or_else(|| panic!("{name}: policy from an aws_iam_policy_document"));
        let doc = tf.block("data", "aws_iam_policy_document", doc);
        assert!(
            doc["source_policy_documents"].as_array().is_some_and(
                |s| s.contains(&"${data.aws_iam_policy_document.key_base.json}".into())
            ),
            "{name}: the key policy keeps the account's IAM policies in force"
        );
        if key["key_usage"] == "ENCRYPT_DECRYPT" {
            assert_eq!(key["enable_key_rotation"], true, "{name}");
        }
    }
    let usage = |key: &str| tf.block("resource", "aws_kms_key", key)["key_usage"].clone();
    assert_eq!(
        tf.block("resource", "aws_kms_key", "pin_mac")["customer_master_key_spec"],
        "HMAC_256"
    );
    // The CA keys' spec follows pki.ca_algorithm, for each algorithm fincert knows.
    let spec = tf.local("ca_key_spec").as_str().unwrap().to_owned();
    for alg in fincert::config::KEY_ALGORITHMS {
        assert!(
            spec.contains(&format!("{alg} = ")),
            "ca_key_spec has no {alg}: {spec}"
        );
    }
    assert_eq!(tf.variable_default("ca_algorithm"), "rsa2048");
    for ca in ["root_ca", "issuing_ca"] {
        let key = tf.block("resource", "aws_kms_key", ca);
        assert_eq!(key["key_usage"], "SIGN_VERIFY");
        assert_eq!(key["customer_master_key_spec"], "${local.ca_key_spec}");
    }

    // The ConfigMap names each key by the alias Terraform gives it, for its purpose.
    let m = Manifests::load();
    let config = m.production_config("fincert-config");
    let alias_of = |key: &str| {
        let (_, a) = tf
            .blocks("resource", "aws_kms_alias")
            .into_iter()
            .find(|(_, a)| a["target_key_id"] == format!("${{aws_kms_key.{key}.key_id}}").as_str())
            .unwrap_or_else(|| panic!("no alias for {key}"));
        tf.render(a["name"].as_str().unwrap(), ENVIRONMENT)
    };
    for (setting, key, want_usage) in [
        ("FINCERT_KMS_AWS_KEY_ID", "data_keys", "ENCRYPT_DECRYPT"),
        (
            "FINCERT_KMS_AWS_MAC_KEY_ID",
            "pin_mac",
            "GENERATE_VERIFY_MAC",
        ),
        ("FINCERT_PKI_AWS_ROOT_KEY_ID", "root_ca", "SIGN_VERIFY"),
        (
            "FINCERT_PKI_AWS_ISSUING_KEY_ID",
            "issuing_ca",
            "SIGN_VERIFY",
        ),
    ] {
        let configured = &config.iter().find(|(k, _)| k == setting).unwrap().1;
        assert_eq!(configured, &alias_of(key), "{setting}");
        assert_eq!(usage(key), want_usage, "{key}");
    }
    let region = &config
        .iter()
        .find(|(k, _)| k == "FINCERT_KMS_AWS_REGION")
        .unwrap()
        .1;
    assert_eq!(tf.variable_default("region"), region.as_str());
    let ca_alg = &config
        .iter()
        .find(|(k, _)| k == "FINCERT_PKI_CA_ALGORITHM")
        .unwrap()
        .1;
    assert_eq!(tf.variable_default("ca_algorithm"), ca_alg.as_str());
}

#[test]
fn rds_is_multi_az_encrypted_backed_up_and_protected() {
    let tf = Terraform::load();
    let db = tf.block("resource", "aws_db_instance", "fincert");
    for (key, want) in [
        ("engine", Value::from("postgres")),
        ("multi_az", true.into()),
        ("storage_encrypted", true.into()),
        ("kms_key_id", "${aws_kms_key.database.arn}".into()),
        ("deletion_protection", true.into()),
        ("skip_final_snapshot", false.into()),
        ("publicly_accessible", false.into()),
        ("manage_master_user_password", true.into()),
        (
            "master_user_secret_kms_key_id",
            "${aws_kms_key.database.arn}".into(),
        ),
        ("delete_automated_backups", false.into()),
    ] {
        assert_eq!(db[key], want, "aws_db_instance.{key}");
    }
    assert!(db["password"].is_null(), "no password in Terraform (state)");
    assert_eq!(
        db["backup_retention_period"],
        "${var.database_backup_retention_days}"
    );
    assert!(
        tf.variable_default("database_backup_retention_days")
            .as_u64()
            .unwrap()
            >= 7
    );
    let params = tf.block("resource", "aws_db_parameter_group", "fincert");
    assert!(
        params["parameter"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "rds.force_ssl" && p["value"] == "1"),
        "TLS only"
    );
}

#[test]
fn irsa_roles_trust_exactly_the_manifests_service_accounts() {
    let tf = Terraform::load();
    let m = Manifests::load();
    let namespace = tf
        .variable_default("namespace")
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        m.all("Namespace")
            .iter()
            .any(|n| n["metadata"]["name"] == namespace.as_str())
    );
    let overlay_accounts: Vec<&Value> = m
        .overlay
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"] == "ServiceAccount")
        .collect();
    for (role, account) in [("node", "fincert"), ("ca_admin", "fincert-ca-admin")] {
        let r = tf.block("resource", "aws_iam_role", role);
        let assume = r["assume_role_policy"]
            .as_str()
            .unwrap()
            .strip_prefix("${data.aws_iam_policy_document.")
            .and_then(|s| s.strip_suffix(".json}"))
            .unwrap();
        let doc = tf.block("data", "aws_iam_policy_document", assume);
        let statement = &doc["statement"][0];
        assert_eq!(
            statement["actions"],
            serde_json::json!(["sts:AssumeRoleWithWebIdentity"])
        );
        let sub = statement["condition"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["variable"].as_str().unwrap().ends_with(":sub"))
            .unwrap();
        assert_eq!(sub["test"], "StringEquals");
        assert_eq!(
            tf.list(&sub["values"])
                .iter()
                .map(|v| tf.render(v, ENVIRONMENT))
                .collect::<Vec<_>>(),
            [format!("system:serviceaccount:{namespace}:{account}")],
            "{role}"
        );
        // The ServiceAccount carries exactly this role, in the base and in production.
        let name = tf.render(r["name"].as_str().unwrap(), ENVIRONMENT);
        for sa in m
            .all("ServiceAccount")
            .into_iter()
            .chain(overlay_accounts.iter().copied())
        {
            if sa["metadata"]["name"] == account {
                let arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
                    .as_str()
                    .unwrap();
                assert!(arn.ends_with(&format!(":role/{name}")), "{account}: {arn}");
            }
        }
    }
    // Which pod runs as whom: the server as the node, ca-init as ca-admin, migrate as nobody.
    let account_of = |kind: &str, name: &str| {
        m.get(kind, name)["spec"]["template"]["spec"]["serviceAccountName"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(account_of("Deployment", "fincert"), "fincert");
    assert_eq!(account_of("Job", "fincert-ca-init"), "fincert-ca-admin");
    let migrate = account_of("Job", "fincert-migrate");
    let sa = m
        .all("ServiceAccount")
        .into_iter()
        .find(|s| s["metadata"]["name"] == migrate.as_str())
        .unwrap();
    assert!(
        sa["metadata"]["annotations"].is_null(),
        "the migration needs no AWS role"
    );
}

/// `terraform fmt` when terraform is installed (it cannot `init` offline, but it formats).
#[test]
fn terraform_is_fmt_clean() {
    let Some(terraform) = on_path("terraform") else {
        eprintln!("NOTICE: terraform is not on PATH; `terraform fmt -check` skipped");
        return;
    };
    let (ok, out) = run(
        &terraform,
        &["fmt", "-check", "-diff", "-recursive", "."],
        &Terraform::dir(),
    );
    assert!(ok, "terraform fmt -check:\n{out}");
}
