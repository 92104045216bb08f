//! Terms documents (`GET /v1/terms`, a list of [`TermsDocument`]), agreed to in the first
//! enrolment step by code and version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The current version of one terms document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsDocument {
    /// Stable code, e.g. `service`, `privacy`.
    pub code: String,
    /// Version, increasing.
    pub version: i32,
    /// Title shown to the user.
    pub title: String,
    /// Full text.
    pub body: String,
    /// Whether enrolment needs consent to it.
    pub required: bool,
    /// From when this version applies.
    pub effective_at: DateTime<Utc>,
}
