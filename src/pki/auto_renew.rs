//! Automatic renewal (issue 16, part 5) and the fee a holder must confirm before it is charged
//! (part 8).
//!
//! A holder's setting per certificate (`auto_renewal_settings`; no row = the default):
//!
//! | certificate | default | may be turned on |
//! |---|---|---|
//! | financial, restricted-use, cloud key | **on** (KFTC's financial certificate renews itself) | yes |
//! | financial, general-purpose | off | yes, by confirming the current fee (`fee_confirmed_krw`) |
//! | joint, cloud key | off | yes (general-purpose: with the fee confirmed) |
//! | device-kept or imported (another CA's) | off | no (`422 auto_renewal_unavailable`) |
//!
//! When the holder's PIN opens the key of a certificate inside its renewal window (a native
//! approval, or a CSC `credentials/authorize`), that same authorization also renews it, if
//! the setting is on: a new key sealed to the same PIN, a new serial, the same subject, the old
//! certificate superseded exactly as a manual renewal leaves it (valid until it expires). The
//! renewal is decided by the same compare-and-set as a manual one (`renewed_by_id` set only
//! while empty), so concurrent approvals renew once; the others sign with the old certificate
//! and say nothing was renewed.
//!
//! - **Fees.** A general-purpose automatic renewal charges the fee only when the holder
//!   confirmed exactly that fee in the setting; if the configured fee changed since, nothing is
//!   renewed (and nothing charged) until the holder confirms the new one or renews by hand.
//! - **Passkeys.** A passkey approval does not renew: the new key's PIN slot can only be made
//!   with the PIN (no PIN verifier exists anywhere, by design), and a key without a PIN slot
//!   would leave its holder without the PIN they know. The certificate stays in the window; the
//!   next PIN approval (or the renew button) renews it.
//! - A failed automatic renewal (KMS or CA down) never fails the signature that carried it:
//!   the signature stands, the failure is logged, and renewal is tried on the next use.
//!
//! It never sees the PIN beyond passing it to the key's creation, and never renews a
//! certificate its holder did not just authenticate for.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;

use super::{
    CertificateView, KeySource, Pki, PkiError,
    issue::Predecessor,
    lifecycle::{self, LifecycleError},
    profile::{self, CertKind, Storage, Usage},
};
use crate::{
    audit::{Action, NewEvent},
    custody::OwnerId,
    domain::pin::Pin,
    store::{self, pki::CertificateRow},
};

/// A certificate's automatic-renewal setting as the holder sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoRenewal {
    /// On or off (the holder's choice, or the default).
    pub enabled: bool,
    /// Whether this is the default (the holder never chose).
    pub default: bool,
    /// Whether this certificate can renew itself at all (cloud key, issued here).
    pub available: bool,
    /// What an automatic renewal would charge now (KRW; 0 for restricted use).
    pub fee_krw: u32,
    /// The fee the holder confirmed when turning it on (general-purpose).
    pub fee_confirmed_krw: Option<u32>,
    /// Whether the next PIN use inside the renewal window renews it: on, available, and the
    /// fee (if any) confirmed at its current amount.
    pub active: bool,
}

/// The default for a certificate no choice was made for: on only for a restricted-use
/// financial certificate (free, as KFTC's renews itself); a charge is never made by default.
pub fn default_enabled(kind: CertKind, usage: Usage) -> bool {
    kind == CertKind::Financial && usage == Usage::Restricted
}

/// Whether a certificate can renew itself: its key is in the cloud (the PIN that opens it seals
/// the new one) and this CA issued it.
pub fn available(storage: Storage, foreign: bool) -> bool {
    storage == Storage::Cloud && !foreign
}

/// The setting in force, from the stored choice (`None`: the default) and the current fee.
pub fn resolve(
    kind: CertKind,
    usage: Usage,
    available: bool,
    choice: Option<(bool, Option<u32>)>,
    general_fee: u32,
) -> AutoRenewal {
    let fee_krw = profile::fee_krw(usage, general_fee);
    let (enabled, default, fee_confirmed_krw) = match choice {
        Some((on, fee)) => (on && available, false, fee),
        None => (default_enabled(kind, usage) && available, true, None),
    };
    AutoRenewal {
        enabled,
        default,
        available,
        fee_krw,
        fee_confirmed_krw,
        active: enabled && (fee_krw == 0 || fee_confirmed_krw == Some(fee_krw)),
    }
}

/// A charge the request must have confirmed: `Ok` when nothing is charged or `confirmed` is the
/// current fee; otherwise the fee to confirm.
pub fn check_fee(usage: Usage, general_fee: u32, confirmed: Option<u32>) -> Result<(), PkiError> {
    let fee_krw = profile::fee_krw(usage, general_fee);
    if fee_krw == 0 || confirmed == Some(fee_krw) {
        Ok(())
    } else {
        Err(PkiError::FeeNotConfirmed {
            fee_krw,
            given: confirmed,
        })
    }
}

