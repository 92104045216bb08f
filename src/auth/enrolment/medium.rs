//! Step 3c–3d, medium: a challenge from the customer's registered security medium (card
//! cells; nothing for an OTP) and the medium's answer. Five wrong answers end the enrolment; a
//! card challenge is single-use; an OTP step is used once, ever; a mobile OTP answers only
//! from its bound device.

use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::{EnrolError, EnrolmentView, Enrolments, Step, StepError};
use crate::{
    audit::{Action, Actor, NewEvent},
    auth::{
        media, otp,
        security_card::{Card, Challenge},
    },
    store::{self, StoreError},
};

/// A security-medium challenge as the API shows it (written as
/// `proto::enrolment::MediumChallenge`).
#[derive(Debug, Clone)]
pub struct MediumChallenge {
    /// The medium.
    pub kind: media::MediumKind,
    /// For a card: the two cells and which half of each to type.
    pub cells: Option<crate::auth::security_card::Challenge>,
}

impl Enrolments {
    /// Step 3c, first: which media the customer holds, so that only those are offered (a
    /// customer with only an OTP is never asked for card cells).
    pub async fn registered_media(
        &self,
        db: &DatabaseConnection,
        id: &str,
    ) -> Result<Vec<media::MediumKind>, EnrolError> {
        let row = self.load(db, id, Step::Medium).await?;
        let user = self.user_of(&row).await?;
        Ok(store::enrolment::media_kinds_of_user(db, user.as_str()).await?)
    }

    /// Step 3c: a challenge from the customer's registered medium (a card: two fresh cells,
    /// never the pair asked last time; an OTP: nothing to show).
    pub async fn medium_challenge(
        &self,
        db: &DatabaseConnection,
        id: &str,
        kind: media::MediumKind,
    ) -> Result<MediumChallenge, EnrolError> {
        let row = self.load(db, id, Step::Medium).await?;
        let user = self.user_of(&row).await?;
        let medium = store::enrolment::medium_of_user(db, user.as_str(), kind)
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
        let text = serde_json::to_string(&challenge)
            .map_err(|e| store::columns::corrupt("security_media", "challenge", e.to_string()))?;
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
        kind: media::MediumKind,
        answer: &str,
        device: Option<&str>,
    ) -> Result<EnrolmentView, EnrolError> {
        let row = self.load(db, id, Step::Medium).await?;
        let user = self.user_of(&row).await?;
        let medium = store::enrolment::medium_of_user(db, user.as_str(), kind)
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
        if !store::enrolment::advance(&txn, id, Step::Medium, Step::Credential, now).await? {
            return Err(StepError::WrongStep {
                requested: "medium",
                actual: "credential",
            }
            .into());
        }
        let event = NewEvent::new(
            Actor::User(user.as_str().to_owned()),
            Action::EnrolmentMediumVerified,
        )
        .subject(id.to_owned())
        .details(json!({"kind": kind}));
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.get(db, id).await
    }
}
