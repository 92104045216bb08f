//! Approval on the holder's device: a joint certificate whose key never left the person's
//! browser (fincert certified a CSR, holds no custody key) signs there, and the server checks
//! the signatures before anything is accepted.
//!
//! ```text
//!   GET  /v1/approvals/{id}/device   → what to sign, one payload per digest:
//!                                        raw: the request's content (its SHA-256 is the digest)
//!                                        CMS: the DER of the signed attributes (content type,
//!                                             message digest, ESS signing-certificate-v2; no
//!                                             signing time: the device's clock is not trusted)
//!   POST /v1/approvals/{id}/device   ← request_digest (as shown) + one signature per payload
//!        request pending, consent live, certificate active and device-kept    (as any approval)
//!        request_digest equals the canonical digest         else 409 approval_mismatch (audited)
//!        every signature verifies with the certificate's public key over its payload under the
//!        request's algorithm                         else 422 device_signature_invalid (audited)
//!        ──► raw signatures, or CMS assembled around them; signed, audited, webhook, one commit
//! ```
//!
//! The payloads are a pure function of the stored request and the certificate, so nothing is
//! kept between the two calls, and a signature made for another request or another digest
//! never verifies.

use aws_lc_rs::signature::UnparsedPublicKey;
use x509_parser::{prelude::FromDer, public_key::PublicKey};

use super::*;
use crate::custody::keys::KeyAlgorithm;

pub use fincert_client::proto::approvals::DeviceToSign;

/// The algorithm of a device-kept certificate's public key (its CSR was checked at issuance:
/// ECDSA P-256 or RSA of 2048 bits or more).
pub(super) fn key_algorithm(cert_der: &[u8]) -> Result<KeyAlgorithm, SigningError> {
    let unreadable = || {
        SigningError::Store(store::columns::corrupt(
            "certificates",
            "certificate_der",
            "unreadable device certificate",
        ))
    };
    let (_, cert) =
        x509_parser::certificate::X509Certificate::from_der(cert_der).map_err(|_| unreadable())?;
    match cert.public_key().parsed().map_err(|_| unreadable())? {
        PublicKey::EC(_) => Ok(KeyAlgorithm::P256),
        PublicKey::RSA(_) => Ok(KeyAlgorithm::Rsa2048),
        _ => Err(unreadable()),
    }
}

/// One digest's payload and, for CMS, the signed attributes it encodes.
type Payload = (
    Vec<u8>,
    Option<der::asn1::SetOfVec<x509_cert::attr::Attribute>>,
);

/// The bytes the device signs for each digest of `row`, with the CMS attributes they encode.
fn payloads(row: &db::RequestRow, cert_der: &[u8]) -> Result<Vec<Payload>, SigningError> {
    row.digests
        .iter()
        .map(|d| match row.format {
            Format::Raw => match row.content.as_deref() {
                // A raw request with content has exactly the content's digest.
                Some(content) if row.digests.len() == 1 && Digest::of(content) == *d => {
                    Ok((content.to_vec(), None))
                }
                _ => Err(SigningError::DeviceNeedsContent),
            },
            Format::CmsAttached | Format::CmsDetached | Format::CmsPades => {
                let (attrs, der) = cms::signed_attributes(d, None, cert_der)?;
                Ok((der, Some(attrs)))
            }
        })
        .collect()
}

/// Whether `signature` over `message` verifies with the certificate's key under `algorithm`.
fn verifies(cert_der: &[u8], algorithm: Algorithm, message: &[u8], signature: &[u8]) -> bool {
    let Ok((_, cert)) = x509_parser::certificate::X509Certificate::from_der(cert_der) else {
        return false;
    };
    UnparsedPublicKey::new(algorithm.scheme().verification(), cert.public_key().raw)
        .verify(message, signature)
        .is_ok()
}

