//! An institution's line of business and its stored name. The sector decides what a
//! restricted-use certificate may sign for (see `domain::usage`).

use serde::{Deserialize, Serialize};

/// The institution's line of business (decides what restricted-use certificates may sign).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Sector {
    /// Bank.
    Bank,
    /// Credit-card company.
    Card,
    /// Insurer.
    Insurance,
    /// Securities firm.
    Securities,
    /// Public e-service.
    Public,
    /// Anything else.
    Other,
}

impl Sector {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bank => "bank",
            Self::Card => "card",
            Self::Insurance => "insurance",
            Self::Securities => "securities",
            Self::Public => "public",
            Self::Other => "other",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Bank,
            Self::Card,
            Self::Insurance,
            Self::Securities,
            Self::Public,
            Self::Other,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for s in [
            Sector::Bank,
            Sector::Card,
            Sector::Insurance,
            Sector::Securities,
            Sector::Public,
            Sector::Other,
        ] {
            assert_eq!(Sector::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(Sector::parse("card"), Some(Sector::Card));
        assert_eq!(Sector::parse("casino"), None);
        assert_eq!(Sector::parse("Bank"), None);
    }
}
