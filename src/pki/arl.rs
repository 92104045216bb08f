//! The root CA's CRL, the ARL (RFC 5280 §5): the status of the one CA certificate the root
//! issued, the issuing CA's. It is what makes revocation checkable along the whole path
//! (`openssl verify -crl_check_all`, PDF validators that want revocation data for every
//! intermediate): the issuing CA's certificate names it in its CRL distribution point.
//!
//! - **Signed by the root key, rarely.** The root's key may be an AWS KMS key (one `Sign` per
//!   ARL): the ARL is valid for `pki.arl_validity_days` (30), served from the database while it
//!   is valid, and re-signed by the lifecycle job once a quarter of its validity is left, or at
//!   once when the issuing CA is revoked (`fincert ca revoke-issuing`). A request signs only
//!   when there is no valid stored ARL at all (a new hierarchy, a database from before ARLs,
//!   or a job that has not run for a week), once per node at a time.
//! - **No OCSP for the issuing CA.** The root answers no OCSP: the ARL has at most one entry
//!   and changes perhaps once in the root's life, so a signed answer per request would add a
//!   second online signing key under the root (a delegated responder certified by it) or put
//!   the root key online per request, for information the 30-day ARL already carries. The
//!   issuing CA's certificate has only a CA-issuers AIA pointer (where to fetch the root).
//! - **No issuing distribution point.** The ARL covers everything the root issued (only CA
//!   certificates), so it is a full CRL; without an IDP it also matches an issuing CA
//!   certificate from before ARLs, which has no CRL distribution point (openssl accepts a
//!   CRL without an IDP for such a certificate, and refuses one whose IDP names a point the
//!   certificate does not).

use chrono::{DateTime, Duration, Utc};
use rcgen::{RevokedCertParams, SerialNumber};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::{ISSUING, Pki, PkiError, ROOT, x509};
use crate::{
    audit::{Action, Actor, NewEvent},
    domain::revocation_reason::CrlReason,
    store::{self, StoreError},
};

/// What the stored ARL is good for at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    /// Valid and not yet due for re-signing.
    Fresh,
    /// Valid, but in the last quarter of its validity (or older than a revocation it must
    /// show): the job re-signs it; requests still serve it.
    Due,
    /// Past its nextUpdate (or none stored): must be re-signed before it is served.
    Stale,
}

