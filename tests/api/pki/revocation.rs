//! Certificate status as relying parties see it: revocation reaching the CRL and the OCSP
//! responder, OCSP over GET for unknown and malformed requests, and CRL refreshes under load.

use chrono::Duration;
use fincert::{
    audit::Action,
    clock::Clock,
    config::Engine,
    error::{ApiError, ErrorCode},
    pki::{PkiError, lifecycle::RevocationReason, profile::Usage},
    store,
};
use x509_parser::prelude::FromDer;

use super::Openssl;
use crate::helpers::*;

/// Revocation reaches the CRL (openssl -crl_check) and the OCSP responder (openssl ocsp).
pub(super) async fn revocation_reaches_crl_and_ocsp(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let cert = cloud_cert("user-lee")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    let leaf = o.write_cert("leaf.pem", &cert.der);

    let crl = o.crl(&app).await;
    let (ok, out) = o.verify(&leaf, Some(&crl));
    assert!(ok, "valid with an empty CRL: {out}");
    let out = o.ocsp(&app, &leaf);
    assert!(out.contains("leaf.pem: good"), "{out}");
    assert!(out.contains("Response verify OK"), "{out}");

    app.pki
        .revoke(
            &app.db,
            &owner("user-lee"),
            cert.id,
            RevocationReason::KeyCompromise,
        )
        .await
        .unwrap();
    let crl = o.crl(&app).await;
    let (ok, out) = o.verify(&leaf, Some(&crl));
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (_, crl_text) = o.run(&["crl", "-in", "issuing.crl.pem", "-noout", "-text"]);
    assert!(
        crl_text.contains("Key Compromise") && crl_text.contains("Next Update"),
        "{crl_text}"
    );
    let out = o.ocsp(&app, &leaf);
    assert!(
        out.contains("leaf.pem: revoked") && out.contains("Reason: keyCompromise"),
        "{out}"
    );

    // Revoking twice is an illegal transition (409).
    let err = app
        .pki
        .revoke(
            &app.db,
            &owner("user-lee"),
            cert.id,
            RevocationReason::Unspecified,
        )
        .await
        .unwrap_err();
    assert_eq!(
        ApiError::from(err).problem().code,
        ErrorCode::IllegalTransition
    );
    // Another owner cannot touch it at all.
    let err = app
        .pki
        .revoke(
            &app.db,
            &owner("user-other"),
            cert.id,
            RevocationReason::Unspecified,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PkiError::NotFound));
    assert_eq!(
        store::audit::by_action(&app.db, Action::CertificateRevoked, 5)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// OCSP over GET, unknown serials, and malformed requests.
pub(super) async fn ocsp_get_unknown_and_malformed(engine: Engine) {
    use base64::Engine as _;
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let cert = cloud_cert("user-park")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    o.write_cert("leaf.pem", &cert.der);
    let (ok, out) = o.run(&[
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-cert",
        "leaf.pem",
        "-reqout",
        "req.der",
        "-no_nonce",
    ]);
    assert!(ok, "{out}");
    let req = std::fs::read(o.path("req.der")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&req);
    let encoded: String = b64
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_string(),
            '/' => "%2F".to_string(),
            '=' => "%3D".to_string(),
            c => c.to_string(),
        })
        .collect();
    let resp = app.get(&format!("/pki/ocsp/{encoded}")).await;
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/ocsp-response"
    );
    std::fs::write(o.path("resp.der"), resp.bytes().await.unwrap()).unwrap();
    let (ok, out) = o.run(&[
        "ocsp",
        "-respin",
        "resp.der",
        "-issuer",
        "issuing.pem",
        "-cert",
        "leaf.pem",
        "-CAfile",
        "chain.pem",
        "-no_nonce",
    ]);
    assert!(ok && out.contains("leaf.pem: good"), "{out}");

    // A serial this CA never issued.
    let url = app.url("/pki/ocsp");
    let (ok, out) = o.run(&[
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-serial",
        "0x1234567890",
        "-url",
        &url,
        "-CAfile",
        "chain.pem",
    ]);
    assert!(ok && out.contains(": unknown"), "{out}");

    // Garbage gets an OCSP malformedRequest answer; a wrong content type a 415 problem.
    let resp = app
        .client
        .post(url.clone())
        .header("content-type", "application/ocsp-request")
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    std::fs::write(o.path("bad.der"), resp.bytes().await.unwrap()).unwrap();
    let (_, out) = o.run(&["ocsp", "-respin", "bad.der", "-resp_text", "-noverify"]);
    assert!(
        out.contains("malformedrequest") || out.contains("malformedRequest"),
        "{out}"
    );
    let resp = app
        .client
        .post(url)
        .header("content-type", "text/plain")
        .body(req)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415, "unsupported_media_type").await;
}

/// When the stored CRL is due for refresh, concurrent fetches may all try to publish the
/// next one: one wins the CRL number, and every fetch is answered with a valid CRL.
pub(super) async fn concurrent_crl_refresh_answers_everyone(engine: Engine) {
    let app = spawn_app(engine).await;
    let first = app.get("/pki/crl/issuing.crl").await;
    assert_eq!(first.status(), 200);
    app.clock.advance(Duration::hours(19));
    let fetches = (0..8).map(|_| app.get("/pki/crl/issuing.crl"));
    let answers = futures_util::future::join_all(fetches).await;
    for a in answers {
        assert_eq!(a.status(), 200);
        let der = a.bytes().await.unwrap();
        let (_, crl) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&der).expect("a CRL");
        let next = crl.next_update().unwrap().timestamp();
        assert!(next > app.clock.now().timestamp(), "a CRL valid now");
    }
    app.stop().await;
}