impl Pki {
    /// The fee a request must confirm before anything of `usage` is charged (`fee_confirmed_krw`).
    pub fn check_fee_confirmed(
        &self,
        usage: Usage,
        confirmed: Option<u32>,
    ) -> Result<(), PkiError> {
        check_fee(usage, self.settings.general_purpose_fee_krw, confirmed)
    }

    /// Renews after the request confirmed the fee (the API's renewal): as [`Pki::renew`].
    pub async fn renew_confirmed(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        key: KeySource<'_>,
        fee_confirmed_krw: Option<u32>,
    ) -> Result<CertificateView, PkiError> {
        let old = self.find(db, owner, id).await?;
        // Whether renewal is open at all is said first; then whether the charge was agreed to.
        lifecycle::check_renew(
            old.status,
            old.not_after,
            self.clock.now(),
            self.settings.renewal_window_days,
            old.renewed_by_id.is_some(),
        )?;
        self.check_fee_confirmed(old.usage, fee_confirmed_krw)?;
        let choice = store::pki::auto_renewal_setting(db, &old.id.to_string()).await?;
        let renewed = self.renew(db, owner, id, key).await?;
        self.carry_setting(db, owner, choice, renewed.id).await;
        Ok(renewed)
    }

    /// The holder's choice (if they made one) goes on to the successor, so a renewed
    /// certificate keeps renewing itself, or not, as its predecessor did. A preference: if it
    /// cannot be written, the successor has the default (logged).
    async fn carry_setting(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        choice: Option<store::pki::AutoRenewalRow>,
        successor: Uuid,
    ) {
        let Some(c) = choice else { return };
        if let Err(e) = store::pki::put_auto_renewal_setting(
            db,
            &successor.to_string(),
            owner.as_str(),
            c.enabled,
            c.fee_confirmed_krw,
            self.clock.now(),
        )
        .await
        {
            tracing::warn!(error = %e, "automatic-renewal setting not carried to the successor");
        }
    }

    /// Reissues after the request confirmed the fee of the replaced certificate's usage.
    pub async fn reissue_confirmed(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        key: KeySource<'_>,
        fee_confirmed_krw: Option<u32>,
    ) -> Result<CertificateView, PkiError> {
        let old = self.find(db, owner, id).await?;
        self.check_fee_confirmed(old.usage, fee_confirmed_krw)?;
        self.reissue(db, owner, id, key).await
    }

    pub(super) fn auto_renewal_of(
        &self,
        row: &CertificateRow,
        choice: Option<store::pki::AutoRenewalRow>,
    ) -> AutoRenewal {
        resolve(
            row.kind,
            row.usage,
            available(row.storage, row.is_foreign()),
            choice.map(|c| {
                (
                    c.enabled,
                    c.fee_confirmed_krw.and_then(|f| u32::try_from(f).ok()),
                )
            }),
            self.settings.general_purpose_fee_krw,
        )
    }

