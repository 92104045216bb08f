//! One-call verification for institutions: a signature, the certificate's chain up to this
//! service's root, and the certificate's status now (what OCSP would answer).

use aws_lc_rs::{digest, signature::UnparsedPublicKey};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{
    SigningError,
    request::{Algorithm, AlgorithmExt as _, Digest},
};
use crate::{
    pki::{Pki, lifecycle::CertStatus},
    store,
};

/// What was signed.
#[derive(Debug, Clone)]
pub enum Signed {
    /// The content itself.
    Content(Vec<u8>),
    /// Its SHA-256.
    Digest(Digest),
}

pub use fincert_client::proto::institutions::VerifyReport as Report;

/// Verifies `signature` by `cert_der` over `signed` with `algorithm`, and the certificate.
pub async fn verify(
    db: &DatabaseConnection,
    pki: &Pki,
    cert_der: &[u8],
    signature: &[u8],
    signed: &Signed,
    algorithm: Algorithm,
    now: DateTime<Utc>,
) -> Result<Report, SigningError> {
    let (_, cert) = X509Certificate::from_der(cert_der).map_err(|_| {
        super::RequestError::Invalid("certificate is not a DER X.509 certificate".into())
    })?;
    let key = UnparsedPublicKey::new(algorithm.scheme().verification(), cert.public_key().raw);
    let signature_valid = match signed {
        Signed::Content(c) => key.verify(c, signature).is_ok(),
        Signed::Digest(d) => digest::Digest::import_less_safe(d.as_bytes(), &digest::SHA256)
            .is_ok_and(|dg| key.verify_digest(&dg, signature).is_ok()),
    };
    let chain_valid = chains_to_root(pki, &cert, now);
    let serial = hex::encode(cert.raw_serial());
    let stored = store::pki::certificate_by_serial(db, &serial)
        .await?
        .filter(|row| row.certificate_der == cert_der);
    let status = match &stored {
        None => "unknown",
        Some(row) => match row.status.at(row.not_after, now) {
            CertStatus::Active => "good",
            CertStatus::Suspended => "suspended",
            CertStatus::Revoked => "revoked",
            CertStatus::Expired => "expired",
        },
    };
    Ok(Report {
        valid: signature_valid && chain_valid && status == "good",
        signature_valid,
        chain_valid,
        status: status.to_owned(),
        serial,
        subject: cert.subject().to_string(),
        not_after: stored.map(|r| r.not_after),
        checked_at: now,
    })
}

fn chains_to_root(pki: &Pki, cert: &X509Certificate<'_>, now: DateTime<Utc>) -> bool {
    let (Some(issuing), Some(root)) = (pki.ca_certificate("issuing"), pki.ca_certificate("root"))
    else {
        return false;
    };
    let (Ok((_, issuing)), Ok((_, root))) = (
        X509Certificate::from_der(issuing),
        X509Certificate::from_der(root),
    ) else {
        return false;
    };
    let at = now.timestamp();
    let within = |c: &X509Certificate<'_>| {
        c.validity().not_before.timestamp() <= at && at <= c.validity().not_after.timestamp()
    };
    cert.issuer() == issuing.subject()
        && cert.verify_signature(Some(issuing.public_key())).is_ok()
        && issuing.verify_signature(Some(root.public_key())).is_ok()
        && within(cert)
        && within(&issuing)
}
