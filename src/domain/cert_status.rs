//! A certificate's stored status, its stored name, and the rule that an active or suspended
//! certificate past `not_after` is expired. The transitions between statuses are checked in
//! `pki::lifecycle`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Stored status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertStatus {
    /// Valid.
    Active,
    /// On hold (certificateHold); can be resumed.
    Suspended,
    /// Revoked for good.
    Revoked,
    /// Past its validity.
    Expired,
}

impl CertStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "revoked" => Some(Self::Revoked),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }

    /// The status in force at `now`: an active or suspended certificate past `not_after` is
    /// expired even before the expiry job has marked it.
    pub fn at(self, not_after: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        match self {
            Self::Active | Self::Suspended if now >= not_after => Self::Expired,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    const ALL: [CertStatus; 4] = [
        CertStatus::Active,
        CertStatus::Suspended,
        CertStatus::Revoked,
        CertStatus::Expired,
    ];

    #[test]
    fn stored_names_round_trip() {
        for s in ALL {
            assert_eq!(CertStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(CertStatus::parse("Active"), None);
        assert_eq!(CertStatus::parse("on_hold"), None);
    }

    #[test]
    fn a_live_certificate_past_not_after_is_expired() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (before, after) = (now - Duration::seconds(1), now + Duration::seconds(1));
        for s in ALL {
            assert_eq!(s.at(after, now), s, "{s:?} before not_after");
        }
        assert_eq!(CertStatus::Active.at(now, now), CertStatus::Expired);
        assert_eq!(CertStatus::Suspended.at(before, now), CertStatus::Expired);
        assert_eq!(CertStatus::Revoked.at(before, now), CertStatus::Revoked);
    }
}
