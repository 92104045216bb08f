//! The certificate authority, checked with someone else's verifier: every certificate, CRL and
//! OCSP answer fincert makes is read and verified by the openssl command line.
//!
//! `issuance.rs`: the hierarchy and what it issues; `revocation.rs`: CRL and OCSP;
//! `certificate_lifecycle.rs`: suspension, renewal, reissue, expiry; `lint.rs`: pkilint and
//! `openssl verify -crl_check_all` over everything the CA publishes; `full_chain.rs`: the
//! root's ARL and revoking the issuing CA; `ocsp_cache.rs`: pre-signed OCSP answers, RFC 5019
//! GET and caching, answers from each node's memory (bounded; another process follows a
//! revocation within a second), the CRL made in the background; `kms_keys.rs`: `ca init`
//! adopting the KMS keys the settings name; `kms_digest.rs`: a CRL past KMS's 4,096-byte RAW
//! limit signed through `MessageType=DIGEST` (with `moto_digest.py`); `openssl.rs`: the CA files written out for openssl. The engine matrix is here, so the tests keep their names
//! (`pki::<test>::{sqlite,postgres}`).

mod certificate_lifecycle;
mod full_chain;
mod issuance;
mod kms_digest;
mod kms_keys;
mod lint;
mod ocsp_cache;
mod openssl;
mod revocation;

use fincert::{
    config::Engine,
    pki::{lifecycle::RevocationReason, profile::CertKind},
    store,
};

use crate::{both_engines, helpers::*};
use certificate_lifecycle::{
    lifecycle_job_notices_and_expires, only_active_certificates_sign,
    reissue_supersedes_the_old_certificate, renewal_notices_are_sent_once_at_30_and_7_days,
    renewal_window_and_rules, suspend_and_resume,
};
use full_chain::revoking_the_issuing_ca_reaches_the_arl;
use issuance::{
    ca_hierarchy_is_published, financial_certificate_profile, joint_device_certificates_from_csrs,
};
use kms_digest::a_large_crl_signs_through_kms_with_a_digest;
use kms_keys::ca_init_adopts_the_named_kms_keys_and_creates_none;
use lint::everything_the_ca_publishes_is_lint_clean;
pub(crate) use lint::lint_everything_the_ca_publishes;
use ocsp_cache::{
    crl_regenerates_in_the_background, ocsp_answers_come_from_memory_within_bounds,
    ocsp_get_and_post_agree_with_caching_headers, revocation_reaches_ocsp_on_every_node_at_once,
};
use openssl::Openssl;
use revocation::{
    concurrent_crl_refresh_answers_everyone, ocsp_get_unknown_and_malformed,
    revocation_reaches_crl_and_ocsp,
};

both_engines!(
    a_large_crl_signs_through_kms_with_a_digest,
    ocsp_answers_come_from_memory_within_bounds,
    crl_regenerates_in_the_background,
    ocsp_get_and_post_agree_with_caching_headers,
    revocation_reaches_ocsp_on_every_node_at_once,
    ca_init_adopts_the_named_kms_keys_and_creates_none,
    concurrent_crl_refresh_answers_everyone,
    lifecycle_job_notices_and_expires,
    renewal_notices_are_sent_once_at_30_and_7_days,
    only_active_certificates_sign,
    ca_hierarchy_is_published,
    financial_certificate_profile,
    joint_device_certificates_from_csrs,
    revocation_reaches_crl_and_ocsp,
    ocsp_get_unknown_and_malformed,
    suspend_and_resume,
    renewal_window_and_rules,
    reissue_supersedes_the_old_certificate,
    everything_the_ca_publishes_is_lint_clean,
    revoking_the_issuing_ca_reaches_the_arl,
);

/// With the AWS backend the root and issuing keys live in KMS (RSA-2048) and sign through
/// `Sign`; openssl accepts what they signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_keys_in_aws_kms_sign_through_kms() {
    let test_db = TestDb::new(Engine::Sqlite).await;
    let mut s = test_db.settings();
    s.pki.ca_algorithm = "rsa2048".into();
    use_moto(&mut s, &moto_url()).await;
    let (root_key, issuing_key) = (
        s.pki.aws_root_key_id.clone(),
        s.pki.aws_issuing_key_id.clone(),
    );
    let app = spawn_app_with(test_db, s).await;
    let o = Openssl::for_app(&app).await;
    let (ok, out) = o.run(&[
        "verify",
        "-check_ss_sig",
        "-CAfile",
        "root.pem",
        "issuing.pem",
    ]);
    assert!(ok, "{out}");
    let cert = cloud_cert("user-aws")
        .kind(CertKind::Joint)
        .issue(&app)
        .await;
    let leaf = o.write_cert("leaf.pem", &cert.der);
    assert!(o.verify(&leaf, None).0);
    // The root's ARL, signed through KMS, completes the full-chain check.
    let (ok, out) = o.verify_full_chain(&app, &leaf).await;
    assert!(ok, "{out}");
    // pkilint on the RSA hierarchy KMS signed, its CRL, ARL and an OCSP answer.
    let mut lint = lint::Pkilint::default();
    for file in ["root.pem", "issuing.pem", "ocsp.pem"] {
        lint.cert(&o, file);
    }
    lint.pair(&o, "root.pem", "issuing.pem");
    lint.pair(&o, "issuing.pem", "ocsp.pem");
    lint.leaf(&o, "leaf.pem");
    lint.crl(&o, "CRL", "issuing.crl.der");
    lint.crl(&o, "ARL", "root.crl.der");
    let text = o.ocsp_respout(&app, ["-cert", "leaf.pem"], "ocsp-good.der");
    assert!(text.contains(": good"), "{text}");
    lint.ocsp(&o, "ocsp-good.der");
    lint.assert_clean();
    app.pki
        .revoke(
            &app.db,
            &owner("user-aws"),
            cert.id,
            RevocationReason::CessationOfOperation,
        )
        .await
        .unwrap();
    let crl = o.crl(&app).await;
    let (ok, out) = o.verify(&leaf, Some(&crl));
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let kinds: Vec<_> = store::pki::authorities(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.id, a.key_kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("issuing".to_string(), "kms".to_string()),
            ("ocsp".into(), "sealed".into()),
            ("root".into(), "kms".into())
        ]
    );
    // The rows keep the ARNs of exactly the keys the settings named.
    let arns: Vec<_> = store::pki::authorities(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|a| a.kms_key_id)
        .collect();
    assert_eq!(arns.len(), 2);
    assert!(
        arns[0].starts_with("arn:aws:kms:") && arns[0].ends_with(&format!("key/{issuing_key}")),
        "{arns:?}"
    );
    assert!(arns[1].ends_with(&format!("key/{root_key}")), "{arns:?}");
}
