//! Certificate status and the transitions between them. An illegal transition is an error the
//! API answers with 409.
//!
//! ```text
//!                 suspend                       revoke(reason)
//!     ┌────────┐ ─────────► ┌───────────┐ ─────────────────────► ┌─────────┐
//!     │ active │            │ suspended │                        │ revoked │
//!     └────────┘ ◄───────── └───────────┘                        └─────────┘
//!      │  │  ▲      resume        (certificateHold on CRL/OCSP)       ▲
//!      │  │  └─ renew (≤ window days left): new key + serial; old stays active until expiry
//!      │  └──── revoke(reason) ───────────────────────────────────────┘
//!      └─────── reissue: new certificate; a live old one is revoked (superseded)
//!   not_after passed ⇒ expired (from active or suspended); only reissue remains
//! ```

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

/// RFC 5280 revocation reasons a holder or operator may give (certificateHold and
/// removeFromCRL are suspend and resume, not reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    /// unspecified (0)
    Unspecified,
    /// keyCompromise (1)
    KeyCompromise,
    /// affiliationChanged (3)
    AffiliationChanged,
    /// superseded (4)
    Superseded,
    /// cessationOfOperation (5)
    CessationOfOperation,
    /// privilegeWithdrawn (9)
    PrivilegeWithdrawn,
}

impl RevocationReason {
    /// The RFC 5280 CRLReason code.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::PrivilegeWithdrawn => 9,
        }
    }

    /// From a stored code.
    pub fn from_code(code: i32) -> Option<Self> {
        [
            Self::Unspecified,
            Self::KeyCompromise,
            Self::AffiliationChanged,
            Self::Superseded,
            Self::CessationOfOperation,
            Self::PrivilegeWithdrawn,
        ]
        .into_iter()
        .find(|r| i32::from(r.code()) == code)
    }
}

/// Why a transition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// Renewal opens only when at most the window remains.
    #[error("renewal opens {window_days} days before expiry; {days_left} days remain")]
    RenewalNotOpen {
        /// Days left.
        days_left: i64,
        /// The window.
        window_days: u32,
    },
    /// Already renewed: the successor is the one to renew.
    #[error("this certificate was already renewed")]
    AlreadyRenewed,
    /// The certificate is not in a status that allows this.
    #[error("a {status} certificate cannot be {action}")]
    NotAllowed {
        /// Status in force.
        status: &'static str,
        /// What was asked.
        action: &'static str,
    },
}

fn not_allowed(status: CertStatus, action: &'static str) -> LifecycleError {
    LifecycleError::NotAllowed {
        status: status.as_str(),
        action,
    }
}

/// Renewal: active, not yet renewed, and at most `window_days` left.
pub fn check_renew(
    status: CertStatus,
    not_after: DateTime<Utc>,
    now: DateTime<Utc>,
    window_days: u32,
    renewed: bool,
) -> Result<(), LifecycleError> {
    let status = status.at(not_after, now);
    if status != CertStatus::Active {
        return Err(not_allowed(status, "renewed"));
    }
    if renewed {
        return Err(LifecycleError::AlreadyRenewed);
    }
    let left = not_after - now;
    // Days left, rounded up: 29 days and 1 hour is 30 days left.
    let days_left = (left.num_seconds() + 86_399) / 86_400;
    if days_left > i64::from(window_days) {
        return Err(LifecycleError::RenewalNotOpen {
            days_left,
            window_days,
        });
    }
    Ok(())
}

/// Revocation: anything still live (active or suspended).
pub fn check_revoke(
    status: CertStatus,
    not_after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), LifecycleError> {
    match status.at(not_after, now) {
        CertStatus::Active | CertStatus::Suspended => Ok(()),
        other => Err(not_allowed(other, "revoked")),
    }
}

/// Suspension: active only.
pub fn check_suspend(
    status: CertStatus,
    not_after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), LifecycleError> {
    match status.at(not_after, now) {
        CertStatus::Active => Ok(()),
        other => Err(not_allowed(other, "suspended")),
    }
}

/// Resumption: suspended (and not expired) only.
pub fn check_resume(
    status: CertStatus,
    not_after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), LifecycleError> {
    match status.at(not_after, now) {
        CertStatus::Suspended => Ok(()),
        other => Err(not_allowed(other, "resumed")),
    }
}

/// Whether reissuance must revoke the old certificate (it is still live).
pub fn reissue_revokes(status: CertStatus, not_after: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    matches!(
        status.at(not_after, now),
        CertStatus::Active | CertStatus::Suspended
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn renewal_opens_thirty_days_before_expiry() {
        let now = t0();
        let err = check_renew(
            CertStatus::Active,
            now + Duration::days(200),
            now,
            30,
            false,
        )
        .unwrap_err();
        assert_eq!(
            err,
            LifecycleError::RenewalNotOpen {
                days_left: 200,
                window_days: 30
            }
        );
        assert!(check_renew(CertStatus::Active, now + Duration::days(31), now, 30, false).is_err());
        assert!(check_renew(CertStatus::Active, now + Duration::days(30), now, 30, false).is_ok());
        assert!(
            check_renew(
                CertStatus::Active,
                now + Duration::days(29) + Duration::hours(23),
                now,
                30,
                false
            )
            .is_ok()
        );
        assert!(check_renew(CertStatus::Active, now + Duration::days(1), now, 30, false).is_ok());
        assert_eq!(
            check_renew(CertStatus::Active, now + Duration::days(5), now, 30, true).unwrap_err(),
            LifecycleError::AlreadyRenewed
        );
        // Expired, suspended and revoked certificates are reissued, not renewed.
        for s in [CertStatus::Suspended, CertStatus::Revoked] {
            assert!(check_renew(s, now + Duration::days(5), now, 30, false).is_err());
        }
        assert!(matches!(
            check_renew(CertStatus::Active, now - Duration::days(1), now, 30, false).unwrap_err(),
            LifecycleError::NotAllowed {
                status: "expired",
                ..
            }
        ));
    }

    #[test]
    fn suspend_resume_revoke_follow_the_diagram() {
        let (now, later) = (t0(), t0() + Duration::days(100));
        assert!(check_suspend(CertStatus::Active, later, now).is_ok());
        assert!(check_suspend(CertStatus::Suspended, later, now).is_err());
        assert!(check_resume(CertStatus::Suspended, later, now).is_ok());
        assert!(check_resume(CertStatus::Active, later, now).is_err());
        assert!(check_revoke(CertStatus::Suspended, later, now).is_ok());
        assert!(check_revoke(CertStatus::Revoked, later, now).is_err());
        assert!(
            check_resume(CertStatus::Suspended, now, later).is_err(),
            "expired while suspended"
        );
        assert!(reissue_revokes(CertStatus::Active, later, now));
        assert!(
            !reissue_revokes(CertStatus::Active, now, later),
            "an expired one is not revoked"
        );
    }

    #[test]
    fn reasons_round_trip_their_codes() {
        for code in [0, 1, 3, 4, 5, 9] {
            assert_eq!(
                i32::from(RevocationReason::from_code(code).unwrap().code()),
                code
            );
        }
        assert!(
            RevocationReason::from_code(6).is_none(),
            "certificateHold is suspension"
        );
    }
}
