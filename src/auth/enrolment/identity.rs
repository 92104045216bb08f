//! Step 2, identity: the identity verifier (`crate::auth::identity`) confirms name, birth
//! date, mobile number and customer number; the user record is found or created.

use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::{EnrolError, EnrolmentView, Enrolments, Step, StepError};
use crate::{
    audit::{Action, Actor, NewEvent},
    auth::identity::IdentityClaim,
    store::{self, StoreError},
};

impl Enrolments {
    /// Step 2: the verifier confirms name, birth date, mobile number and customer number; the
    /// user record is found or created.
    pub async fn verify_identity(
        &self,
        db: &DatabaseConnection,
        id: &str,
        claim: &IdentityClaim,
    ) -> Result<EnrolmentView, EnrolError> {
        self.load(db, id, Step::Identity).await?;
        if !self.verifier.verify(claim).await? {
            self.audit(
                db,
                Action::EnrolmentIdentityFailed,
                id,
                json!({"customer": claim.customer.as_str()}),
            )
            .await?;
            return Err(EnrolError::IdentityMismatch);
        }
        let now = self.clock.now();
        let txn = db.begin().await.map_err(StoreError::from)?;
        let user = store::enrolment::upsert_user(
            &txn,
            claim.customer.as_str(),
            claim.name.as_str(),
            &claim.birth_date.format("%Y-%m-%d").to_string(),
            claim.phone.as_str(),
            now,
        )
        .await?;
        if !store::enrolment::advance(&txn, id, Step::Identity, Step::Phone, now).await? {
            return Err(StepError::WrongStep {
                requested: "identity",
                actual: "phone",
            }
            .into());
        }
        store::enrolment::set_identity(&txn, id, &user, &claim.phone).await?;
        let event = NewEvent::new(Actor::User(user.clone()), Action::EnrolmentIdentityVerified)
            .subject(id.to_owned())
            .details(json!({"phone": claim.phone.masked()}));
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.get(db, id).await
    }
}