fn freshness(
    stored: Option<(DateTime<Utc>, DateTime<Utc>)>,
    revoked_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Freshness {
    let Some((this, next)) = stored else {
        return Freshness::Stale;
    };
    if now >= next {
        return Freshness::Stale;
    }
    if revoked_at.is_some_and(|at| at > this) {
        // Signed before the revocation it must list. (`revoke_issuing` signs the ARL after
        // its revocation commits, in the same second or later: that one lists it.)
        return Freshness::Stale;
    }
    if now >= next - (next - this) / 4 {
        Freshness::Due
    } else {
        Freshness::Fresh
    }
}

impl Pki {
    /// Signs (with the root key) and stores a fresh ARL; returns its DER.
    pub async fn publish_arl(&self, db: &DatabaseConnection) -> Result<Vec<u8>, PkiError> {
        let now = self.clock.now();
        let issuing = store::pki::authority(db, ISSUING)
            .await?
            .ok_or(PkiError::NotInitialized)?;
        let number = store::pki::latest_crl(db, ROOT)
            .await?
            .map_or(1, |(n, ..)| n + 1);
        let next_update = now + Duration::days(i64::from(self.settings.arl_validity_days));
        let mut revoked = Vec::new();
        if let Some(at) = issuing.revoked_at {
            let reason = issuing.revocation_reason.unwrap_or(CrlReason::Unspecified);
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(
                    self.issuing.cert.tbs_certificate.serial_number.as_bytes(),
                ),
                revocation_time: x509::to_offset(at),
                // RFC 5280 §5.3.1: the reason code unspecified SHOULD be absent.
                reason_code: (reason != CrlReason::Unspecified).then(|| reason.to_rcgen()),
                invalidity_date: None,
            });
        }
        let der = self
            .root
            .sign_crl(number, now, next_update, revoked)
            .await?;
        let this = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let next = DateTime::from_timestamp(next_update.timestamp(), 0).unwrap_or(next_update);
        let txn = db.begin().await.map_err(StoreError::from)?;
        store::pki::insert_crl(&txn, ROOT, number, this, next, der.clone()).await?;
        let event = NewEvent::new(Actor::System, Action::CrlPublished).details(json!({
            "issuer": ROOT,
            "number": number,
            "entries": usize::from(issuing.revoked_at.is_some()),
        }));
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(der)
    }

    /// The current ARL: the stored one while it is valid (and signed after any revocation of
    /// the issuing CA), else a freshly signed one. Signing happens once per node at a time;
    /// across nodes the CRL number is the primary key, so one wins and the others serve it.
    pub async fn current_arl(&self, db: &DatabaseConnection) -> Result<Vec<u8>, PkiError> {
        if let Some(der) = self.stored_arl(db, false).await? {
            return Ok(der);
        }
        let _one_at_a_time = self.arl_lock.lock().await;
        // Another request of this node may have signed it while we waited.
        if let Some(der) = self.stored_arl(db, false).await? {
            return Ok(der);
        }
        match self.publish_arl(db).await {
            Ok(der) => Ok(der),
            Err(PkiError::Store(e)) => match self.stored_arl(db, false).await? {
                // Another node published one since we looked: that is the current ARL.
                Some(der) => Ok(der),
                None => Err(PkiError::Store(e)),
            },
            Err(e) => Err(e),
        }
    }

    /// The lifecycle job's part: re-signs the ARL when it is due (last quarter of its
    /// validity, or missing, or older than a revocation). Returns whether it signed.
    pub(super) async fn refresh_arl(&self, db: &DatabaseConnection) -> Result<bool, PkiError> {
        if self.stored_arl(db, true).await?.is_some() {
            return Ok(false);
        }
        let _one_at_a_time = self.arl_lock.lock().await;
        match self.publish_arl(db).await {
            Ok(_) => Ok(true),
            // Another node's job or request published one since we looked.
            Err(PkiError::Store(_)) if self.stored_arl(db, true).await?.is_some() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The stored ARL if it may be served (`strict`: and is not yet due for re-signing).
    async fn stored_arl(
        &self,
        db: &DatabaseConnection,
        strict: bool,
    ) -> Result<Option<Vec<u8>>, PkiError> {
        let now = self.clock.now();
        let Some((_, this, next, der)) = store::pki::latest_crl(db, ROOT).await? else {
            return Ok(None);
        };
        let revoked_at = store::pki::authority(db, ISSUING)
            .await?
            .and_then(|a| a.revoked_at);
        Ok(match freshness(Some((this, next)), revoked_at, now) {
            Freshness::Fresh => Some(der),
            Freshness::Due if !strict => Some(der),
            Freshness::Due | Freshness::Stale => None,
        })
    }

    /// Revokes the issuing CA (an operator's act, through `fincert ca revoke-issuing`): records
    /// it with its audit event in one transaction, then signs the ARL that lists it. Returns
    /// the new ARL (DER), or `None` if the issuing CA was already revoked (nothing changes).
    pub async fn revoke_issuing(
        &self,
        db: &DatabaseConnection,
        reason: CrlReason,
    ) -> Result<Option<Vec<u8>>, PkiError> {
        let now = self.clock.now();
        let at = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let serial = hex::encode(self.issuing.cert.tbs_certificate.serial_number.as_bytes());
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !store::pki::revoke_authority(&txn, ISSUING, at, reason).await? {
            return Ok(None);
        }
        let event = NewEvent::new(Actor::Operator, Action::IssuingCaRevoked)
            .subject(serial)
            .details(json!({"reason": reason.code()}));
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        let _one_at_a_time = self.arl_lock.lock().await;
        Ok(Some(self.publish_arl(db).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arl_is_served_until_stale_and_re_signed_from_its_last_quarter() {
        let t = |h: i64| DateTime::from_timestamp(1_800_000_000 + h * 3600, 0).unwrap();
        let stored = Some((t(0), t(40)));
        assert_eq!(freshness(None, None, t(1)), Freshness::Stale);
        assert_eq!(freshness(stored, None, t(1)), Freshness::Fresh);
        assert_eq!(freshness(stored, None, t(29)), Freshness::Fresh);
        assert_eq!(freshness(stored, None, t(30)), Freshness::Due);
        assert_eq!(freshness(stored, None, t(40)), Freshness::Stale);
        // Signed before the revocation it must list: never served.
        assert_eq!(freshness(stored, Some(t(2)), t(3)), Freshness::Stale);
        assert_eq!(
            freshness(Some((t(3), t(43))), Some(t(2)), t(4)),
            Freshness::Fresh
        );
        assert_eq!(
            freshness(Some((t(3), t(43))), Some(t(3)), t(4)),
            Freshness::Fresh
        );
        // A node whose clock is a little behind the signer's still serves it (no re-signing
        // storm through KMS).
        assert_eq!(freshness(stored, None, t(-1)), Freshness::Fresh);
    }
}
