//! Status changes a holder asks for (revoke, suspend, resume), each checked against the
//! lifecycle rules and written in one transaction with its audit event, the certificate's
//! re-signed OCSP answer and a bump of the issuer's status-change count (the background job
//! regenerates the CRL when that count moves: a change costs one signature and a few row
//! writes, whatever the number already revoked); and the check every signing path makes
//! first: may this certificate sign now.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use super::{
    CertificateView, Pki, PkiError,
    lifecycle::{self, CertStatus, LifecycleError, RevocationReason},
    ocsp::SerialStatus,
};
use crate::{
    audit::{Action, Actor, NewEvent},
    custody::OwnerId,
    domain::revocation_reason::CrlReason,
    store::{self, StoreError},
};

impl Pki {
    async fn change_status(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        change: StatusChange,
    ) -> Result<CertificateView, PkiError> {
        let StatusChange {
            check,
            to,
            mark,
            action,
            details,
        } = change;
        let row = self.find(db, owner, id).await?;
        let now = self.clock.now();
        check(row.status, row.not_after, now)?;
        let (revocation, answer) = match mark {
            Mark::Revoked(reason) => (
                store::pki::Revocation::Set(now, reason),
                SerialStatus::Revoked { at: now, reason },
            ),
            Mark::Cleared => (store::pki::Revocation::Clear, SerialStatus::Good),
        };
        let presigned = self.presign_change(&row.serial_hex, answer, now).await;
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !store::pki::transition(&txn, row.id, row.status, to, revocation, now).await? {
            return Err(PkiError::Concurrent);
        }
        self.record_status_change(&txn, presigned).await?;
        let event = NewEvent::new(Actor::User(owner.as_str().into()), action)
            .subject(row.serial_hex.clone())
            .details(details);
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        store::pki::count_committed_revocation_change();
        // The row as the compare-and-set just wrote it (no second read after the commit).
        let mut row = row;
        row.status = to;
        row.updated_at = now;
        match revocation {
            store::pki::Revocation::Set(at, reason) => {
                row.revoked_at = Some(at);
                row.revocation_reason = Some(reason);
            }
            store::pki::Revocation::Clear => {
                row.revoked_at = None;
                row.revocation_reason = None;
            }
            store::pki::Revocation::Keep => {}
        }
        Ok(self.view(row))
    }

    /// Revokes for good (RFC 5280 reason).
    pub async fn revoke(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        reason: RevocationReason,
    ) -> Result<CertificateView, PkiError> {
        let change = StatusChange {
            check: lifecycle::check_revoke,
            to: CertStatus::Revoked,
            mark: Mark::Revoked(reason.into()),
            action: Action::CertificateRevoked,
            details: json!({"reason": reason}),
        };
        self.change_status(db, owner, id, change).await
    }

    /// Suspends (certificateHold on CRL and OCSP).
    pub async fn suspend(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<CertificateView, PkiError> {
        let change = StatusChange {
            check: lifecycle::check_suspend,
            to: CertStatus::Suspended,
            mark: Mark::Revoked(CrlReason::CertificateHold),
            action: Action::CertificateSuspended,
            details: json!({}),
        };
        self.change_status(db, owner, id, change).await
    }

    /// Resumes a suspended certificate.
    pub async fn resume(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<CertificateView, PkiError> {
        let change = StatusChange {
            check: lifecycle::check_resume,
            to: CertStatus::Active,
            mark: Mark::Cleared,
            action: Action::CertificateResumed,
            details: json!({}),
        };
        self.change_status(db, owner, id, change).await
    }

    /// Checks that a certificate may sign now (active: not suspended, revoked or expired) and
    /// returns its custody key. Every signing path goes through here first.
    pub async fn signing_key(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<Uuid, PkiError> {
        let view = self.certificate(db, owner, id).await?;
        if view.status != CertStatus::Active {
            return Err(LifecycleError::NotAllowed {
                status: view.status.as_str(),
                action: "used to sign",
            }
            .into());
        }
        view.custody_key_id.ok_or(PkiError::KeySource(
            "this certificate's key is on the holder's device",
        ))
    }
}

/// A status change: its rule, target, revocation fields and audit event.
struct StatusChange {
    check: fn(CertStatus, DateTime<Utc>, DateTime<Utc>) -> Result<(), LifecycleError>,
    to: CertStatus,
    mark: Mark,
    action: Action,
    details: serde_json::Value,
}

/// What a status change writes into the revocation fields.
enum Mark {
    /// Revocation time = now, with this RFC 5280 reason (certificateHold: suspended).
    Revoked(CrlReason),
    /// Cleared (resumed from hold).
    Cleared,
}
