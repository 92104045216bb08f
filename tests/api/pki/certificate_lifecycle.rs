//! A certificate's life after issuance: suspension and resumption, the renewal window and its
//! rules, reissue, the lifecycle job's notices and expiry, and only active certificates signing.

use chrono::Duration;
use fincert::{
    audit::Action,
    clock::Clock,
    config::Engine,
    custody::CustodyError,
    error::{ApiError, ErrorCode},
    pki::{
        KeySource, PkiError,
        lifecycle::{CertStatus, LifecycleError, RevocationReason},
        profile::{CertKind, Usage},
    },
    store,
};

use super::Openssl;
use crate::helpers::*;

/// Suspension shows as certificateHold; resumption restores good status; illegal moves are 409.
pub(super) async fn suspend_and_resume(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let who = owner("user-choi");
    let cert = cloud_cert("user-choi").issue(&app).await;
    let leaf = o.write_cert("leaf.pem", &cert.der);
    assert_eq!(
        app.pki
            .suspend(&app.db, &who, cert.id)
            .await
            .unwrap()
            .status,
        CertStatus::Suspended
    );
    let out = o.ocsp(&app, &leaf);
    assert!(
        out.contains("leaf.pem: revoked") && out.contains("certificateHold"),
        "{out}"
    );
    let crl = o.crl(&app).await;
    assert!(!o.verify(&leaf, Some(&crl)).0);
    let err = app.pki.suspend(&app.db, &who, cert.id).await.unwrap_err();
    assert!(matches!(
        err,
        PkiError::Lifecycle(LifecycleError::NotAllowed { .. })
    ));

    assert_eq!(
        app.pki.resume(&app.db, &who, cert.id).await.unwrap().status,
        CertStatus::Active
    );
    assert!(o.ocsp(&app, &leaf).contains("leaf.pem: good"));
    let crl = o.crl(&app).await;
    assert!(o.verify(&leaf, Some(&crl)).0, "off the CRL again");
    let err = app.pki.resume(&app.db, &who, cert.id).await.unwrap_err();
    assert_eq!(
        ApiError::from(err).problem().code,
        ErrorCode::IllegalTransition
    );
}

/// Renewal opens 30 days before expiry, needs the PIN, keeps the subject, makes a new key and
/// serial, charges again, and happens once.
pub(super) async fn renewal_window_and_rules(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let who = owner("user-jung");
    let cert = cloud_cert("user-jung").issue(&app).await;

    let err = app
        .pki
        .renew(&app.db, &who, cert.id, KeySource::Cloud(&pin("482915")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::Lifecycle(LifecycleError::RenewalNotOpen {
                window_days: 30,
                ..
            })
        ),
        "{err:?}"
    );
    let p = ApiError::from(err).problem();
    assert_eq!((p.status, &p.code), (409, &ErrorCode::RenewalNotOpen));

    app.clock
        .advance(cert.not_after - app.clock.now() - Duration::days(20));
    assert!(
        app.pki
            .certificate(&app.db, &who, cert.id)
            .await
            .unwrap()
            .renewal_open
    );
    let err = app
        .pki
        .renew(&app.db, &who, cert.id, KeySource::Cloud(&pin("111112")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PkiError::Custody(CustodyError::WrongPin { .. })),
        "{err:?}"
    );

    let renewed = app
        .pki
        .renew(&app.db, &who, cert.id, KeySource::Cloud(&pin("482915")))
        .await
        .unwrap();
    assert_ne!(renewed.serial, cert.serial);
    assert_eq!(renewed.subject, cert.subject);
    assert_ne!(renewed.custody_key_id, cert.custody_key_id);
    let old = app.pki.certificate(&app.db, &who, cert.id).await.unwrap();
    assert_eq!(
        old.status,
        CertStatus::Active,
        "superseded, not revoked, until it expires"
    );
    let leaf = o.write_cert("renewed.pem", &renewed.der);
    assert!(o.verify(&leaf, None).0);
    // The same PIN opens the new key.
    app.custody
        .activate_with_pin(
            &app.db,
            &who,
            renewed.custody_key_id.unwrap(),
            &pin("482915"),
            Some(1),
        )
        .await
        .unwrap();

    let err = app
        .pki
        .renew(&app.db, &who, cert.id, KeySource::Cloud(&pin("482915")))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        PkiError::Lifecycle(LifecycleError::AlreadyRenewed)
    ));
    let fees: Vec<_> = app
        .pki
        .fees(&app.db, &who)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.event)
        .collect();
    assert_eq!(fees, ["issue", "renew"]);
}

