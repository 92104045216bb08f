//! Renewal (inside the renewal window: new key, new serial, same subject; the old certificate
//! stays valid) and reissue (after expiry, loss or lockout: a live old one is revoked as
//! superseded). Both end in the issuing transaction of `issue.rs`.

use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::{
    CertificateView, KeySource, Pki, PkiError,
    issue::Predecessor,
    lifecycle,
    profile::{self, Storage},
};
use crate::{audit::Action, custody::OwnerId};

impl Pki {
    /// Renews: only when at most the renewal window remains; a new key (the same PIN, which
    /// must open the current key) or a new CSR, a new serial, the same subject. The old
    /// certificate stays valid until it expires.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), certificate = %id))]
    pub async fn renew(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        key: KeySource<'_>,
    ) -> Result<CertificateView, PkiError> {
        let old = self.find(db, owner, id).await?;
        lifecycle::check_renew(
            old.status,
            old.not_after,
            self.clock.now(),
            self.settings.renewal_window_days,
            old.renewed_by_id.is_some(),
        )?;
        if let (KeySource::Cloud(pin), Some(key_id)) = (&key, old.custody_key_id) {
            // The PIN must open the current key: that is the holder's authentication.
            let act = self
                .custody
                .activate_with_pin(db, owner, key_id, pin, Some(1))
                .await?;
            self.custody.activations().remove(act.id);
        }
        let subject = old.subject.clone();
        self.create(
            db,
            owner,
            old.kind,
            old.usage,
            old.storage,
            &subject,
            &key,
            Some((&old, Predecessor::Renewed)),
            Action::CertificateRenewed,
            "renew",
        )
        .await
    }

    /// Reissues (after expiry, loss, lockout or a forgotten PIN; the caller has verified the
    /// holder's identity again): a new key and certificate; a live old one is revoked as
    /// superseded in the same transaction.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), certificate = %id))]
    pub async fn reissue(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        key: KeySource<'_>,
    ) -> Result<CertificateView, PkiError> {
        let old = self.find(db, owner, id).await?;
        let revoke = lifecycle::reissue_revokes(old.status, old.not_after, self.clock.now());
        let storage = match key {
            KeySource::Cloud(_) => Storage::Cloud,
            KeySource::Device(_) => Storage::Device,
        };
        profile::check_storage(old.kind, storage)?;
        let subject = old.subject.clone();
        self.create(
            db,
            owner,
            old.kind,
            old.usage,
            storage,
            &subject,
            &key,
            Some((&old, Predecessor::Reissued { revoke })),
            Action::CertificateReissued,
            "reissue",
        )
        .await
    }
}
