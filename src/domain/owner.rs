//! Who owns a key or a certificate: a user id, or `ca:<name>` / `svc:<name>` for the service's
//! own keys. 1–64 of `[A-Za-z0-9._:-]`.
//!
//! An `OwnerId` only exists parsed. What an owner *means* for the audit log (user or system)
//! is decided next to the audit types (`custody`), not here: this file imports nothing of ours.

/// A syntactically valid owner id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnerId(String);

/// The owner id is not 1–64 of `[A-Za-z0-9._:-]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid owner id")]
pub struct InvalidOwnerId;

impl OwnerId {
    /// Parses an owner id.
    pub fn parse(raw: &str) -> Result<Self, InvalidOwnerId> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidOwnerId)
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of the service's own keys (CA, OCSP responder, token signing).
    pub fn is_service(&self) -> bool {
        self.0.starts_with("ca:") || self.0.starts_with("svc:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_ids_are_short_plain_text() {
        for ok in [
            "user-hana",
            "ca:issuing",
            "svc:ocsp",
            "a",
            "A.b_c:d-9",
            &"x".repeat(64),
        ] {
            assert_eq!(OwnerId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "user hana", "user/hana", "한나", "a\n", &"x".repeat(65)] {
            assert_eq!(OwnerId::parse(bad).unwrap_err(), InvalidOwnerId, "{bad:?}");
        }
    }

    #[test]
    fn service_owners_are_recognised_by_prefix() {
        assert!(OwnerId::parse("ca:issuing").unwrap().is_service());
        assert!(OwnerId::parse("svc:tokens").unwrap().is_service());
        assert!(!OwnerId::parse("user-ca:x").unwrap().is_service());
    }
}
