//! A custody slot: which secret opens one copy of a key's data key (the PIN, one passkey, or
//! the service itself), and its stored name — the same name the slot's KMS encryption context
//! carries, so a copy moved to another slot does not open. Wrapping and opening are in
//! `custody::slots`.

use aws_lc_rs::digest;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};

/// A slot: which secret opens a copy of the data key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The PIN copy.
    Pin,
    /// A passkey's copy, named by a hash of its credential id.
    Passkey(String),
    /// The service's own copy (CA and OCSP responder keys only).
    Service,
}

const PASSKEY_PREFIX: &str = "passkey:";

impl Slot {
    /// The slot for a WebAuthn credential id (raw bytes).
    pub fn passkey(credential_id: &[u8]) -> Self {
        Self::Passkey(B64URL.encode(digest::digest(&digest::SHA256, credential_id).as_ref()))
    }

    /// Stored name.
    pub fn name(&self) -> String {
        match self {
            Self::Pin => "pin".into(),
            Self::Passkey(h) => format!("{PASSKEY_PREFIX}{h}"),
            Self::Service => "service".into(),
        }
    }

    /// Parses a stored name: `pin`, `service` or `passkey:` and a credential hash.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pin" => Some(Self::Pin),
            "service" => Some(Self::Service),
            _ => s
                .strip_prefix(PASSKEY_PREFIX)
                .filter(|h| !h.is_empty())
                .map(|h| Self::Passkey(h.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for s in [Slot::Pin, Slot::Service, Slot::passkey(b"credential")] {
            assert_eq!(Slot::parse(&s.name()), Some(s.clone()), "{s:?}");
        }
        assert_eq!(Slot::passkey(b"credential").name().len(), 8 + 43);
        for bad in ["", "PIN", "passkey:", "passkey", "services"] {
            assert_eq!(Slot::parse(bad), None, "{bad:?}");
        }
    }
}
