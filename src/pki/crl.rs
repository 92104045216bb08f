//! The issuing CA's CRL: signing and storing a fresh one (in the background, by the node that
//! holds the job lock, after status changes and before the stored one nears its nextUpdate;
//! see `job`), and serving the current one. Each CRL records how many status changes it
//! covers, so the job knows when a newer one is due.

use chrono::{DateTime, Duration, Utc};
use rcgen::{CertificateRevocationListParams, Issuer, RevokedCertParams, SerialNumber};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::{Authority, ISSUING, Pki, PkiError, enc, x509};
use crate::{
    audit::{Action, Actor, NewEvent},
    domain::revocation_reason::CrlReason,
    store::{self, StoreError},
};

impl Authority {
    /// Signs a CRL (or ARL) of this CA with its key: the issuer name and key identifier are
    /// the stored CA certificate's own, so CRLs keep matching certificates made before a
    /// profile change.
    pub(super) async fn sign_crl(
        &self,
        number: i64,
        now: DateTime<Utc>,
        next_update: DateTime<Utc>,
        revoked: Vec<RevokedCertParams>,
    ) -> Result<Vec<u8>, PkiError> {
        let params = CertificateRevocationListParams {
            this_update: x509::to_offset(now),
            next_update: x509::to_offset(next_update),
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: x509::issuer_key_id_method(&self.cert)?,
        };
        let ca_der = self.der.clone();
        self.signer
            .run_blocking(move |s| {
                let issuer = Issuer::from_ca_cert_der(&ca_der.into(), s).map_err(enc)?;
                params
                    .signed_by(&issuer)
                    .map(|c| c.der().to_vec())
                    .map_err(enc)
            })
            .await?
    }
}

impl Pki {
    /// Signs and stores a fresh CRL of the issuing CA; returns its DER.
    pub async fn publish_crl(&self, db: &DatabaseConnection) -> Result<Vec<u8>, PkiError> {
        let now = self.clock.now();
        // Counted before the entries are read: a change that commits in between may or may
        // not be in this CRL, but the count it bumped is above what this CRL covers.
        let changes = store::pki::revocation_changes(db, ISSUING).await?;
        let entries = store::pki::revoked_for_crl(db, ISSUING, now).await?;
        let number = store::pki::latest_crl(db, ISSUING)
            .await?
            .map_or(1, |(n, ..)| n + 1);
        let next_update = now + Duration::hours(i64::from(self.settings.crl_validity_hours));
        let mut revoked = Vec::with_capacity(entries.len());
        for e in &entries {
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&hex::decode(&e.serial_hex).map_err(enc)?),
                revocation_time: x509::to_offset(e.revoked_at.unwrap_or(e.updated_at)),
                // RFC 5280 §5.3.1: the reason code unspecified SHOULD be absent.
                reason_code: e
                    .revocation_reason
                    .filter(|r| *r != CrlReason::Unspecified)
                    .map(CrlReason::to_rcgen),
                invalidity_date: None,
            });
        }
        let der = self
            .issuing
            .sign_crl(number, now, next_update, revoked)
            .await?;
        let this = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let next = DateTime::from_timestamp(next_update.timestamp(), 0).unwrap_or(next_update);
        let txn = db.begin().await.map_err(StoreError::from)?;
        store::pki::insert_crl(&txn, ISSUING, number, this, next, der.clone()).await?;
        store::pki::mark_crl_covers(&txn, ISSUING, number, changes).await?;
        let event = NewEvent::new(Actor::System, Action::CrlPublished)
            .details(json!({"issuer": ISSUING, "number": number, "entries": entries.len()}));
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(der)
    }

    /// The current CRL: the stored one while it has over a quarter of its validity left,
    /// else a freshly signed one. Concurrent requests may all decide to publish; the CRL number
    /// is the primary key, so one wins and the others serve the winner's CRL.
    pub async fn current_crl(&self, db: &DatabaseConnection) -> Result<Vec<u8>, PkiError> {
        let now = self.clock.now();
        if let Some((_, this, next, der)) = store::pki::latest_crl(db, ISSUING).await?
            && now < next - (next - this) / 4
        {
            return Ok(der);
        }
        match self.publish_crl(db).await {
            Ok(der) => Ok(der),
            Err(PkiError::Store(e)) => match store::pki::latest_crl(db, ISSUING).await? {
                // Someone else published one since we looked: that is the current CRL.
                Some((_, this, next, der)) if now < next && this <= now => Ok(der),
                _ => Err(PkiError::Store(e)),
            },
            Err(e) => Err(e),
        }
    }
}
