//! [`EnrolmentView`]: an enrolment as the API shows it, built from its stored row. It must
//! never carry a code or personal details (the phone number only masked).

use chrono::{DateTime, Utc};

use super::{Purpose, Step};
use crate::{domain::person::Phone, store::enrolment::EnrolmentRow};

/// An enrolment as the API shows it (never a code, never personal details; written as
/// `proto::enrolment::EnrolmentView`).
#[derive(Debug, Clone)]
pub struct EnrolmentView {
    /// Id (a capability: keep it secret).
    pub id: String,
    /// Purpose.
    pub purpose: Purpose,
    /// The step it waits for.
    pub step: Step,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Where the code went (masked), once sent.
    pub phone: Option<String>,
}

pub(super) fn view(row: &EnrolmentRow) -> EnrolmentView {
    EnrolmentView {
        id: row.id.clone(),
        purpose: row.purpose,
        step: row.step,
        expires_at: row.expires_at,
        phone: row.phone.as_ref().map(Phone::masked),
    }
}