/// Reissuance revokes a live predecessor as superseded; an expired one is left expired.
pub(super) async fn reissue_supersedes_the_old_certificate(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let who = owner("user-yoon");
    let cert = cloud_cert("user-yoon")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    let old_leaf = o.write_cert("old.pem", &cert.der);
    // Forgotten PIN: a new key with a new PIN.
    let new = app
        .pki
        .reissue(&app.db, &who, cert.id, KeySource::Cloud(&pin("604172")))
        .await
        .unwrap();
    assert_eq!(new.status, CertStatus::Active);
    let old = app.pki.certificate(&app.db, &who, cert.id).await.unwrap();
    assert_eq!(old.status, CertStatus::Revoked);
    let out = o.ocsp(&app, &old_leaf);
    assert!(
        out.contains("old.pem: revoked") && out.contains("superseded"),
        "{out}"
    );

    // Expired, then reissued: the old one stays expired.
    app.clock.advance(Duration::days(365 * 3 + 2));
    let report = app.pki.run_lifecycle_job(&app.db).await.unwrap().unwrap();
    assert_eq!(report.expired, 1);
    assert_eq!(
        app.pki
            .certificate(&app.db, &who, new.id)
            .await
            .unwrap()
            .status,
        CertStatus::Expired
    );
    let newer = app
        .pki
        .reissue(&app.db, &who, new.id, KeySource::Cloud(&pin("604172")))
        .await
        .unwrap();
    assert_eq!(
        app.pki
            .certificate(&app.db, &who, new.id)
            .await
            .unwrap()
            .status,
        CertStatus::Expired
    );
    assert_eq!(newer.status, CertStatus::Active);
    assert_eq!(
        store::audit::by_action(&app.db, Action::CertificateExpired, 5)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store::audit::verify(&app.db).await.unwrap().is_ok());
}

/// The lifecycle job: one renewal notice per certificate entering its window, expiry marked
/// once, and only one node at a time (PostgreSQL advisory lock).
pub(super) async fn lifecycle_job_notices_and_expires(engine: Engine) {
    let app = spawn_app(engine).await;
    let who = owner("user-seo");
    let cert = cloud_cert("user-seo")
        .kind(CertKind::Joint)
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    let report = app.pki.run_lifecycle_job(&app.db).await.unwrap().unwrap();
    assert_eq!((report.expired, report.renewal_notices), (0, 0));

    app.clock
        .advance(cert.not_after - app.clock.now() - Duration::days(29));
    let report = app.pki.run_lifecycle_job(&app.db).await.unwrap().unwrap();
    assert_eq!((report.expired, report.renewal_notices), (0, 1));
    let report = app.pki.run_lifecycle_job(&app.db).await.unwrap().unwrap();
    assert_eq!(report.renewal_notices, 0, "told once");
    let notices = store::audit::by_action(&app.db, Action::RenewalNoticeRecorded, 5)
        .await
        .unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].subject.as_deref(), Some(cert.serial.as_str()));

    app.clock.advance(Duration::days(30));
    assert_eq!(
        app.pki
            .run_lifecycle_job(&app.db)
            .await
            .unwrap()
            .unwrap()
            .expired,
        1
    );
    assert_eq!(
        app.pki
            .certificate(&app.db, &who, cert.id)
            .await
            .unwrap()
            .status,
        CertStatus::Expired
    );

    if engine == Engine::Postgres {
        use sea_orm::TransactionTrait;
        // Another node holds the job: this one skips it.
        let other = app.db.begin().await.unwrap();
        assert!(
            store::pki::try_job_lock(&other, 0x6669_6e63_0001)
                .await
                .unwrap()
        );
        assert!(app.pki.run_lifecycle_job(&app.db).await.unwrap().is_none());
        other.commit().await.unwrap();
        assert!(app.pki.run_lifecycle_job(&app.db).await.unwrap().is_some());
    }
}

/// Only an active certificate yields a signing key: suspended, revoked and expired ones never
/// sign, and a device certificate has no key here.
pub(super) async fn only_active_certificates_sign(engine: Engine) {
    let app = spawn_app(engine).await;
    let who = owner("user-han");
    let cert = cloud_cert("user-han")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    assert_eq!(
        app.pki.signing_key(&app.db, &who, cert.id).await.unwrap(),
        cert.custody_key_id.unwrap()
    );
    app.pki.suspend(&app.db, &who, cert.id).await.unwrap();
    let err = app
        .pki
        .signing_key(&app.db, &who, cert.id)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::Lifecycle(LifecycleError::NotAllowed {
                status: "suspended",
                ..
            })
        ),
        "{err:?}"
    );
    app.pki.resume(&app.db, &who, cert.id).await.unwrap();
    assert!(app.pki.signing_key(&app.db, &who, cert.id).await.is_ok());
    app.pki
        .revoke(&app.db, &who, cert.id, RevocationReason::Unspecified)
        .await
        .unwrap();
    assert!(app.pki.signing_key(&app.db, &who, cert.id).await.is_err());

    let other = cloud_cert("user-han")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    app.clock.advance(Duration::days(365 * 3 + 2));
    let err = app
        .pki
        .signing_key(&app.db, &who, other.id)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::Lifecycle(LifecycleError::NotAllowed {
                status: "expired",
                ..
            })
        ),
        "{err:?}"
    );
    assert!(matches!(
        app.pki
            .signing_key(&app.db, &owner("user-x"), other.id)
            .await
            .unwrap_err(),
        PkiError::NotFound
    ));
}