impl Signing {
    /// A pending request of a device-kept certificate, and the certificate: a cloud-held one
    /// is approved with its PIN or a passkey instead (`422 key_not_on_device`).
    async fn device_approvable(
        &self,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<(db::RequestRow, Usable), SigningError> {
        let (row, usable) = self.approvable(owner, id).await?;
        if usable.key.is_some() {
            return Err(SigningError::NotDeviceKept);
        }
        Ok((row, usable))
    }

    /// What the holder's device signs for a pending request (one payload per digest, base64).
    pub async fn device_to_sign(
        &self,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<DeviceToSign, SigningError> {
        let (row, usable) = self.device_approvable(owner, id).await?;
        let payloads = payloads(&row, &usable.certificate_der)?;
        Ok(DeviceToSign {
            request_digest: STANDARD.encode(&row.canonical_digest),
            algorithm: row.algorithm,
            payloads: payloads.iter().map(|(p, _)| STANDARD.encode(p)).collect(),
        })
    }

    /// Approves with signatures the holder's device made: each must verify with the
    /// certificate's public key over its payload; then the result is committed as a PIN
    /// approval's would be (single-use, audited, webhook).
    pub async fn approve_with_device(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        request_digest: &Digest,
        signatures: &[Vec<u8>],
    ) -> Result<RequestView, SigningError> {
        let (row, usable) = self.device_approvable(owner, id).await?;
        if constant_time::verify_slices_are_equal(request_digest.as_bytes(), &row.canonical_digest)
            .is_err()
        {
            self.approval_failed(db, owner, &row, "request digest mismatch")
                .await?;
            return Err(SigningError::Mismatch);
        }
        let payloads = payloads(&row, &usable.certificate_der)?;
        let good = signatures.len() == payloads.len()
            && payloads
                .iter()
                .zip(signatures)
                .all(|((p, _), s)| verifies(&usable.certificate_der, row.algorithm, p, s));
        if !good {
            self.approval_failed(db, owner, &row, "device signature")
                .await?;
            self.signatures.observe(
                row.algorithm,
                row.format,
                SignatureResult::Refused,
                row.digests.len(),
            );
            return Err(SigningError::DeviceSignature);
        }
        let chain = self
            .pki
            .chain_of(usable.foreign_chain.as_deref().map(Vec::as_slice));
        let chain_refs: Vec<&[u8]> = chain.iter().take(1).map(Vec::as_slice).collect();
        let embed = (row.format == Format::CmsAttached)
            .then_some(row.content.as_deref())
            .flatten();
        let mut out = Vec::with_capacity(signatures.len());
        for ((_, attrs), sig) in payloads.into_iter().zip(signatures) {
            let bytes = match attrs {
                None => sig.clone(),
                Some(attrs) => cms::assemble(
                    attrs,
                    sig.clone(),
                    row.algorithm,
                    &usable.certificate_der,
                    &chain_refs,
                    embed,
                )?,
            };
            out.push(STANDARD.encode(bytes));
        }
        let now = self.clock.now();
        let result = SignedResult {
            signatures: out,
            certificate: STANDARD.encode(usable.certificate_der.as_slice()),
            chain: chain.iter().map(|c| STANDARD.encode(c)).collect(),
            signed_at: now,
            validation_info: None,
        };
        let event = NewEvent::new(owner.actor(), Action::SignatureCreated)
            .subject(row.id.to_string())
            .details(json!({
                "institution": row.institution_id,
                "certificate": usable.serial_hex,
                "digests": row.digests.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
                "format": row.format.as_str(),
                "algorithm": row.algorithm.as_str(),
                "amr": "device",
            }));
        let mut decided = row.clone();
        decided.status = Status::Signed;
        decided.decided_at = Some(now);
        decided.result = Some(result.clone());
        let view = self.request_view(decided)?;
        let change = commit::Change::Decide {
            request_id: row.id,
            status: Status::Signed,
            result: Some(Box::new(result)),
            delivery: webhook_delivery(&row, "signature_request.signed", &view, now).map(Box::new),
        };
        let committed = self.committer.commit(change, vec![event]).await;
        self.signatures.observe(
            row.algorithm,
            row.format,
            match &committed {
                Ok(commit::Outcome::Skipped) => SignatureResult::Refused,
                Ok(_) => SignatureResult::Ok,
                Err(_) => SignatureResult::Failed,
            },
            row.digests.len(),
        );
        match committed? {
            commit::Outcome::Skipped => Err(SigningError::NotPending("decided")),
            _ => Ok(view),
        }
    }
}
