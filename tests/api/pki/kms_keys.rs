//! `fincert ca init` with AWS KMS adopts the existing keys the settings name
//! (`pki.aws_root_key_id`, `pki.aws_issuing_key_id`) and never creates one: run as the binary
//! (the `ca init` Job's command line) against a moto of the test's own, so its key count shows
//! that no `CreateKey` happened.

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use fincert::{config::Engine, store};

use crate::helpers::*;

/// Every key on this moto.
async fn key_count(client: &aws_sdk_kms::Client) -> usize {
    client
        .list_keys()
        .limit(1000)
        .send()
        .await
        .expect("ListKeys")
        .keys
        .unwrap_or_default()
        .len()
}

async fn alias(client: &aws_sdk_kms::Client, name: &str, key_id: &str) {
    client
        .create_alias()
        .alias_name(name)
        .target_key_id(key_id)
        .send()
        .await
        .expect("CreateAlias");
}

pub(super) async fn ca_init_adopts_the_named_kms_keys_and_creates_none(engine: Engine) {
    let moto = PrivateMoto::start().await;
    let client = moto_client(&moto.url).await;
    let test_db = TestDb::new(engine).await;
    let mut s = test_db.settings();
    s.pki.ca_algorithm = "p256".into();
    s.kms = moto_kms_settings(&moto.url).await;
    let root = moto_ca_key(&client, "p256").await;
    let issuing = moto_ca_key(&client, "p256").await;
    alias(&client, "alias/fincert-test-root-ca", &root).await;
    alias(&client, "alias/fincert-test-issuing-ca", &issuing).await;
    let rsa = moto_ca_key(&client, "rsa2048").await;
    let disabled = moto_ca_key(&client, "p256").await;
    client.disable_key().key_id(&disabled).send().await.unwrap();
    let symmetric = moto_symmetric_key(&client).await;
    let encrypting_rsa = client
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;

    let data_dir = s.data_dir.to_str().unwrap().to_owned();
    let base: Vec<(&str, String)> = vec![
        ("FINCERT_DATA_DIR", data_dir),
        ("FINCERT_DATABASE_URL", s.database.url.clone()),
        ("FINCERT_PKI_CA_ALGORITHM", "p256".into()),
        ("FINCERT_KMS_BACKEND", "aws".into()),
        ("FINCERT_KMS_AWS_ENDPOINT_URL", moto.url.clone()),
        ("FINCERT_KMS_AWS_KEY_ID", s.kms.aws_key_id.clone()),
        ("FINCERT_KMS_AWS_MAC_KEY_ID", s.kms.aws_mac_key_id.clone()),
        ("FINCERT_KMS_AWS_ACCESS_KEY_ID", "test".into()),
        ("FINCERT_KMS_AWS_SECRET_ACCESS_KEY", "test".into()),
    ];
    let ca_init = |root: &str, issuing: &str| {
        let mut env: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if !root.is_empty() {
            env.push(("FINCERT_PKI_AWS_ROOT_KEY_ID", root));
        }
        if !issuing.is_empty() {
            env.push(("FINCERT_PKI_AWS_ISSUING_KEY_ID", issuing));
        }
        run_cli(&["ca", "init"], &env)
    };
    let keys_before = key_count(&client).await;

    // Every refusal is a configuration error (exit 2) naming the setting, and writes no CA.
    for (root_id, issuing_id, setting, why) in [
        ("", "", "pki.aws_root_key_id", "not set"),
        (
            "alias/fincert-test-root-ca",
            "alias/no-such-key",
            "pki.aws_issuing_key_id",
            "NotFoundException",
        ),
        (
            rsa.as_str(),
            issuing.as_str(),
            "pki.aws_root_key_id",
            "RSA_2048",
        ),
        (
            root.as_str(),
            symmetric.as_str(),
            "pki.aws_issuing_key_id",
            "not SIGN_VERIFY",
        ),
        (
            encrypting_rsa.as_str(),
            issuing.as_str(),
            "pki.aws_root_key_id",
            "usage is ENCRYPT_DECRYPT",
        ),
        (
            "alias/fincert-test-root-ca",
            root.as_str(),
            "pki.aws_issuing_key_id",
            "same KMS key",
        ),
        (
            root.as_str(),
            disabled.as_str(),
            "pki.aws_issuing_key_id",
            "is Disabled, not Enabled",
        ),
    ] {
        let (code, out, err) = ca_init(root_id, issuing_id);
        assert_eq!(code, 2, "{root_id} / {issuing_id}: {out}{err}");
        assert!(
            err.contains(setting) && err.contains(why),
            "{root_id} / {issuing_id}: {err}"
        );
        let db = store::connect(&s).await.unwrap();
        assert!(store::pki::authorities(&db).await.unwrap().is_empty());
    }

    // Named by alias: adopted; the rows keep the keys' ARNs, not the aliases.
    let (code, out, err) = ca_init(
        "alias/fincert-test-root-ca",
        "alias/fincert-test-issuing-ca",
    );
    assert_eq!(code, 0, "{out}{err}");
    let db = store::connect(&s).await.unwrap();
    let rows = store::pki::authorities(&db).await.unwrap();
    let arn_of = |id: &str| {
        rows.iter()
            .find(|r| r.id == id)
            .and_then(|r| r.kms_key_id.clone())
            .unwrap()
    };
    assert!(arn_of("root").starts_with("arn:aws:kms:ap-northeast-2:"));
    assert!(arn_of("root").ends_with(&format!(":key/{root}")));
    assert!(arn_of("issuing").ends_with(&format!(":key/{issuing}")));
    assert_eq!(
        key_count(&client).await,
        keys_before,
        "ca init never calls CreateKey"
    );

    // The certificates carry the public keys of exactly those KMS keys.
    for (id, key) in [("root", &root), ("issuing", &issuing)] {
        let spki = client
            .get_public_key()
            .key_id(key)
            .send()
            .await
            .unwrap()
            .public_key
            .unwrap()
            .into_inner();
        let der = &rows.iter().find(|r| r.id == id).unwrap().certificate_der;
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        assert_eq!(cert.public_key().raw, spki.as_slice(), "{id}");
    }

    let (code, _, err) = ca_init(
        "alias/fincert-test-root-ca",
        "alias/fincert-test-issuing-ca",
    );
    assert_eq!(code, 1, "a second ca init refuses: {err}");
    assert!(err.contains("already initialised"), "{err}");
    // The set-up Job's form succeeds again without touching the CA.
    let env: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, out, err) = run_cli(&["ca", "init", "--if-absent"], &env);
    assert_eq!(
        (code, out.trim()),
        (0, "CA already initialised; nothing changed"),
        "{err}"
    );
    let after = store::pki::authorities(&db).await.unwrap();
    assert_eq!(
        after.iter().map(|r| &r.certificate_der).collect::<Vec<_>>(),
        rows.iter().map(|r| &r.certificate_der).collect::<Vec<_>>()
    );
}
