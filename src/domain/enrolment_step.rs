//! An enrolment's purpose (issue or reissue) and the step it waits for, with their stored
//! names and the order of the steps. The rule that refuses a step out of turn is in
//! `auth::enrolment::state`.

use serde::{Deserialize, Serialize};

/// What the enrolment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// A new certificate.
    Issue,
    /// A replacement (expiry, loss, lockout, forgotten PIN).
    Reissue,
}

impl Purpose {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::Reissue => "reissue",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Issue, Self::Reissue]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// The step an enrolment waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Agree to the current required terms.
    Terms,
    /// Name, birth date, mobile number, customer number.
    Identity,
    /// The one-time code sent by SMS or ARS.
    Phone,
    /// The security medium (card, hardware OTP, mobile OTP).
    Medium,
    /// Kind, usage, storage; PIN and/or passkey; issuance.
    Credential,
    /// Done.
    Completed,
}

impl Step {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Terms => "terms",
            Self::Identity => "identity",
            Self::Phone => "phone",
            Self::Medium => "medium",
            Self::Credential => "credential",
            Self::Completed => "completed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Terms,
            Self::Identity,
            Self::Phone,
            Self::Medium,
            Self::Credential,
            Self::Completed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// The step after this one.
    pub fn next(self) -> Self {
        match self {
            Self::Terms => Self::Identity,
            Self::Identity => Self::Phone,
            Self::Phone => Self::Medium,
            Self::Medium => Self::Credential,
            Self::Credential | Self::Completed => Self::Completed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for p in [Purpose::Issue, Purpose::Reissue] {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
        let mut s = Step::Terms;
        loop {
            assert_eq!(Step::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
            if s == Step::Completed {
                break;
            }
            s = s.next();
        }
        assert_eq!(Step::parse("medium"), Some(Step::Medium));
        assert_eq!(Step::parse("expired"), None);
        assert_eq!(Purpose::parse("renew"), None);
    }
}
