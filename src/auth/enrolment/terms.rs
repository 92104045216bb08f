//! Step 1, terms: the applicant agrees to exactly the current version of every required terms
//! document; the consents and the step's advance commit together.

use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::{EnrolError, EnrolmentView, Enrolments, Step, StepError};
use crate::{
    audit::{Action, Actor, NewEvent},
    domain::terms,
    store::{self, StoreError},
};

impl Enrolments {
    /// Step 1: consent to exactly the current version of every required terms document
    /// (optional ones may be added).
    pub async fn agree_terms(
        &self,
        db: &DatabaseConnection,
        id: &str,
        agreed: &[(String, i32)],
    ) -> Result<EnrolmentView, EnrolError> {
        self.load(db, id, Step::Terms).await?;
        let now = self.clock.now();
        let current = terms::current(store::terms::in_effect(db, now).await?, now);
        for doc in current.iter().filter(|d| d.required) {
            if !agreed
                .iter()
                .any(|(c, v)| *c == doc.code && *v == doc.version)
            {
                return Err(EnrolError::Terms(format!("{} v{}", doc.code, doc.version)));
            }
        }
        for (i, (code, _)) in agreed.iter().enumerate() {
            if agreed[..i].iter().any(|(c, _)| c == code) {
                return Err(EnrolError::Terms(format!("{code} is agreed to twice")));
            }
        }
        for (code, version) in agreed {
            if !current
                .iter()
                .any(|d| d.code == *code && d.version == *version)
            {
                return Err(EnrolError::Terms(format!(
                    "{code} v{version} is not a current document"
                )));
            }
        }
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !store::enrolment::advance(&txn, id, Step::Terms, Step::Identity, now).await? {
            return Err(StepError::WrongStep {
                requested: "terms",
                actual: "identity",
            }
            .into());
        }
        for (code, version) in agreed {
            store::enrolment::insert_consent(&txn, id, code, *version, now).await?;
        }
        let event = NewEvent::new(Actor::System, Action::EnrolmentTermsAgreed)
            .subject(id.to_owned())
            .details(json!({"agreed": agreed}));
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.get(db, id).await
    }
}
