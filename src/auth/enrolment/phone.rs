//! Step 3a–3b, phone: a fresh 6-digit code goes to the verified number by SMS or ARS, and the
//! applicant types it back. Only a KMS MAC of the code is ever stored; a code lives 3 minutes,
//! allows 5 tries and is single-use; an enrolment gets at most 5 codes.

use aws_lc_rs::{
    constant_time,
    rand::{SecureRandom, SystemRandom},
};
use chrono::Duration;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::{EnrolError, EnrolmentView, Enrolments, Step, StepError};
use crate::{
    audit::{Action, Actor, NewEvent},
    auth::messaging::Channel,
    custody::kms::KmsError,
    store::{self, StoreError},
};

/// How long a phone code lives.
const CODE_TTL_MINUTES: i64 = 3;
/// Wrong codes allowed per code.
const CODE_ATTEMPTS: i32 = 5;
/// Codes sent per enrolment.
const CODE_SENDS: i32 = 5;

fn code_message(enrolment: &str, code: &str) -> Vec<u8> {
    crate::custody::sealed::framed(&[
        b"fincert-phone-code-v1",
        enrolment.as_bytes(),
        code.as_bytes(),
    ])
}

impl Enrolments {
    /// Step 3a: sends a fresh 6-digit code (SMS or ARS) to the verified number. Only a KMS MAC
    /// of the code is stored; a new code replaces the old one.
    pub async fn send_code(
        &self,
        db: &DatabaseConnection,
        id: &str,
        channel: Channel,
    ) -> Result<EnrolmentView, EnrolError> {
        let row = self.load(db, id, Step::Phone).await?;
        let phone = row.phone.clone().ok_or(EnrolError::NotFound)?;
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
        if !store::enrolment::advance(&txn, id, Step::Phone, Step::Medium, now).await? {
            return Err(StepError::WrongStep {
                requested: "phone",
                actual: "medium",
            }
            .into());
        }
        store::enrolment::clear_code(&txn, id).await?;
        let event =
            NewEvent::new(Actor::System, Action::EnrolmentPhoneVerified).subject(id.to_owned());
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.get(db, id).await
    }
}
