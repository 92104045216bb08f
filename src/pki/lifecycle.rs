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

pub use crate::domain::{cert_status::CertStatus, revocation_reason::RevocationReason};

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
}
