//! The holder's side of institution registration (`src/api/consents.rs`): the directory of
//! institutions, consents ("register my certificate with institution X") and their listing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A consent as the user sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentView {
    /// Id.
    pub id: String,
    /// The institution.
    pub institution: InstitutionSummary,
    /// The certificate.
    pub certificate_id: String,
    /// Given.
    pub created_at: DateTime<Utc>,
    /// Withdrawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// An institution as users see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstitutionSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Sector.
    pub sector: String,
}

/// A consent to give (`POST /v1/consents`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    /// The institution.
    pub institution_id: Uuid,
    /// The certificate.
    pub certificate_id: Uuid,
}

/// Listing options of `GET /v1/consents` (query string).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentsQuery {
    /// Also list withdrawn consents.
    #[serde(default)]
    pub include_withdrawn: bool,
}
