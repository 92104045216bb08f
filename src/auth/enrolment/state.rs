//! The enrolment's one rule: [`check`], which refuses a step that is not the one the
//! enrolment waits for or that comes after its expiry. The states themselves ([`Step`], with
//! [`Step::next`], and [`Purpose`]) are domain types (`domain::enrolment_step`). Pure: no
//! database, no clock of its own (the caller passes `now`).

use chrono::{DateTime, Utc};

pub use crate::domain::enrolment_step::{Purpose, Step};

/// Why a step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// Not the step the enrolment waits for (replayed, skipped or already done).
    #[error("this enrolment is at the {actual} step, not {requested}")]
    WrongStep {
        /// The step asked for.
        requested: &'static str,
        /// The step it waits for.
        actual: &'static str,
    },
    /// The enrolment (or its code) has expired.
    #[error("this enrolment has expired; start again")]
    Expired,
}

/// The step an enrolment of `purpose` starts at: the terms, except for a PIN reset (whose
/// holder agreed to them at issuance), which starts at the identity step.
pub fn first_step(purpose: Purpose) -> Step {
    match purpose {
        Purpose::PinReset => Step::Identity,
        Purpose::Issue | Purpose::Reissue => Step::Terms,
    }
}

/// Checks that an enrolment at `current`, expiring at `expires_at`, may take `requested` now.
pub fn check(
    current: Step,
    requested: Step,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    if now >= expires_at {
        return Err(StepError::Expired);
    }
    if current != requested {
        return Err(StepError::WrongStep {
            requested: requested.as_str(),
            actual: current.as_str(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn steps_follow_in_order_and_only_once() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let exp = t + Duration::minutes(15);
        assert!(check(Step::Terms, Step::Terms, exp, t).is_ok());
        assert_eq!(Step::Terms.next(), Step::Identity);
        assert_eq!(
            check(Step::Identity, Step::Terms, exp, t),
            Err(StepError::WrongStep {
                requested: "terms",
                actual: "identity"
            }),
            "a step done is not done again"
        );
        assert!(
            check(Step::Terms, Step::Phone, exp, t).is_err(),
            "no skipping"
        );
        assert_eq!(
            check(Step::Phone, Step::Phone, exp, exp),
            Err(StepError::Expired)
        );
        let mut s = Step::Terms;
        for _ in 0..10 {
            s = s.next();
        }
        assert_eq!(s, Step::Completed);
    }
}
