//! Identity verification behind a trait: the development adapter checks a table of known
//! customers the operator loads; a production adapter calls the institution's (or a national
//! identity service's) HTTP endpoint. Nothing here decides what happens after a mismatch: the
//! enrolment does (audits it, counts it).

use chrono::NaiveDate;
use sea_orm::DatabaseConnection;

use crate::{
    domain::person::{CustomerNumber, Phone},
    pki::profile::HolderName,
    store,
};

/// What the applicant claims.
#[derive(Debug, Clone)]
pub struct IdentityClaim {
    /// Name.
    pub name: HolderName,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Mobile number.
    pub phone: Phone,
    /// Customer or account number at the issuing institution.
    pub customer: CustomerNumber,
}

/// The verifier could not answer (the caller fails closed: 503).
#[derive(Debug, Clone, thiserror::Error)]
#[error("identity verification unavailable: {0}")]
pub struct VerifierError(pub String);

/// Checks a claimed identity.
#[async_trait::async_trait]
pub trait IdentityVerifier: Send + Sync {
    /// `true` when every claimed detail matches the institution's records.
    async fn verify(&self, claim: &IdentityClaim) -> Result<bool, VerifierError>;
}

/// Development adapter: the `dev_customers` table.
pub struct DevIdentityVerifier {
    db: DatabaseConnection,
}

impl DevIdentityVerifier {
    /// Over the given database.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl IdentityVerifier for DevIdentityVerifier {
    async fn verify(&self, claim: &IdentityClaim) -> Result<bool, VerifierError> {
        let known = store::enrolment::dev_customer(&self.db, claim.customer.as_str())
            .await
            .map_err(|e| VerifierError(e.to_string()))?;
        Ok(known.is_some_and(|(name, born, phone)| {
            name == claim.name.as_str()
                && born == claim.birth_date.format("%Y-%m-%d").to_string()
                && Phone::parse(&phone).is_ok_and(|p| p == claim.phone)
        }))
    }
}

/// Production adapter: a signed POST of the claim to the institution's identity service,
/// which answers `{"match": true|false}`.
pub struct HttpIdentityVerifier {
    partner: crate::outbound::Partner,
    clock: crate::clock::SharedClock,
}

impl HttpIdentityVerifier {
    /// Over a partner endpoint.
    pub fn new(partner: crate::outbound::Partner, clock: crate::clock::SharedClock) -> Self {
        Self { partner, clock }
    }
}

#[derive(serde::Serialize)]
struct ClaimBody<'a> {
    name: &'a str,
    birth_date: String,
    phone: &'a str,
    customer_number: &'a str,
}

#[derive(serde::Deserialize)]
struct MatchBody {
    #[serde(rename = "match")]
    matched: bool,
}

#[async_trait::async_trait]
impl IdentityVerifier for HttpIdentityVerifier {
    async fn verify(&self, claim: &IdentityClaim) -> Result<bool, VerifierError> {
        let body = ClaimBody {
            name: claim.name.as_str(),
            birth_date: claim.birth_date.format("%Y-%m-%d").to_string(),
            phone: claim.phone.as_str(),
            customer_number: claim.customer.as_str(),
        };
        let answer: MatchBody = self
            .partner
            .post(&body, self.clock.now().timestamp())
            .await
            .map_err(VerifierError)?;
        Ok(answer.matched)
    }
}
