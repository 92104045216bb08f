//! Certificates as the API shows them: a stored row read with the status in force now and
//! whether renewal is open, and the owner-scoped look-ups.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::{
    Pki, PkiError, lifecycle,
    lifecycle::CertStatus,
    profile::{CertKind, Storage, Usage},
};
use crate::{
    custody::OwnerId,
    store::{self, pki::CertificateRow},
};

/// A certificate as the API shows it (written as `proto::certificates::CertificateView`,
/// without the custody key id), with the chain above it, so a holder whose key is on a device
/// has everything a relying party will ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateView {
    /// Id.
    pub id: Uuid,
    /// Kind.
    pub kind: CertKind,
    /// Usage.
    pub usage: Usage,
    /// Storage.
    pub storage: Storage,
    /// Status in force now.
    pub status: CertStatus,
    /// Serial (hex).
    pub serial: String,
    /// Subject common name.
    pub subject: String,
    /// Validity start.
    pub not_before: DateTime<Utc>,
    /// Validity end.
    pub not_after: DateTime<Utc>,
    /// Whether renewal is open now.
    pub renewal_open: bool,
    /// Seconds until `not_after` by the service clock (0 once past): what a countdown starts
    /// from, whatever the viewer's clock says.
    pub expires_in_secs: i64,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Custody key (cloud storage).
    pub custody_key_id: Option<Uuid>,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The chain above it, DER: the issuing CA, then the root.
    pub chain: Vec<Vec<u8>>,
}

impl Pki {
    pub(super) fn view(&self, row: CertificateRow) -> CertificateView {
        let now = self.clock.now();
        let status = row.status.at(row.not_after, now);
        let renewal_open = lifecycle::check_renew(
            status,
            row.not_after,
            now,
            self.settings.renewal_window_days,
            row.renewed_by_id.is_some(),
        )
        .is_ok()
            && !row.is_foreign();
        let issuer = x509_parser::parse_x509_certificate(&row.certificate_der)
            .map(|(_, c)| c.issuer().to_string())
            .unwrap_or_default();
        CertificateView {
            expires_in_secs: (row.not_after - now).num_seconds().max(0),
            issuer,
            id: row.id,
            kind: row.kind,
            usage: row.usage,
            storage: row.storage,
            status,
            serial: row.serial_hex,
            subject: row.subject,
            not_before: row.not_before,
            not_after: row.not_after,
            renewal_open,
            custody_key_id: row.custody_key_id,
            chain: self.chain_of(row.foreign_chain.as_deref()),
            der: row.certificate_der,
        }
    }

    pub(super) async fn find(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<CertificateRow, PkiError> {
        store::pki::certificate_of(db, owner.as_str(), &id.to_string())
            .await?
            .ok_or(PkiError::NotFound)
    }

    /// Renewal opens this many days before expiry (`pki.renewal_window_days`).
    pub fn renewal_window_days(&self) -> u32 {
        self.settings.renewal_window_days
    }

    /// The fee of issuing or renewing a general-purpose certificate (KRW), as charged.
    pub fn general_purpose_fee_krw(&self) -> u32 {
        self.settings.general_purpose_fee_krw
    }

    /// A certificate of `owner`: one this CA issued, or an imported one of another CA whose
    /// key fincert holds (what consent and the holder's views use alike).
    pub async fn certificate(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<CertificateView, PkiError> {
        let row = match self.find(db, owner, id).await {
            Err(PkiError::NotFound) => store::pki::certificate_by_id(db, &id.to_string())
                .await?
                .filter(|r| r.is_foreign() && &r.owner_id == owner)
                .ok_or(PkiError::NotFound)?,
            other => other?,
        };
        Ok(self.view(row))
    }

    /// Every certificate of `owner`, newest first.
    pub async fn certificates(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
    ) -> Result<Vec<CertificateView>, PkiError> {
        Ok(store::pki::certificates_of(db, owner.as_str())
            .await?
            .into_iter()
            .map(|r| self.view(r))
            .collect())
    }
}
