//! The four-step issuance procedure as a state machine. Each step is its own state, single-use
//! (a step can only move the enrolment from the state it expects, by a conditional update, so
//! a replayed or concurrent step finds the state gone), and the whole enrolment expires.
//!
//! ```text
//!   created ──terms──► identity ──verified──► phone ──code ok──► medium ──answer ok──► credential
//!                                                 │  (send: SMS or ARS; 5 tries; 3 minutes)            │
//!                                                 └────────────── resend ◄───────────────┘   complete ─┴─► completed
//!   any state past its expiry ⇒ expired (every step refused)
//!
//!   purpose pin_reset: starts at identity (the terms were agreed at issuance); its last step
//!   is `pin_reset` (a bound passkey and the new PIN) instead of `complete`
//! ```
//!
//! [`Enrolments`] runs these steps against the database, the identity verifier and the message
//! sender, auditing each. One file per step: `terms`, `identity`, `phone`, `medium`,
//! `credential` (or `pin_reset`); `state` holds the states and the transition check, `error` the failures,
//! `view` what the API shows.

use std::sync::Arc;

use chrono::Duration;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use crate::{
    audit::{Action, Actor, NewEvent},
    auth::{identity::IdentityVerifier, messaging::MessageSender},
    clock::SharedClock,
    custody::{OwnerId, kms::Kms},
    store::{self, StoreError, enrolment::EnrolmentRow},
};

mod credential;
mod error;
mod identity;
mod medium;
mod phone;
mod pin_reset;
mod state;
mod terms;
mod view;

pub use credential::{Completed, CredentialChoice};
pub use error::EnrolError;
pub use medium::MediumChallenge;
pub use pin_reset::PinResetDone;
pub use state::{Purpose, Step, StepError, check};
pub use view::EnrolmentView;

use view::view;

/// How long an enrolment lives.
const ENROLMENT_TTL_MINUTES: i64 = 20;

/// Runs enrolments.
pub struct Enrolments {
    verifier: Arc<dyn IdentityVerifier>,
    sender: Arc<dyn MessageSender>,
    kms: Arc<dyn Kms>,
    clock: SharedClock,
}

impl Enrolments {
    /// A service over these adapters.
    pub fn new(
        verifier: Arc<dyn IdentityVerifier>,
        sender: Arc<dyn MessageSender>,
        kms: Arc<dyn Kms>,
        clock: SharedClock,
    ) -> Self {
        Self {
            verifier,
            sender,
            kms,
            clock,
        }
    }

    async fn load(
        &self,
        db: &DatabaseConnection,
        id: &str,
        step: Step,
    ) -> Result<EnrolmentRow, EnrolError> {
        let row = store::enrolment::get(db, id)
            .await?
            .ok_or(EnrolError::NotFound)?;
        check(row.step, step, row.expires_at, self.clock.now())?;
        Ok(row)
    }

    async fn audit(
        &self,
        db: &DatabaseConnection,
        action: Action,
        id: &str,
        details: serde_json::Value,
    ) -> Result<(), EnrolError> {
        let event = NewEvent::new(Actor::System, action)
            .subject(id.to_owned())
            .details(details);
        store::audit::append(db, self.clock.now(), &[event]).await?;
        Ok(())
    }

    /// Starts an enrolment at the terms step.
    pub async fn start(
        &self,
        db: &DatabaseConnection,
        purpose: Purpose,
    ) -> Result<EnrolmentView, EnrolError> {
        let id = Uuid::new_v4().to_string();
        let now = self.clock.now();
        let txn = db.begin().await.map_err(StoreError::from)?;
        store::enrolment::insert(
            &txn,
            &id,
            purpose,
            state::first_step(purpose),
            now,
            now + Duration::minutes(ENROLMENT_TTL_MINUTES),
        )
        .await?;
        store::audit::append_within(
            &txn,
            now,
            &[NewEvent::new(Actor::System, Action::EnrolmentStarted)
                .subject(id.clone())
                .details(json!({"purpose": purpose.as_str()}))],
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.get(db, &id).await
    }

    /// The enrolment's state.
    pub async fn get(
        &self,
        db: &DatabaseConnection,
        id: &str,
    ) -> Result<EnrolmentView, EnrolError> {
        Ok(view(
            &store::enrolment::get(db, id)
                .await?
                .ok_or(EnrolError::NotFound)?,
        ))
    }

    async fn user_of(&self, row: &EnrolmentRow) -> Result<OwnerId, EnrolError> {
        row.user_id.clone().ok_or(EnrolError::NotFound)
    }
}
