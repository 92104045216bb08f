//! Security media registered to a customer by their institution: the security card, a
//! hardware OTP token (HOTP or TOTP) and a mobile OTP app (TOTP bound to the registered
//! device). Secrets are KMS-wrapped under a context naming the medium; only the last OTP step
//! used and the open card challenge are kept beside them.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::security_card::{Card, CardError};
use crate::{
    custody::kms::{EncryptionContext, Kms, KmsError, WrappedKey},
    domain::person::CustomerNumber,
    store::{self, StoreError, enrolment::MediumRow},
};

pub use crate::domain::medium_kind::MediumKind;

/// Media failures.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// OTP secrets are 16 to 64 bytes.
    #[error("an OTP secret is 16 to 64 bytes")]
    Secret,
    /// A mobile OTP needs its device id (and a hardware token has none).
    #[error("a mobile OTP is registered with its device id; a hardware token without one")]
    Device,
    /// Card generation failed.
    #[error(transparent)]
    Card(#[from] CardError),
    /// KMS failed.
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn context(medium: &str, kind: MediumKind) -> EncryptionContext {
    EncryptionContext::new()
        .with("fincert:medium", medium)
        .with("fincert:kind", kind.as_str())
        .with("fincert:purpose", "security-medium")
}

async fn register(
    db: &DatabaseConnection,
    kms: &dyn Kms,
    customer: &CustomerNumber,
    kind: MediumKind,
    secret: &[u8],
    device: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, MediaError> {
    let id = Uuid::new_v4().to_string();
    let wrapped = kms.encrypt(secret, &context(&id, kind)).await?;
    store::enrolment::insert_medium(
        db,
        &id,
        customer.as_str(),
        kind,
        &wrapped.kms_key_id,
        &wrapped.blob,
        device,
        now,
    )
    .await?;
    Ok(id)
}

/// Issues a new security card to a customer; the returned card is for the printer only.
pub async fn register_card(
    db: &DatabaseConnection,
    kms: &dyn Kms,
    customer: &CustomerNumber,
    cells: usize,
    now: DateTime<Utc>,
) -> Result<Card, MediaError> {
    let card = Card::generate(cells)?;
    register(
        db,
        kms,
        customer,
        MediumKind::Card,
        &card.to_bytes(),
        None,
        now,
    )
    .await?;
    Ok(card)
}

/// Registers an OTP token's (or mobile OTP app's) shared secret for a customer. A mobile OTP is
/// bound to the device it was installed on: `device` (1–128 visible ASCII characters) is
/// required for it and refused for hardware tokens.
pub async fn register_otp(
    db: &DatabaseConnection,
    kms: &dyn Kms,
    customer: &CustomerNumber,
    kind: MediumKind,
    secret: &[u8],
    device: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), MediaError> {
    if !(16..=64).contains(&secret.len()) || kind == MediumKind::Card {
        return Err(MediaError::Secret);
    }
    let device_ok =
        |d: &str| (1..=128).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_graphic());
    match (kind, device) {
        (MediumKind::Motp, Some(d)) if device_ok(d) => {}
        (MediumKind::Hotp | MediumKind::Totp, None) => {}
        _ => return Err(MediaError::Device),
    }
    register(db, kms, customer, kind, secret, device, now).await?;
    Ok(())
}

/// The unwrapped secret of a registered medium (zeroized on drop).
pub async fn secret_of(
    kms: &dyn Kms,
    medium: &MediumRow,
    kind: MediumKind,
) -> Result<Zeroizing<Vec<u8>>, MediaError> {
    let wrapped = WrappedKey {
        kms_key_id: medium.kms_key_id.clone(),
        blob: medium.wrapped_secret.clone(),
    };
    Ok(kms.decrypt(&wrapped, &context(&medium.id, kind)).await?)
}

/// Progress of moving media secrets to the current KMS key (`kms rewrap`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaRewrap {
    /// Secrets moved.
    pub moved: u64,
    /// Secrets not under the current key after the run.
    pub remaining: u64,
}

/// Moves up to `limit` media secrets not under the current KMS key to it (within a backend by
/// its re-encryption; across backends through [`crate::custody::kms::pair::KmsPair`]), each
/// by compare-and-set, `batch` per transaction with one audit event. Safe to interrupt and
/// run again.
pub async fn rewrap(
    db: &DatabaseConnection,
    kms: &dyn Kms,
    now: DateTime<Utc>,
    batch: u64,
    limit: u64,
) -> Result<MediaRewrap, MediaError> {
    use sea_orm::TransactionTrait;

    use crate::audit::{Action, Actor, NewEvent};
    let current = kms.current_key_id();
    let mut report = MediaRewrap::default();
    let mut after: Option<String> = None;
    while report.moved < limit {
        let take = batch.min(limit - report.moved);
        let page = store::enrolment::media_not_under(db, &current, after.as_deref(), take).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        let mut fresh = Vec::with_capacity(page.len());
        for medium in &page {
            let wrapped = WrappedKey {
                kms_key_id: medium.kms_key_id.clone(),
                blob: medium.wrapped_secret.clone(),
            };
            fresh.push(
                kms.re_encrypt(&wrapped, &context(&medium.id, medium.kind))
                    .await?,
            );
        }
        let txn = db.begin().await.map_err(StoreError::from)?;
        let mut done = 0u64;
        for (old, new) in page.iter().zip(&fresh) {
            if store::enrolment::replace_secret(&txn, old, &new.kms_key_id, &new.blob).await? {
                done += 1;
            }
        }
        let event = NewEvent::new(Actor::Operator, Action::KeysRewrapped)
            .details(serde_json::json!({"to": current, "media": done}));
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        report.moved += done;
        if done == 0 {
            // Every one changed under us (a medium re-registered): the next run sees them.
            break;
        }
    }
    report.remaining = store::enrolment::media_by_kms_key(db)
        .await?
        .into_iter()
        .filter(|(id, _)| *id != current)
        .map(|(_, n)| n)
        .sum();
    Ok(report)
}
