//! Changing and resetting a certificate's PIN, for its holder.
//!
//! - **Change** (signed in): the current PIN opens the key (a wrong one is a PIN attempt like
//!   any other and counts toward the lock; a locked PIN cannot be changed), the new PIN — the
//!   rules of enrolment (`Pin::parse_new`: six digits, not trivial, not the birth date) and not
//!   the current one — gets a new PIN slot that replaces the old one in one transaction with
//!   its audit event (`custody::unlock`).
//! - **Reset** (after identity, phone code and security medium again, see
//!   `auth::enrolment::pin_reset`): a passkey bound to the key opens the data key and the PIN
//!   slot is made anew; the lock counter is cleared in the same transaction.
//!
//! Either way the holder's phone gets an SMS notice through the message sender afterwards
//! (best effort: the change is done and audited; a failed notice is logged, not undone).
//!
//! The PIN lock counter (`custody::unlock`) leaves a lock only through a reset; below the
//! limit a right PIN (a change included) returns it to 0. Passkey use, sign-in by device and
//! time never touch it.

use std::sync::Arc;

use aws_lc_rs::constant_time;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::messaging::{Channel, MessageSender};
use crate::{
    custody::{Custody, CustodyError, OwnerId},
    domain::pin::{Pin, PinError},
    pki::{CertificateView, Pki, PkiError, lifecycle::CertStatus},
    store::{self, StoreError},
};

/// Why a PIN change or reset was refused.
#[derive(Debug, thiserror::Error)]
pub enum PinChangeError {
    /// The new PIN is not accepted (format, too easy, the birth date, or the current one).
    #[error(transparent)]
    Pin(#[from] PinError),
    /// The certificate is not there, is not a cloud key, or is revoked or expired.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// Custody refused or failed (wrong or locked current PIN, unbound passkey, KMS down).
    #[error(transparent)]
    Custody(#[from] CustodyError),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// PIN changes and resets.
pub struct Pins {
    custody: Arc<Custody>,
    sender: Arc<dyn MessageSender>,
}

impl Pins {
    /// A service over custody and the message sender.
    pub fn new(custody: Arc<Custody>, sender: Arc<dyn MessageSender>) -> Self {
        Self { custody, sender }
    }

    /// The cloud key of `owner`'s certificate `id`, if its PIN may be changed or reset now:
    /// active or suspended (a revoked or expired certificate is reissued instead).
    pub async fn key_of(
        &self,
        db: &DatabaseConnection,
        pki: &Pki,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<(CertificateView, Uuid), PinChangeError> {
        let cert = pki.certificate(db, owner, id).await?;
        if !matches!(cert.status, CertStatus::Active | CertStatus::Suspended) {
            return Err(
                PkiError::from(crate::pki::lifecycle::LifecycleError::NotAllowed {
                    status: cert.status.as_str(),
                    action: "given a new PIN",
                })
                .into(),
            );
        }
        let key = cert.custody_key_id.ok_or(PkiError::KeySource(
            "this certificate's key is on the holder's device; it has no PIN here",
        ))?;
        Ok((cert, key))
    }

    /// The new PIN under enrolment's rules (`birth` is the holder's birth date).
    pub async fn parse_new(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        raw: &str,
    ) -> Result<Pin, PinChangeError> {
        let birth = store::enrolment::user_profile(db, owner.as_str())
            .await?
            .map(|(_, born)| born);
        Ok(Pin::parse_new(raw, birth)?)
    }

    /// Changes the PIN of `owner`'s certificate `id` from `current` to `new`.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), certificate = %id))]
    pub async fn change(
        &self,
        db: &DatabaseConnection,
        pki: &Pki,
        owner: &OwnerId,
        id: Uuid,
        current: &Pin,
        new: &str,
    ) -> Result<(), PinChangeError> {
        let (_, key) = self.key_of(db, pki, owner, id).await?;
        let new = self.parse_new(db, owner, new).await?;
        if constant_time::verify_slices_are_equal(current.expose(), new.expose()).is_ok() {
            return Err(PinError::Trivial("the PIN in force").into());
        }
        self.custody
            .change_pin(db, owner, key, current, &new)
            .await?;
        self.notify(db, owner, "변경").await;
        Ok(())
    }

    /// Resets the PIN of `owner`'s key `key` through the bound passkey `credential_id` (its
    /// assertion verified by the caller), to `new` (already parsed under enrolment's rules).
    pub async fn reset(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key: Uuid,
        credential_id: &[u8],
        prf: Option<&crate::custody::Prf>,
        new: &Pin,
    ) -> Result<(), PinChangeError> {
        self.custody
            .reset_pin_with_passkey(db, owner, key, credential_id, prf, new)
            .await?;
        self.notify(db, owner, "재설정").await;
        Ok(())
    }

    /// Tells the holder their PIN was changed or reset (best effort: it is done and audited).
    async fn notify(&self, db: &DatabaseConnection, owner: &OwnerId, what: &str) {
        let phone = match store::enrolment::user_phone(db, owner.as_str()).await {
            Ok(phone) => phone,
            Err(e) => {
                tracing::warn!(error = %e, "PIN notice not sent: no phone read");
                None
            }
        };
        if let Some(phone) = phone {
            let body = format!(
                "[fincert] 인증서 PIN이 {what}되었습니다. 본인이 아니면 고객센터로 연락하세요."
            );
            if let Err(e) = self.sender.send(&phone, Channel::Sms, &body).await {
                tracing::warn!(error = %e, "PIN notice not sent");
            }
        }
    }
}
