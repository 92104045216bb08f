//! Revocation along the whole path: the issuing CA's certificate points to the root's CRL (the
//! ARL), which the root signs rarely and the service serves from storage; an operator revokes
//! the issuing CA of a throwaway hierarchy with `fincert ca revoke-issuing`, and openssl's
//! `-crl_check_all` then refuses the certificates under it.

use chrono::Duration;
use fincert::{
    audit::Action,
    config::Engine,
    error::{ApiError, ErrorCode},
    pki::{
        IssueRequest, KeySource, PkiError,
        profile::{CertKind, HolderName, Usage},
    },
    store,
};
use x509_parser::prelude::FromDer;

use super::Openssl;
use crate::helpers::*;

fn crl_number(der: &[u8]) -> String {
    let (_, crl) =
        x509_parser::revocation_list::CertificateRevocationList::from_der(der).expect("a CRL");
    crl.crl_number().expect("a CRL number").to_string()
}

/// Runs `fincert ca revoke-issuing` against the app's database and keyring.
async fn revoke_issuing_cli(app: &TestApp, reason: &str) -> (i32, String, String) {
    let url = app.settings.database_url();
    let data_dir = app.settings.data_dir.to_string_lossy().into_owned();
    let reason = reason.to_owned();
    tokio::task::spawn_blocking(move || {
        run_cli(
            &["ca", "revoke-issuing", "--reason", &reason],
            &[
                ("FINCERT_DATABASE_URL", url.as_str()),
                ("FINCERT_DATA_DIR", data_dir.as_str()),
            ],
        )
    })
    .await
    .unwrap()
}

/// The issuing CA names the ARL and the root; the ARL is served from storage (the same signed
/// ARL to every request); revoking the issuing CA through the CLI puts it on the ARL at once,
/// audited, once, and `openssl verify -crl_check_all` then fails with "certificate revoked".
pub(super) async fn revoking_the_issuing_ca_reaches_the_arl(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let issuing = o.text(&o.path("issuing.pem"));
    for expected in [
        "X509v3 CRL Distribution Points",
        "URI:http://127.0.0.1:8080/pki/crl/root.crl",
        "CA Issuers - URI:http://127.0.0.1:8080/pki/ca/root.crt",
    ] {
        assert!(
            issuing.contains(expected),
            "missing {expected:?} in\n{issuing}"
        );
    }
    assert!(
        !issuing.contains("OCSP - URI"),
        "the root answers no OCSP: {issuing}"
    );

    let cert = cloud_cert("user-chain").issue(&app).await;
    let leaf = o.write_cert("leaf.pem", &cert.der);
    let (ok, out) = o.verify_full_chain(&app, &leaf).await;
    assert!(ok, "full chain before: {out}");
    // Without the ARL openssl cannot check the issuing CA: the check is real.
    let crl = o.crl(&app).await;
    let (ok, out) = o.run(&[
        "verify",
        "-crl_check_all",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "issuing.pem",
        "-CRLfile",
        &crl.to_string_lossy(),
        "leaf.pem",
    ]);
    assert!(
        !ok && out.contains("unable to get certificate CRL"),
        "{out}"
    );

    // Served from storage: every fetch gets the same signed ARL.
    let fetch = || async { app.get("/pki/crl/root.crl").await.bytes().await.unwrap() };
    let first = fetch().await;
    let again = futures_util::future::join_all((0..4).map(|_| fetch())).await;
    assert!(
        again.iter().all(|a| *a == first),
        "one ARL, not one per request"
    );
    let published = || async {
        store::audit::by_action(&app.db, Action::CrlPublished, 50)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.details.contains(r#""issuer":"root""#))
            .count()
    };
    assert_eq!(published().await, 1);

    // The operator revokes the issuing CA from the command line.
    let (code, out, err) = revoke_issuing_cli(&app, "ca-compromise").await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("/pki/crl/root.crl"), "{out}");
    // The CLI signed at the real time, a moment after the app's fixed clock.
    app.clock.advance(Duration::minutes(1));
    let arl = o.arl(&app).await;
    assert_ne!(
        crl_number(&std::fs::read(o.path("root.crl.der")).unwrap()),
        crl_number(&first)
    );
    let (_, text) = o.run(&["crl", "-in", &arl.to_string_lossy(), "-noout", "-text"]);
    assert!(text.contains("CA Compromise"), "{text}");
    let (ok, out) = o.verify_full_chain(&app, &leaf).await;
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    assert!(
        out.contains("depth 1") || out.contains("at 1 depth"),
        "{out}"
    );

    let events = store::audit::by_action(&app.db, Action::IssuingCaRevoked, 5)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_kind, "operator");
    assert_eq!(published().await, 2);
    // Fail closed: nothing more is issued under the revoked CA.
    let err = app
        .pki
        .issue(
            &app.db,
            IssueRequest {
                owner: owner("user-late"),
                holder: HolderName::parse("홍길동").unwrap(),
                kind: CertKind::Joint,
                usage: Usage::Restricted,
                key: KeySource::Cloud(&pin(PIN)),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PkiError::IssuingCaRevoked), "{err:?}");
    let p = ApiError::from(err).problem();
    assert_eq!((p.status, &p.code), (409, &ErrorCode::IssuingCaRevoked));
    // Once: a second revocation changes nothing and says so.
    let (code, _, err) = revoke_issuing_cli(&app, "superseded").await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already revoked"), "{err}");
    assert_eq!(published().await, 2);
}
