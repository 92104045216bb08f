//! The **canonical digest** of a signature request (dynamic linking): everything an approval
//! commits to, hashed in one versioned, length-prefixed encoding, and the WebAuthn challenge
//! derived from it. Changing the encoding changes what every approval means: add a field only
//! with a new domain tag.

use aws_lc_rs::digest;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Algorithm, Digest, Format, Purpose};

/// Everything an approval commits to.
#[derive(Debug, Clone)]
pub struct Canonical<'a> {
    /// Request id.
    pub id: Uuid,
    /// The institution asking.
    pub institution_id: &'a str,
    /// The certificate.
    pub certificate_id: Uuid,
    /// Purpose.
    pub purpose: Purpose,
    /// What the user sees.
    pub display_text: &'a str,
    /// What is signed.
    pub digests: &'a [Digest],
    /// Output.
    pub format: Format,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Until when.
    pub expires_at: DateTime<Utc>,
}

impl Canonical<'_> {
    /// SHA-256 over a length-prefixed encoding of every field (versioned, so a field added
    /// later changes the domain, never the meaning of old digests).
    pub fn digest(&self) -> Digest {
        let mut ctx = digest::Context::new(&digest::SHA256);
        let mut field = |bytes: &[u8]| {
            ctx.update(&(bytes.len() as u64).to_be_bytes());
            ctx.update(bytes);
        };
        field(b"fincert-signature-request-v1");
        field(self.id.as_bytes());
        field(self.institution_id.as_bytes());
        field(self.certificate_id.as_bytes());
        field(self.purpose.as_str().as_bytes());
        field(self.display_text.as_bytes());
        field(&(self.digests.len() as u64).to_be_bytes());
        for d in self.digests {
            field(d.as_bytes());
        }
        field(self.format.as_str().as_bytes());
        field(self.algorithm.as_str().as_bytes());
        field(&self.expires_at.timestamp_micros().to_be_bytes());
        let out = ctx.finish();
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(out.as_ref());
        Digest::from_bytes(bytes)
    }
}

/// The WebAuthn challenge for approving a request: SHA-256 over a domain tag, the request's
/// canonical digest and a fresh nonce. The authenticator signs over the challenge, so the
/// assertion is valid for this request's exact content and nothing else.
pub fn approval_challenge(canonical: &Digest, nonce: &[u8]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"fincert-approval-v1");
    ctx.update(canonical.as_bytes());
    ctx.update(nonce);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn canonical_digest_changes_with_every_field() {
        let digests = [Digest::from_bytes([1; 32])];
        let other = [Digest::from_bytes([2; 32])];
        let base = Canonical {
            id: Uuid::nil(),
            institution_id: "i",
            certificate_id: Uuid::nil(),
            purpose: Purpose::Sign,
            display_text: "pay 1",
            digests: &digests,
            format: Format::Raw,
            algorithm: Algorithm::EcdsaP256Sha256,
            expires_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let d0 = base.digest();
        assert_eq!(d0, base.clone().digest(), "deterministic");
        let variants = [
            Canonical {
                id: Uuid::max(),
                ..base.clone()
            },
            Canonical {
                institution_id: "j",
                ..base.clone()
            },
            Canonical {
                certificate_id: Uuid::max(),
                ..base.clone()
            },
            Canonical {
                purpose: Purpose::Login,
                ..base.clone()
            },
            Canonical {
                display_text: "pay 2",
                ..base.clone()
            },
            Canonical {
                digests: &other,
                ..base.clone()
            },
            Canonical {
                format: Format::CmsDetached,
                ..base.clone()
            },
            Canonical {
                algorithm: Algorithm::RsaPssSha256,
                ..base.clone()
            },
            Canonical {
                expires_at: DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1),
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(v.digest(), d0);
        }
        assert_ne!(
            approval_challenge(&d0, b"n1"),
            approval_challenge(&d0, b"n2")
        );
    }
}
