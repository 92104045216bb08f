//! A CRL larger than KMS `Sign` takes whole: with a KMS-held issuing key, a CRL of 600
//! entries (about 25 KB, far past RAW's 4,096 bytes) is hashed by fincert and signed through
//! `MessageType=DIGEST`, and openssl verifies it against the chain. The KMS is a moto that
//! signs DIGEST requests as AWS does and refuses RAW messages over 4,096 bytes
//! (`moto_digest.py`; plain moto does neither), behind a recording proxy that shows what each
//! `Sign` request carried.

use der::{Decode, Encode};
use fincert::{
    clock::Clock,
    config::Engine,
    custody::OwnerId,
    domain::{
        cert_kind::{CertKind, Storage},
        cert_status::CertStatus,
        revocation_reason::CrlReason,
        usage::Usage,
    },
    store,
};
use sea_orm::TransactionTrait;

use super::Openssl;
use crate::helpers::*;

const ENTRIES: usize = 600;

/// Inserts `n` revoked certificates of the issuing CA straight into the store (the CRL reads
/// only their serials, times and reasons).
async fn insert_revoked(app: &TestApp, n: usize) -> Vec<String> {
    let now = app.clock.now();
    let txn = app.db.begin().await.unwrap();
    let mut serials = Vec::with_capacity(n);
    for i in 0..n {
        let serial = format!("7f{:030x}", i + 1);
        store::pki::insert_certificate(
            &txn,
            store::pki::CertificateRow {
                id: uuid::Uuid::new_v4(),
                owner_id: OwnerId::parse("crl-owner").unwrap(),
                kind: CertKind::Financial,
                usage: Usage::General,
                storage: Storage::Device,
                status: CertStatus::Revoked,
                serial_hex: serial.clone(),
                subject: format!("revoked {i}"),
                not_before: now,
                not_after: now + chrono::Duration::days(365),
                issuer_id: "issuing".into(),
                custody_key_id: None,
                certificate_der: vec![0x30, 0x00],
                revoked_at: Some(now),
                revocation_reason: Some(CrlReason::KeyCompromise),
                replaces_id: None,
                renewed_by_id: None,
                foreign_chain: None,
                created_at: now,
                updated_at: now,
            },
        )
        .await
        .unwrap();
        serials.push(serial);
    }
    txn.commit().await.unwrap();
    serials
}

/// For each CA algorithm (RSA PKCS#1 v1.5 and ECDSA P-256, both SHA-256): the hierarchy is
/// made through KMS with RAW (certificates fit), a 600-entry CRL through DIGEST carrying
/// exactly the SHA-256 of the CRL's TBS, and openssl accepts the CRL.
pub(super) async fn a_large_crl_signs_through_kms_with_a_digest(engine: Engine) {
    let moto = PrivateMoto::start_digest_aware().await;
    let kms = KmsRecorder::start(&moto.url).await;
    for algorithm in ["rsa2048", "p256"] {
        let before = kms.signs().len();
        let test_db = TestDb::new(engine).await;
        let mut s = test_db.settings();
        s.pki.ca_algorithm = algorithm.into();
        use_moto(&mut s, &kms.url).await;
        let app = spawn_app_with(test_db, s).await;
        let signs_at_start = kms.signs().len();
        assert!(signs_at_start >= before + 2, "ca init signed through KMS");
        assert!(
            kms.signs()[before..]
                .iter()
                .all(|s| s.message_type == "RAW" && s.message.len() <= 4096),
            "certificates go whole: {:?}",
            kms.signs()[before..]
                .iter()
                .map(|s| (s.message_type.clone(), s.message.len()))
                .collect::<Vec<_>>()
        );

        let serials = insert_revoked(&app, ENTRIES).await;
        let der = app.pki.publish_crl(&app.db).await.unwrap();
        assert!(
            der.len() > 5 * 4096,
            "{algorithm}: CRL of {} bytes",
            der.len()
        );
        let crl = x509_cert::crl::CertificateList::from_der(&der).unwrap();
        let listed = crl
            .tbs_cert_list
            .revoked_certificates
            .as_ref()
            .map_or(0, Vec::len);
        assert_eq!(listed, ENTRIES, "{algorithm}");
        let tbs = crl.tbs_cert_list.to_der().unwrap();
        assert!(tbs.len() > 4096);

        // What went over the wire for this CRL: a DIGEST Sign with the TBS's SHA-256 (the
        // background CRL refresh may sign small ones beside it, RAW).
        let signs = kms.signs()[signs_at_start..].to_vec();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &tbs);
        assert!(
            signs
                .iter()
                .any(|s| s.message_type == "DIGEST" && s.message == digest.as_ref()),
            "{algorithm}: {:?}",
            signs
                .iter()
                .map(|s| (&s.message_type, s.message.len()))
                .collect::<Vec<_>>()
        );
        for s in &signs {
            match s.message_type.as_str() {
                "RAW" => assert!(s.message.len() <= 4096),
                "DIGEST" => assert_eq!(s.message.len(), 32),
                other => panic!("MessageType {other}"),
            }
        }

        // The service publishes it, and openssl verifies it against the chain.
        let served = app.get("/pki/crl/issuing.crl").await.bytes().await.unwrap();
        assert_eq!(served.as_ref(), der.as_slice(), "the published CRL");
        let o = Openssl::for_app(&app).await;
        std::fs::write(o.path("big.crl.der"), &der).unwrap();
        let (ok, out) = o.run(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            "big.crl.der",
            "-noout",
            "-CAfile",
            "chain.pem",
        ]);
        assert!(ok && out.contains("verify OK"), "{algorithm}: {out}");
        let (ok, text) = o.run(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            "big.crl.der",
            "-noout",
            "-text",
        ]);
        assert!(ok);
        assert!(
            text.to_ascii_lowercase().contains(&serials[ENTRIES - 1]),
            "{algorithm}: the last serial is listed"
        );
        app.stop().await;
    }

    // The same message sent RAW is what real KMS (and this moto) refuses: the reason DIGEST
    // exists. Plain moto would sign it (see the module doc of the AWS signer).
    let client = moto_client(&kms.url).await;
    let key = moto_ca_key(&client, "p256").await;
    let refused = client
        .sign()
        .key_id(&key)
        .message(aws_sdk_kms::primitives::Blob::new(vec![0u8; 4097]))
        .message_type(aws_sdk_kms::types::MessageType::Raw)
        .signing_algorithm(aws_sdk_kms::types::SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await;
    let err = refused.expect_err("RAW over 4,096 bytes is refused");
    assert!(
        format!("{:?}", err).contains("ValidationException"),
        "{err:?}"
    );
    kms.stop().await;
}
