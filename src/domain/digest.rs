//! A SHA-256 digest to sign (or that an approval commits to): exactly 32 bytes, parsed from
//! base64 at the edge or computed here.

use aws_lc_rs::digest;
use base64::{Engine as _, engine::general_purpose::STANDARD};

/// A SHA-256 digest to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest([u8; 32]);

/// Why a digest was refused. The messages name the field as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Not base64 (standard alphabet, padded).
    #[error("a digest is not valid base64")]
    Base64,
    /// Not 32 bytes.
    #[error("a digest must be 32 bytes (SHA-256)")]
    Length,
}

impl Digest {
    /// Parses base64 (standard alphabet, padded) of exactly 32 bytes.
    pub fn parse_b64(raw: &str) -> Result<Self, DigestError> {
        let bytes = STANDARD.decode(raw).map_err(|_| DigestError::Base64)?;
        Self::from_slice(&bytes)
    }

    /// Takes exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, DigestError> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| DigestError::Length)
    }

    /// These 32 bytes (a SHA-256 output computed elsewhere).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// SHA-256 of `data`.
    pub fn of(data: &[u8]) -> Self {
        let d = digest::digest(&digest::SHA256, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Base64 (standard).
    pub fn to_b64(self) -> String {
        STANDARD.encode(self.0)
    }

    /// Lower-case hex (for the audit log).
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_32_bytes_of_base64_parse() {
        let d = Digest::of(b"hello");
        assert_eq!(Digest::parse_b64(&d.to_b64()), Ok(d));
        assert_eq!(Digest::parse_b64("not base64!"), Err(DigestError::Base64));
        assert_eq!(
            Digest::parse_b64(&STANDARD.encode([0u8; 31])),
            Err(DigestError::Length)
        );
        assert_eq!(Digest::from_slice(&[0u8; 33]), Err(DigestError::Length));
        assert_eq!(
            Digest::from_slice(&[7u8; 32]),
            Ok(Digest::from_bytes([7u8; 32]))
        );
    }

    #[test]
    fn sha256_is_the_known_answer() {
        assert_eq!(
            Digest::of(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::of(b"abc").as_bytes().len(), 32);
    }

    #[test]
    fn error_messages_are_the_api_messages() {
        assert_eq!(
            DigestError::Base64.to_string(),
            "a digest is not valid base64"
        );
        assert_eq!(
            DigestError::Length.to_string(),
            "a digest must be 32 bytes (SHA-256)"
        );
    }
}
