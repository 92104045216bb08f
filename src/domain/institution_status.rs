//! Whether an institution may act (authenticate, be consented to, ask for signatures), and
//! its stored name.

use serde::{Deserialize, Serialize};

/// An institution's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstitutionStatus {
    /// Registered and allowed to act.
    Active,
    /// Barred: its tokens, consents and requests are refused.
    Disabled,
}

impl InstitutionStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Active, Self::Disabled]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for s in [InstitutionStatus::Active, InstitutionStatus::Disabled] {
            assert_eq!(InstitutionStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(InstitutionStatus::parse("Active"), None);
        assert_eq!(InstitutionStatus::parse("suspended"), None);
    }
}
