//! The kinds of security medium a customer may hold (security card, hardware OTP, mobile OTP)
//! and their stored names. What each one checks is in `auth::media` and `auth::otp`.

use serde::{Deserialize, Serialize};

/// Kinds of security medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediumKind {
    /// Security card (30/35 cells).
    Card,
    /// Hardware OTP token, counter based (RFC 4226).
    Hotp,
    /// Hardware OTP token, time based (RFC 6238).
    Totp,
    /// Mobile OTP: TOTP in the app on the registered device.
    Motp,
}

impl MediumKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::Hotp => "hotp",
            Self::Totp => "totp",
            Self::Motp => "motp",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Card, Self::Hotp, Self::Totp, Self::Motp]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for k in [
            MediumKind::Card,
            MediumKind::Hotp,
            MediumKind::Totp,
            MediumKind::Motp,
        ] {
            assert_eq!(MediumKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        assert_eq!(MediumKind::parse("otp"), None);
    }
}
