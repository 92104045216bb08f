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
    let report = app
        .pki
        .run_lifecycle_job(&app.db, app.outbox.as_ref())
        .await
        .unwrap()
        .unwrap();
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
    let report = app
        .pki
        .run_lifecycle_job(&app.db, app.outbox.as_ref())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.expired, report.renewal_notices), (0, 0));

    app.clock
        .advance(cert.not_after - app.clock.now() - Duration::days(29));
    let report = app
        .pki
        .run_lifecycle_job(&app.db, app.outbox.as_ref())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.expired, report.renewal_notices), (0, 1));
    let report = app
        .pki
        .run_lifecycle_job(&app.db, app.outbox.as_ref())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.renewal_notices, 0, "told once");
    let notices = store::audit::by_action(&app.db, Action::RenewalNoticeRecorded, 5)
        .await
        .unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].subject.as_deref(), Some(cert.serial.as_str()));

    app.clock.advance(Duration::days(30));
    assert_eq!(
        app.pki
            .run_lifecycle_job(&app.db, app.outbox.as_ref())
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
        assert!(
            app.pki
                .run_lifecycle_job(&app.db, app.outbox.as_ref())
                .await
                .unwrap()
                .is_none()
        );
        other.commit().await.unwrap();
        assert!(
            app.pki
                .run_lifecycle_job(&app.db, app.outbox.as_ref())
                .await
                .unwrap()
                .is_some()
        );
    }
}

/// A sender that refuses everything (a telecom gateway that is down).
struct DownSender;

#[async_trait::async_trait]
impl fincert::auth::messaging::MessageSender for DownSender {
    async fn send(
        &self,
        _: &fincert::domain::person::Phone,
        _: fincert::auth::messaging::Channel,
        _: &str,
    ) -> Result<(), fincert::auth::messaging::SendError> {
        Err(fincert::auth::messaging::SendError("gateway down".into()))
    }
}

/// The renewal notices really go out through the message sender, to the holder's phone: one
/// when the renewal window opens (30 days) and one 7 days before expiry, each exactly once
/// although two nodes run the job at the same moment (on PostgreSQL a second node of the
/// cluster; on SQLite, two runs at once in this one). A notice the gateway refused is tried
/// again on the next run, and a renewed certificate gets no last notice.
pub(super) async fn renewal_notices_are_sent_once_at_30_and_7_days(engine: Engine) {
    let app = spawn_app(engine).await;
    let node = match engine {
        Engine::Postgres => Some(spawn_node(&app).await),
        Engine::Sqlite => None,
    };
    let other = node
        .as_ref()
        .map_or_else(|| app.pki.clone(), |n| n.pki.clone());
    let who = user(&app, "cust-notice").await;
    let cert = cloud_cert(who.as_str())
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    let notices = || {
        app.outbox
            .messages_to("01012345678")
            .into_iter()
            .filter(|m| m.body.contains("만료"))
            .map(|m| m.body)
            .collect::<Vec<_>>()
    };
    let both = || async {
        let (a, b) = tokio::join!(
            app.pki.run_lifecycle_job(&app.db, app.outbox.as_ref()),
            other.run_lifecycle_job(&app.db, app.outbox.as_ref())
        );
        [a.unwrap(), b.unwrap()]
            .into_iter()
            .flatten()
            .map(|r| r.renewal_notices_sent)
            .sum::<usize>()
    };
    assert_eq!(both().await, 0);
    assert!(notices().is_empty(), "nothing before the window");

    // The gateway is down when the window opens: nothing sent, the claim given back.
    app.clock
        .advance(cert.not_after - app.clock.now() - Duration::days(25));
    let report = app
        .pki
        .run_lifecycle_job(&app.db, &DownSender)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (report.renewal_notices, report.renewal_notices_sent),
        (1, 0)
    );
    assert!(notices().is_empty());

    // Next run (both nodes at once): exactly one 30-day notice.
    assert_eq!(both().await, 1);
    assert_eq!(both().await, 0, "told once");
    let sent = notices();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let tail = &cert.serial[cert.serial.len() - 8..];
    assert!(
        sent[0].contains("만료 30일 전") && sent[0].contains(tail),
        "{}",
        sent[0]
    );
    // A restricted-use financial certificate renews itself by default: the notice says how.
    assert!(
        sent[0].contains("PIN으로 전자서명하면 자동으로 갱신됩니다"),
        "{}",
        sent[0]
    );

    // The holder turns automatic renewal off: the last notice sends them to the portal.
    app.pki
        .set_auto_renewal(&app.db, &who, cert.id, false, None)
        .await
        .unwrap();
    // 6 days left: exactly one 7-day notice, also with both nodes at once.
    app.clock.advance(Duration::days(19));
    assert_eq!(both().await, 1);
    assert_eq!(both().await, 0, "told once");
    let sent = notices();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1].contains("만료 7일 전") && sent[1].contains(tail),
        "{}",
        sent[1]
    );
    assert!(
        sent[1].contains("인증서 센터에서 갱신하세요"),
        "{}",
        sent[1]
    );

    // Audited: the refused one and the two sent.
    let events = store::audit::by_action(&app.db, Action::RenewalNoticeRecorded, 10)
        .await
        .unwrap();
    let mut outcomes: Vec<(i64, String)> = events
        .iter()
        .map(|e| {
            let d: serde_json::Value = serde_json::from_str(&e.details).unwrap();
            (
                d["days_before"].as_i64().unwrap(),
                d["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        vec![
            (7, "sent".to_owned()),
            (30, "send_failed".to_owned()),
            (30, "sent".to_owned())
        ]
    );
    assert!(store::audit::verify(&app.db).await.unwrap().is_ok());

    // A certificate renewed inside its window gets no last notice (its successor will).
    let renewed = cloud_cert(who.as_str())
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    app.clock
        .advance(renewed.not_after - app.clock.now() - Duration::days(20));
    assert_eq!(both().await, 1, "its 30-day notice");
    app.pki
        .renew(&app.db, &who, renewed.id, KeySource::Cloud(&pin(PIN)))
        .await
        .unwrap();
    app.clock.advance(Duration::days(15));
    assert_eq!(both().await, 0, "renewed: no 7-day notice");
    assert_eq!(notices().len(), 3);
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
