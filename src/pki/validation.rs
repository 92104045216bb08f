//! Validation material for a signature (what PAdES-B-LT / CAdES-LT embed): the signer's
//! chain, a fresh OCSP response for the signer and the CRLs of the CA levels, so an
//! institution builds a long-term-valid signature without asking anyone else.
//!
//! The OCSP status is read from the database when the material is built, which every
//! caller does only after the signature's commit: a revocation committed before the
//! signature is never answered `good` (no node-local status cache is consulted).

use der::Decode;
use sea_orm::DatabaseConnection;
use x509_cert::crl::CertificateList;

use super::{Pki, PkiError, enc, lifecycle::CertStatus};
use crate::store;

/// DER objects that validate one signer certificate up to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationMaterial {
    /// The signer certificate, the issuing CA, the root, then the OCSP responder's
    /// certificate (the one that signed `ocsp`).
    pub certificates: Vec<Vec<u8>>,
    /// One OCSP response (RFC 6960) for the signer certificate.
    pub ocsp: Vec<Vec<u8>>,
    /// The CRLs of the CA levels: the issuing CA's CRL (and the root's ARL where one is
    /// published).
    pub crls: Vec<Vec<u8>>,
}

impl Pki {
    /// The CRLs of the CA levels that the hierarchy publishes, each current (re-signed if
    /// due). `revoked`: a serial the database says is revoked or on hold, which the issuing
    /// CA's CRL must then list (a CRL signed a moment before that revocation is re-signed, so
    /// the material never answers `good` through its CRL either).
    pub async fn ca_level_crls(
        &self,
        db: &DatabaseConnection,
        revoked: Option<&str>,
    ) -> Result<Vec<Vec<u8>>, PkiError> {
        let mut issuing = self.current_crl(db).await?;
        if let Some(serial) = revoked
            && !crl_lists(&issuing, serial)?
        {
            issuing = match self.publish_crl(db).await {
                Ok(der) => der,
                // Another node published meanwhile: the newest CRL is the one to check.
                Err(PkiError::Store(_)) => self.current_crl(db).await?,
                Err(e) => return Err(e),
            };
            if !crl_lists(&issuing, serial)? {
                return Err(enc("the current CRL does not list a revoked certificate"));
            }
        }
        // The root's ARL: the issuing CA's status, for `-crl_check_all` along the whole path.
        let arl = self.current_arl(db).await?;
        Ok(vec![issuing, arl])
    }

    /// The validation material of `leaf` (DER of a certificate this CA issued, `serial` its
    /// serial as stored). Call it after the signature is committed. For an imported
    /// certificate of another CA (`foreign_chain`) it is the leaf and its chain only: fincert
    /// does not speak for another CA's status, so it adds no OCSP answer or CRL.
    pub async fn validation_material(
        &self,
        db: &DatabaseConnection,
        leaf: &[u8],
        serial: &str,
        foreign_chain: Option<&[Vec<u8>]>,
    ) -> Result<ValidationMaterial, PkiError> {
        if let Some(chain) = foreign_chain {
            let mut certificates = vec![leaf.to_vec()];
            certificates.extend(chain.iter().cloned());
            return Ok(ValidationMaterial {
                certificates,
                ocsp: Vec::new(),
                crls: Vec::new(),
            });
        }
        let ocsp = self.ocsp_response_for_serial(db, serial).await?;
        // Read again after the OCSP answer: a revocation it saw (or one since) is on the CRL.
        let revoked = store::pki::certificate_by_serial(db, serial)
            .await?
            .is_some_and(|row| matches!(row.status, CertStatus::Revoked | CertStatus::Suspended));
        let crls = self.ca_level_crls(db, revoked.then_some(serial)).await?;
        let mut certificates = vec![leaf.to_vec()];
        certificates.extend(self.chain_of(None));
        certificates.push(self.responder.der.clone());
        Ok(ValidationMaterial {
            certificates,
            ocsp: vec![ocsp],
            crls,
        })
    }
}

/// Whether a CRL (DER) lists `serial` (lower-case hex of the DER integer's bytes).
fn crl_lists(crl: &[u8], serial: &str) -> Result<bool, PkiError> {
    let list = CertificateList::from_der(crl).map_err(enc)?;
    Ok(list
        .tbs_cert_list
        .revoked_certificates
        .iter()
        .flatten()
        .any(|r| hex::encode(r.serial_number.as_bytes()) == serial))
}
