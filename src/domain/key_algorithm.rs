//! The key algorithms fincert generates and their stored names. The key code itself (generation,
//! signing, schemes) stays in `custody::keys`; only the name rule lives here.

use serde::{Deserialize, Serialize};

/// Key algorithms fincert generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlgorithm {
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// ECDSA on NIST P-256.
    P256,
}

impl KeyAlgorithm {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa2048",
            Self::P256 => "p256",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rsa2048" => Some(Self::Rsa2048),
            "p256" => Some(Self::P256),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for a in [KeyAlgorithm::Rsa2048, KeyAlgorithm::P256] {
            assert_eq!(KeyAlgorithm::parse(a.as_str()), Some(a));
        }
        for bad in ["", "rsa", "RSA2048", "p384", "ed25519"] {
            assert_eq!(KeyAlgorithm::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn serde_uses_the_stored_names() {
        assert_eq!(
            serde_json::to_string(&KeyAlgorithm::Rsa2048).unwrap(),
            "\"rsa2048\""
        );
        assert_eq!(
            serde_json::from_str::<KeyAlgorithm>("\"p256\"").unwrap(),
            KeyAlgorithm::P256
        );
    }
}
