//! What a certificate may be used for (its certificate policy), its stored name, and the usage
//! rule: which institutions a restricted-use certificate may sign for.

use serde::{Deserialize, Serialize};

use super::sector::Sector;

/// What it may be used for (certificate policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Usage {
    /// Banking, credit card, insurance; free.
    Restricted,
    /// Every e-service; fee.
    General,
}

impl Usage {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Restricted => "restricted",
            Self::General => "general",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "restricted" => Some(Self::Restricted),
            "general" => Some(Self::General),
            _ => None,
        }
    }
}

/// The usage rule: a restricted-use certificate signs only for banks, card firms and
/// insurers; a general-purpose one for every institution.
pub fn usage_allows(usage: Usage, sector: Sector) -> bool {
    match usage {
        Usage::General => true,
        Usage::Restricted => matches!(sector, Sector::Bank | Sector::Card | Sector::Insurance),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for u in [Usage::Restricted, Usage::General] {
            assert_eq!(Usage::parse(u.as_str()), Some(u));
            assert_eq!(
                serde_json::to_string(&u).unwrap(),
                format!("\"{}\"", u.as_str())
            );
        }
        assert_eq!(Usage::parse("General"), None);
        assert_eq!(Usage::parse(""), None);
    }

    #[test]
    fn restricted_use_signs_only_for_bank_card_insurance() {
        for s in [Sector::Bank, Sector::Card, Sector::Insurance] {
            assert!(usage_allows(Usage::Restricted, s));
        }
        for s in [Sector::Securities, Sector::Public, Sector::Other] {
            assert!(!usage_allows(Usage::Restricted, s));
            assert!(usage_allows(Usage::General, s));
        }
    }
}
