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
    /// The customer has no registered medium of that kind.
    #[error("no security medium of this kind is registered for you")]
    MediumNotRegistered,
    /// No open card challenge (ask for one first; each is single-use).
    #[error("there is no open security-card challenge; request one")]
    NoChallenge,
    /// The medium's answer is wrong.
    #[error("the security medium's answer is wrong")]
    WrongMediumAnswer,
    /// The OTP was already used.
    #[error("this one-time password was already used")]
    OtpReplayed,
    /// Too many wrong medium answers: the enrolment is over.
    #[error("too many wrong answers; start again")]
    MediumAttemptsExhausted,
    /// The PIN was refused (format, or too easy to guess).
    #[error(transparent)]
    Pin(#[from] crate::domain::pin::PinError),
    /// The credential choice is inconsistent (e.g. reissue without the old certificate).
    #[error("{0}")]
    Credential(&'static str),
    /// Issuance failed.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// Session tokens failed.
    #[error(transparent)]
    Token(#[from] super::tokens::TokenError),
    /// Security media failed.
    #[error(transparent)]
    Media(#[from] super::media::MediaError),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A security-medium challenge as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MediumChallenge {
    /// The medium.
    pub kind: super::media::MediumKind,
    /// For a card: the two cells and which half of each to type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cells: Option<super::security_card::Challenge>,
}

/// What the applicant chooses in the last step.
pub struct CredentialChoice<'a> {
    /// Financial or joint.
    pub kind: crate::pki::profile::CertKind,
    /// Restricted-use or general-purpose.
    pub usage: crate::pki::profile::Usage,
    /// The new PIN (cloud key).
    pub pin: Option<&'a str>,
    /// A PKCS#10 request (joint certificate kept on a device).
    pub csr: Option<&'a [u8]>,
    /// For reissuance: the certificate being replaced.
    pub replaces: Option<Uuid>,
}

/// What the last step returns.
#[derive(Debug, Clone, Serialize)]
pub struct Completed {
    /// The new certificate.
    pub certificate: crate::pki::CertificateView,
    /// A session for the new holder (cloud keys; device keys sign on the device).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<super::tokens::TokenPair>,
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

    async fn user_of(&self, row: &EnrolmentRow) -> Result<String, EnrolError> {
        row.user_id.clone().ok_or(EnrolError::NotFound)
    }

    /// Step 3c: a challenge from the customer's registered medium (a card: two fresh cells,
    /// never the pair asked last time; an OTP: nothing to show).
    pub async fn medium_challenge(
        &self,
        db: &DatabaseConnection,
        id: &str,
        kind: super::media::MediumKind,
    ) -> Result<MediumChallenge, EnrolError> {
        use super::{
            media,
            security_card::{Card, Challenge},
        };
        let row = self.load(db, id, Step::Medium).await?;
        let user = self.user_of(&row).await?;
        let medium = store::enrolment::medium_of_user(db, &user, kind.as_str())
            .await?
            .ok_or(EnrolError::MediumNotRegistered)?;
        if kind != media::MediumKind::Card {
            return Ok(MediumChallenge { kind, cells: None });
        }
        let secret = media::secret_of(self.kms.as_ref(), &medium, kind).await?;
        let card = Card::from_bytes(&secret).map_err(media::MediaError::from)?;
        let last = medium
            .challenge
            .as_deref()
            .or(medium.previous_challenge.as_deref())
            .and_then(|c| serde_json::from_str::<Challenge>(c).ok());
        let challenge = card
            .challenge(last.as_ref())
            .map_err(media::MediaError::from)?;
        let text = serde_json::to_string(&challenge).map_err(|e| StoreError::Corrupt {
            table: "security_media",
            problem: e.to_string(),
        })?;
        store::enrolment::set_challenge(db, &medium.id, &text).await?;
        self.audit(
            db,
            Action::EnrolmentMediumChallenged,
            id,
            json!({"kind": kind}),
        )
        .await?;
        Ok(MediumChallenge {
            kind,
            cells: Some(challenge),
        })
    }

    /// Step 3d: the medium's answer (four card digits, or a 6-digit OTP). Five wrong answers
    /// end the enrolment; a card challenge is single-use; an OTP step is used once, ever.
    pub async fn medium_answer(
        &self,
        db: &DatabaseConnection,
        id: &str,
        kind: super::media::MediumKind,
        answer: &str,
        device: Option<&str>,
    ) -> Result<EnrolmentView, EnrolError> {
        use super::{
            media, otp,
            security_card::{Card, Challenge},
        };
        let row = self.load(db, id, Step::Medium).await?;
        let user = self.user_of(&row).await?;
        let medium = store::enrolment::medium_of_user(db, &user, kind.as_str())
            .await?
            .ok_or(EnrolError::MediumNotRegistered)?;
        // A mobile OTP answers only from the device it is bound to.
        if kind == media::MediumKind::Motp && medium.device_id.as_deref() != device {
            self.audit(
                db,
                Action::EnrolmentMediumFailed,
                id,
                json!({"kind": kind, "reason": "another device"}),
            )
            .await?;
            return Err(EnrolError::WrongMediumAnswer);
        }
        if !store::enrolment::take_medium_attempt(db, id, 5).await? {
            return Err(EnrolError::MediumAttemptsExhausted);
        }
        let secret = media::secret_of(self.kms.as_ref(), &medium, kind).await?;
        let now = self.clock.now();
        let ok = match kind {
            media::MediumKind::Card => {
                let open = medium.challenge.as_deref().ok_or(EnrolError::NoChallenge)?;
                // Single use: whatever the answer, this challenge is spent.
                if !store::enrolment::take_challenge(db, &medium.id, open).await? {
                    return Err(EnrolError::NoChallenge);
                }
                let challenge: Challenge =
                    serde_json::from_str(open).map_err(|_| EnrolError::NoChallenge)?;
                Card::from_bytes(&secret)
                    .map_err(media::MediaError::from)?
                    .verify(&challenge, answer)
            }
            otp_kind => {
                let code = otp::parse_code(answer).ok_or(EnrolError::WrongMediumAnswer)?;
                let last = u64::try_from(medium.last_step).ok();
                let matched = match otp_kind {
                    media::MediumKind::Hotp => otp::verify_hotp(&secret, code, last, 10),
                    _ => otp::verify_totp(&secret, code, now, 1, last),
                };
                match matched {
                    Some(step) => {
                        let step =
                            i64::try_from(step).map_err(|_| EnrolError::WrongMediumAnswer)?;
                        if !store::enrolment::use_step(db, &medium.id, step).await? {
                            return Err(EnrolError::OtpReplayed);
                        }
                        true
                    }
                    None => {
                        // A code that matches an already-used step is a replay, not a typo.
                        let replay = match otp_kind {
                            // The last 20 counters used: a bounded look back, however old the token.
                            media::MediumKind::Hotp => otp::verify_hotp(
                                &secret,
                                code,
                                u64::try_from(medium.last_step - 20).ok(),
                                20.min(u64::try_from(medium.last_step + 1).unwrap_or(0)),
                            )
                            .is_some(),
                            _ => otp::verify_totp(&secret, code, now, 1, None).is_some(),
                        };
                        if replay {
                            self.audit(
                                db,
                                Action::EnrolmentMediumFailed,
                                id,
                                json!({"kind": kind, "reason": "replayed"}),
                            )
                            .await?;
                            return Err(EnrolError::OtpReplayed);
                        }
                        false
                    }
                }
            }
        };
        if !ok {
            self.audit(db, Action::EnrolmentMediumFailed, id, json!({"kind": kind}))
                .await?;
            return Err(EnrolError::WrongMediumAnswer);
        }
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !store::enrolment::advance(
            &txn,
            id,
            Step::Medium.as_str(),
            Step::Credential.as_str(),
            now,
        )
        .await?
        {
            return Err(StepError::WrongStep {
                requested: "medium",
                actual: "credential",
            }
            .into());
        }
        let event = NewEvent::new(Actor::User(user), Action::EnrolmentMediumVerified)
            .subject(id.to_owned())
            .details(json!({"kind": kind}));
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.get(db, id).await
    }

    /// Step 4: the credential and issuance (or reissuance). The PIN may not be trivial nor the
    /// holder's birth date. The step is claimed first, so it runs once; if issuance fails the
    /// claim is given back.
    pub async fn complete(
        &self,
        db: &DatabaseConnection,
        pki: &crate::pki::Pki,
        tokens: &super::tokens::TokenService,
        id: &str,
        choice: CredentialChoice<'_>,
    ) -> Result<Completed, EnrolError> {
        use crate::{
            custody::OwnerId,
            domain::pin::Pin,
            pki::{IssueRequest, KeySource, profile::HolderName},
        };
        let row = self.load(db, id, Step::Credential).await?;
        let user = self.user_of(&row).await?;
        let (name, birth) = store::enrolment::user_profile(db, &user)
            .await?
            .ok_or(EnrolError::NotFound)?;
        let birth = chrono::NaiveDate::parse_from_str(&birth, "%Y-%m-%d").ok();
        let pin = match choice.pin {
            Some(p) => Some(Pin::parse_new(p, birth)?),
            None => None,
        };
        let key = match (&pin, choice.csr) {
            (Some(pin), None) => KeySource::Cloud(pin),
            (None, Some(csr)) => KeySource::Device(csr),
            _ => {
                return Err(EnrolError::Credential(
                    "give a PIN (cloud key) or a CSR (device key), not both",
                ));
            }
        };
        let reissue = row.purpose == "reissue";
        if reissue != choice.replaces.is_some() {
            return Err(EnrolError::Credential(
                "a reissuance names the certificate it replaces; an issuance does not",
            ));
        }
        let owner = OwnerId::parse(&user).map_err(|_| EnrolError::NotFound)?;
        let holder = HolderName::parse(&name).map_err(crate::pki::PkiError::from)?;
        let now = self.clock.now();
        if !store::enrolment::advance(
            db,
            id,
            Step::Credential.as_str(),
            Step::Completed.as_str(),
            now,
        )
        .await?
        {
            return Err(StepError::WrongStep {
                requested: "credential",
                actual: "completed",
            }
            .into());
        }
        let issued = match choice.replaces {
            Some(old) => pki.reissue(db, &owner, old, key).await,
            None => {
                pki.issue(
                    db,
                    IssueRequest {
                        owner: owner.clone(),
                        holder,
                        kind: choice.kind,
                        usage: choice.usage,
                        key,
                    },
                )
                .await
            }
        };
        let certificate = match issued {
            Ok(c) => c,
            Err(e) => {
                let _ = store::enrolment::advance(
                    db,
                    id,
                    Step::Completed.as_str(),
                    Step::Credential.as_str(),
                    now,
                )
                .await;
                return Err(e.into());
            }
        };
        let session = if pin.is_some() {
            Some(tokens.new_session(db, &owner, "pin").await?)
        } else {
            None
        };
        let event = NewEvent::new(Actor::User(user), Action::EnrolmentCompleted)
            .subject(id.to_owned())
            .details(json!({"certificate": certificate.serial, "purpose": row.purpose}));
        store::audit::append(db, now, &[event]).await?;
        Ok(Completed {
            certificate,
            session,
        })
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