    /// A certificate's automatic-renewal setting.
    pub async fn auto_renewal(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<AutoRenewal, PkiError> {
        let row = self.find(db, owner, id).await?;
        let choice = store::pki::auto_renewal_setting(db, &row.id.to_string()).await?;
        Ok(self.auto_renewal_of(&row, choice))
    }

    /// The holder turns automatic renewal on or off. On for a general-purpose certificate needs
    /// `fee_confirmed_krw` equal to the current fee (`409 fee_not_confirmed`); a device-kept or
    /// imported certificate cannot renew itself (`422 auto_renewal_unavailable`). Audited.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), certificate = %id))]
    pub async fn set_auto_renewal(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        enabled: bool,
        fee_confirmed_krw: Option<u32>,
    ) -> Result<AutoRenewal, PkiError> {
        let row = self.find(db, owner, id).await?;
        if !available(row.storage, row.is_foreign()) {
            return Err(PkiError::AutoRenewalUnavailable);
        }
        let fee = if enabled {
            self.check_fee_confirmed(row.usage, fee_confirmed_krw)?;
            fee_confirmed_krw.filter(|f| *f > 0)
        } else {
            None
        };
        let now = self.clock.now();
        let fee_i32 = fee.map(|f| i32::try_from(f).unwrap_or(i32::MAX));
        let event = NewEvent::new(owner.actor(), Action::AutoRenewalSet)
            .subject(row.serial_hex.clone())
            .details(json!({
                "certificate": row.id.to_string(),
                "enabled": enabled,
                "fee_confirmed_krw": fee,
            }));
        let txn = sea_orm::TransactionTrait::begin(db)
            .await
            .map_err(store::StoreError::from)?;
        store::pki::put_auto_renewal_setting(
            &txn,
            &row.id.to_string(),
            owner.as_str(),
            enabled,
            fee_i32,
            now,
        )
        .await?;
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(store::StoreError::from)?;
        Ok(self.auto_renewal_of(
            &row,
            Some(store::pki::AutoRenewalRow {
                certificate_id: row.id.to_string(),
                owner_id: owner.as_str().to_owned(),
                enabled,
                fee_confirmed_krw: fee_i32,
                updated_at: now,
            }),
        ))
    }

    /// After `pin` opened the key of certificate `id` (the caller has just checked it, in an
    /// approval or a CSC authorization): renews it when it is inside its renewal window and its
    /// holder's setting is active, with a new key sealed to the same PIN. `None` when nothing
    /// was renewed (outside the window, off, renewed already — by a concurrent approval, too).
    /// The new certificate carries the setting on; audited as `certificate.auto_renewed`.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), certificate = %id))]
    pub async fn renew_on_use(
        &self,
        db: &DatabaseConnection,
        reads: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        pin: &Pin,
    ) -> Result<Option<CertificateView>, PkiError> {
        // Whether it is due is read beside the writer (SQLite WAL): every PIN use asks, and
        // on the one writer connection the question would queue behind a group commit. A
        // renewal that a concurrent use made first is refused by `create` (AlreadyRenewed).
        let old = match self.find(reads, owner, id).await {
            Ok(old) => old,
            Err(PkiError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let now = self.clock.now();
        if !renewal_due(&old, now, self.settings.renewal_window_days) {
            return Ok(None);
        }
        let choice = store::pki::auto_renewal_setting(reads, &old.id.to_string()).await?;
        let setting = self.auto_renewal_of(&old, choice.clone());
        if !setting.active {
            return Ok(None);
        }
        let subject = old.subject.clone();
        let renewed = match self
            .create(
                db,
                owner,
                old.kind,
                old.usage,
                old.storage,
                &subject,
                &KeySource::Cloud(pin),
                Some((&old, Predecessor::Renewed)),
                Action::CertificateAutoRenewed,
                "auto_renew",
            )
            .await
        {
            Ok(v) => v,
            // A concurrent approval renewed it first: exactly one renewal.
            Err(PkiError::Lifecycle(LifecycleError::AlreadyRenewed)) => return Ok(None),
            Err(e) => return Err(e),
        };
        // The successor keeps renewing itself.
        self.carry_setting(db, owner, choice, renewed.id).await;
        Ok(Some(renewed))
    }
}

/// Whether the certificate is one a use should renew now: active, not renewed, inside the
/// window.
fn renewal_due(row: &CertificateRow, now: DateTime<Utc>, window_days: u32) -> bool {
    lifecycle::check_renew(
        row.status,
        row.not_after,
        now,
        window_days,
        row.renewed_by_id.is_some(),
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_kind_and_usage_and_never_charge() {
        let r = resolve(CertKind::Financial, Usage::Restricted, true, None, 4400);
        assert!(r.enabled && r.default && r.active);
        assert_eq!(r.fee_krw, 0);
        let g = resolve(CertKind::Financial, Usage::General, true, None, 4400);
        assert!(!g.enabled && g.default && !g.active);
        assert_eq!(g.fee_krw, 4400);
        let j = resolve(CertKind::Joint, Usage::Restricted, true, None, 4400);
        assert!(!j.enabled && !j.active);
        let device = resolve(CertKind::Financial, Usage::Restricted, false, None, 4400);
        assert!(!device.enabled && !device.active && !device.available);
        let forced = resolve(
            CertKind::Joint,
            Usage::Restricted,
            false,
            Some((true, None)),
            4400,
        );
        assert!(!forced.enabled && !forced.active);
    }

    #[test]
    fn a_general_purpose_renewal_needs_the_current_fee_confirmed() {
        let on = resolve(
            CertKind::Joint,
            Usage::General,
            true,
            Some((true, Some(4400))),
            4400,
        );
        assert!(on.enabled && on.active && !on.default);
        // The configured fee changed since: on, but not active until confirmed again.
        let stale = resolve(
            CertKind::Joint,
            Usage::General,
            true,
            Some((true, Some(4400))),
            5500,
        );
        assert!(stale.enabled && !stale.active);
        let off = resolve(
            CertKind::Financial,
            Usage::Restricted,
            true,
            Some((false, None)),
            4400,
        );
        assert!(!off.enabled && !off.active && !off.default);
    }

    #[test]
    fn a_charge_needs_exactly_the_current_fee() {
        assert!(check_fee(Usage::Restricted, 4400, None).is_ok());
        assert!(check_fee(Usage::General, 4400, Some(4400)).is_ok());
        assert!(check_fee(Usage::General, 0, None).is_ok());
        for given in [None, Some(0), Some(4000), Some(44000)] {
            match check_fee(Usage::General, 4400, given) {
                Err(PkiError::FeeNotConfirmed {
                    fee_krw: 4400,
                    given: g,
                }) => assert_eq!(g, given),
                other => panic!("{other:?}"),
            }
        }
    }
}
