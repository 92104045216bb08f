//! The enrolment service: runs the steps of [`super::enrolment`] against the database, the
//! identity verifier and the message sender, auditing each. Steps one to three are here: terms,
//! identity, phone code. (The security medium and credential steps come next.)

use std::sync::Arc;

use aws_lc_rs::{
    constant_time,
    rand::{SecureRandom, SystemRandom},
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    enrolment::{self, Purpose, Step, StepError},
    identity::{IdentityClaim, IdentityVerifier, VerifierError},
    messaging::{Channel, MessageSender, SendError},
};
use crate::{
    audit::{Action, Actor, NewEvent},
    clock::SharedClock,
    custody::kms::{Kms, KmsError},
    domain::{person::Phone, terms},
    store::{self, StoreError, enrolment::EnrolmentRow},
};

/// How long an enrolment lives.
const ENROLMENT_TTL_MINUTES: i64 = 20;
/// How long a phone code lives.
const CODE_TTL_MINUTES: i64 = 3;
/// Wrong codes allowed per code.
const CODE_ATTEMPTS: i32 = 5;
/// Codes sent per enrolment.
const CODE_SENDS: i32 = 5;

/// Enrolment failures.
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// No such enrolment.
    #[error("no such enrolment")]
    NotFound,
    /// Wrong step or expired.
    #[error(transparent)]
    Step(#[from] StepError),
    /// A required terms document was not agreed to (or an unknown/old version was sent).
    #[error("every current required terms document must be agreed to: {0}")]
    Terms(String),
    /// The identity did not match the institution's records.
    #[error("the details do not match the institution's records")]
    IdentityMismatch,
    /// The code is wrong.
    #[error("wrong code")]
    WrongCode,
    /// The code expired, was used up, or none was sent.
    #[error("the code has expired or was used up; request a new one")]
    CodeExpired,
    /// Too many codes sent for this enrolment.
    #[error("too many codes sent; start again")]
    TooManyCodes,
    /// Identity verifier unavailable.
    #[error(transparent)]
    Verifier(#[from] VerifierError),
    /// Message sender unavailable.
    #[error(transparent)]
    Sender(#[from] SendError),
    /// KMS unavailable.
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An enrolment as the API shows it (never a code, never personal details).
#[derive(Debug, Clone, Serialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// Runs enrolments.
pub struct Enrolments {
    verifier: Arc<dyn IdentityVerifier>,
    sender: Arc<dyn MessageSender>,
    kms: Arc<dyn Kms>,
    clock: SharedClock,
}

fn view(row: &EnrolmentRow) -> EnrolmentView {
    EnrolmentView {
        id: row.id.clone(),
        purpose: if row.purpose == "reissue" {
            Purpose::Reissue
        } else {
            Purpose::Issue
        },
        step: Step::parse(&row.step).unwrap_or(Step::Completed),
        expires_at: row.expires_at,
        phone: row
            .phone
            .as_deref()
            .and_then(|p| Phone::parse(p).ok())
            .map(|p| p.masked()),
    }
}

fn code_message(enrolment: &str, code: &str) -> Vec<u8> {
    crate::custody::sealed::framed(&[
        b"fincert-phone-code-v1",
        enrolment.as_bytes(),
        code.as_bytes(),
    ])
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
        let current = Step::parse(&row.step).ok_or(EnrolError::NotFound)?;
        enrolment::check(current, step, row.expires_at, self.clock.now())?;
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
        let purpose_s = if purpose == Purpose::Issue {
            "issue"
        } else {
            "reissue"
        };
        let txn = db.begin().await.map_err(StoreError::from)?;
        store::enrolment::insert(
            &txn,
            &id,
            purpose_s,
            now,
            now + Duration::minutes(ENROLMENT_TTL_MINUTES),
        )
        .await?;
        store::audit::append(
            &txn,
            now,
            &[NewEvent::new(Actor::System, Action::EnrolmentStarted)
                .subject(id.clone())
                .details(json!({"purpose": purpose_s}))],
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
        if !store::enrolment::advance(&txn, id, Step::Terms.as_str(), Step::Identity.as_str(), now)
            .await?
        {
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
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.get(db, id).await
    }

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
        if !store::enrolment::advance(&txn, id, Step::Identity.as_str(), Step::Phone.as_str(), now)
            .await?
        {
            return Err(StepError::WrongStep {
                requested: "identity",
                actual: "phone",
            }
            .into());
        }
        store::enrolment::set_identity(&txn, id, &user, claim.phone.as_str()).await?;
        let event = NewEvent::new(Actor::User(user.clone()), Action::EnrolmentIdentityVerified)
            .subject(id.to_owned())
            .details(json!({"phone": claim.phone.masked()}));
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.get(db, id).await
    }

    /// Step 3a: sends a fresh 6-digit code (SMS or ARS) to the verified number. Only a KMS MAC
    /// of the code is stored; a new code replaces the old one.
    pub async fn send_code(
        &self,
        db: &DatabaseConnection,
        id: &str,
        channel: Channel,
    ) -> Result<EnrolmentView, EnrolError> {
        let row = self.load(db, id, Step::Phone).await?;
        let phone = row
            .phone
            .as_deref()
            .and_then(|p| Phone::parse(p).ok())
            .ok_or(EnrolError::NotFound)?;
        let mut n = [0u8; 4];
        SystemRandom::new()
            .fill(&mut n)
            .map_err(|_| KmsError::Unavailable("random source failed".into()))?;
        let code = zeroize::Zeroizing::new(format!("{:06}", u32::from_be_bytes(n) % 1_000_000));
        let mac = self.kms.mac(&code_message(id, &code)).await?;
        let now = self.clock.now();
        if !store::enrolment::set_code(
            db,
            id,
            &mac,
            now + Duration::minutes(CODE_TTL_MINUTES),
            CODE_SENDS,
        )
        .await?
        {
            return Err(EnrolError::TooManyCodes);
        }
        let body = zeroize::Zeroizing::new(match channel {
            Channel::Sms => format!("[fincert] 인증번호 {} (3분 안에 입력하세요)", code.as_str()),
            Channel::Ars => format!("fincert ARS: key in {} when the call asks", code.as_str()),
        });
        self.sender.send(&phone, channel, &body).await?;
        self.audit(
            db,
            Action::EnrolmentCodeSent,
            id,
            json!({"channel": channel, "phone": phone.masked()}),
        )
        .await?;
        self.get(db, id).await
    }

    /// Step 3b: checks the code (5 tries per code, 3 minutes); the code is single-use.
    pub async fn verify_code(
        &self,
        db: &DatabaseConnection,
        id: &str,
        code: &str,
    ) -> Result<EnrolmentView, EnrolError> {
        let row = self.load(db, id, Step::Phone).await?;
        let now = self.clock.now();
        let (Some(stored), Some(expires)) = (row.code_mac.as_ref(), row.code_expires_at) else {
            return Err(EnrolError::CodeExpired);
        };
        if now >= expires || !store::enrolment::take_code_attempt(db, id, CODE_ATTEMPTS).await? {
            store::enrolment::clear_code(db, id).await?;
            return Err(EnrolError::CodeExpired);
        }
        let mac = self.kms.mac(&code_message(id, code)).await?;
        if constant_time::verify_slices_are_equal(&mac, stored).is_err() {
            self.audit(
                db,
                Action::EnrolmentCodeFailed,
                id,
                json!({"attempt": row.code_attempts + 1}),
            )
            .await?;
            return Err(EnrolError::WrongCode);
        }
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !store::enrolment::advance(&txn, id, Step::Phone.as_str(), Step::Medium.as_str(), now)
            .await?
        {
            return Err(StepError::WrongStep {
                requested: "phone",
                actual: "medium",
            }
            .into());
        }
        store::enrolment::clear_code(&txn, id).await?;
        let event =
            NewEvent::new(Actor::System, Action::EnrolmentPhoneVerified).subject(id.to_owned());
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.get(db, id).await
    }
}
