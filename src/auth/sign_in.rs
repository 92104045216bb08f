//! Sign-in by choosing: a person identifies (name, birth date, mobile number), proves the phone
//! with a one-time code sent by SMS or ARS through the enrolment's message sender, then sees
//! their certificates and gets a *selection ticket* with which one of them is chosen and
//! opened with its PIN (or a passkey). See `login` for the last step.
//!
//! ```text
//!   identify ──► sign-in (20 min), code 1 made ──► verify code ──► ticket (5 min, single-use)
//!       │            │ resend: ≤ 5 codes          │ wrong: ≤ 5 tries per code, then expired
//!       │            ▼                            ▼
//!   unknown person: same row, same answer,    always "wrong code": nothing to list, no ticket
//!   a code made and sent to nobody
//! ```
//!
//! **No oracle.** Until the code is right, an unknown person's sign-in is indistinguishable
//! from a known one's: the same row is written, the same KMS MAC is computed, the same answer
//! (status, shape, masked number) is returned, and the code is delivered by a task that the
//! answer never waits for, so the partner's latency does not tell who exists. Verifying an
//! unknown person's code fails exactly as a wrong code does, even if it were guessed.
//!
//! Only a KMS MAC of each code is stored; the ticket is 256 random bits, stored as SHA-256,
//! bound to the users the identification named, and spent when a session is issued with it.

use std::sync::Arc;

use aws_lc_rs::{
    constant_time, digest,
    rand::{SecureRandom, SystemRandom},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::messaging::{Channel, MessageSender};
use crate::{
    audit::{Action, Actor, NewEvent},
    clock::SharedClock,
    custody::{OwnerId, kms::Kms, kms::KmsError},
    domain::person::Phone,
    pki::profile::HolderName,
    store::{self, StoreError, sign_ins::SignInRow},
};

/// How long a sign-in lives.
const SIGN_IN_TTL_MINUTES: i64 = 20;
/// How long a code lives.
const CODE_TTL_MINUTES: i64 = 3;
/// Tries per code.
const CODE_ATTEMPTS: i32 = 5;
/// Codes per sign-in.
const CODE_SENDS: i32 = 5;
/// How long a selection ticket lives.
pub const TICKET_TTL_MINUTES: i64 = 5;

/// Why a sign-in step failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// No sign-in with this id.
    #[error("no such sign-in")]
    NotFound,
    /// The sign-in expired.
    #[error("this sign-in has expired; start again")]
    Expired,
    /// The code is wrong (or the details named nobody).
    #[error("the code is wrong")]
    WrongCode,
    /// The code expired, was tried too often, or the code step is over.
    #[error("the code has expired or was used up")]
    CodeExpired,
    /// Every code this sign-in may have was made.
    #[error("too many codes for this sign-in")]
    TooManyCodes,
    /// The selection ticket is unknown, spent, expired, or not for that certificate.
    #[error("the selection ticket is not valid for this certificate")]
    TicketRefused,
    /// The random source failed.
    #[error("random source failed")]
    Random,
    /// KMS failed (the code's MAC).
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who the person says they are.
#[derive(Debug, Clone)]
pub struct Identification {
    /// Name.
    pub name: HolderName,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Mobile number.
    pub phone: Phone,
}

/// A sign-in waiting for its code (the same for known and unknown people).
#[derive(Debug, Clone)]
pub struct Pending {
    /// Id.
    pub id: Uuid,
    /// The number the code went to, masked.
    pub phone_masked: String,
    /// How it went.
    pub channel: Channel,
    /// Until when the code may be entered.
    pub code_expires_at: DateTime<Utc>,
    /// Until when the sign-in lives.
    pub expires_at: DateTime<Utc>,
}

/// The right code: whose certificates to list, and the ticket that chooses one.
#[derive(Debug)]
pub struct Verified {
    /// The users the identification named (never empty).
    pub owners: Vec<OwnerId>,
    /// The selection ticket (shown once; only its hash is kept).
    pub ticket: Zeroizing<String>,
    /// Until when it may be used.
    pub ticket_expires_at: DateTime<Utc>,
}

/// A ticket that may choose a certificate: spend it with [`SignIns::spend`] once a session
/// is issued.
#[derive(Debug, Clone)]
pub struct Redeemable {
    /// The sign-in it belongs to.
    pub sign_in_id: String,
}

fn code_message(sign_in: &str, code: &str) -> Vec<u8> {
    crate::custody::sealed::framed(&[
        b"fincert-sign-in-code-v1",
        sign_in.as_bytes(),
        code.as_bytes(),
    ])
}

fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// Runs sign-ins by choosing.
pub struct SignIns {
    sender: Arc<dyn MessageSender>,
    kms: Arc<dyn Kms>,
    clock: SharedClock,
}

impl SignIns {
    /// A service over the enrolment's message sender and KMS.
    pub fn new(sender: Arc<dyn MessageSender>, kms: Arc<dyn Kms>, clock: SharedClock) -> Self {
        Self { sender, kms, clock }
    }

    /// A fresh code and its MAC for `sign_in`.
    async fn new_code(
        &self,
        sign_in: &str,
    ) -> Result<(Zeroizing<String>, Zeroizing<Vec<u8>>), SignInError> {
        let mut n = [0u8; 4];
        SystemRandom::new()
            .fill(&mut n)
            .map_err(|_| SignInError::Random)?;
        let code = Zeroizing::new(format!("{:06}", u32::from_be_bytes(n) % 1_000_000));
        let mac = self.kms.mac(&code_message(sign_in, &code)).await?;
        Ok((code, mac))
    }

    /// Delivers `code` to the people the sign-in names, without making the caller wait (so the
    /// answer's timing does not depend on whether anyone was named). A failed delivery is
    /// logged; the person asks for another code.
    fn deliver(&self, row_owners: &[OwnerId], phone: &Phone, channel: Channel, code: &str) {
        if row_owners.is_empty() {
            return;
        }
        let body = Zeroizing::new(match channel {
            Channel::Sms => format!("[fincert] 로그인 인증번호 {code} (3분 안에 입력하세요)"),
            Channel::Ars => format!("fincert ARS sign-in: key in {code} when the call asks"),
        });
        let sender = self.sender.clone();
        let phone = phone.clone();
        tokio::spawn(async move {
            if let Err(e) = sender.send(&phone, channel, &body).await {
                tracing::warn!(error = %e, phone = %phone.masked(), "sign-in code not delivered");
            }
        });
    }

    async fn audit(
        &self,
        db: &DatabaseConnection,
        action: Action,
        sign_in: &str,
        details: serde_json::Value,
    ) -> Result<(), SignInError> {
        let event = NewEvent::new(Actor::System, action)
            .subject(sign_in.to_owned())
            .details(details);
        store::audit::append(db, self.clock.now(), &[event]).await?;
        Ok(())
    }

    /// Step 1: the person identifies; a code is made and sent by `channel` if the details name
    /// anyone. The answer is the same either way.
    pub async fn identify(
        &self,
        db: &DatabaseConnection,
        who: &Identification,
        channel: Channel,
    ) -> Result<Pending, SignInError> {
        let now = self.clock.now();
        let owners = store::sign_ins::users_named(
            db,
            who.name.as_str(),
            &who.birth_date.format("%Y-%m-%d").to_string(),
            &who.phone,
        )
        .await?;
        let id = Uuid::new_v4();
        let (code, mac) = self.new_code(&id.to_string()).await?;
        let code_expires_at = now + Duration::minutes(CODE_TTL_MINUTES);
        let expires_at = now + Duration::minutes(SIGN_IN_TTL_MINUTES);
        store::sign_ins::insert(
            db,
            &id.to_string(),
            &owners,
            &who.phone,
            &mac,
            code_expires_at,
            now,
            expires_at,
        )
        .await?;
        self.deliver(&owners, &who.phone, channel, &code);
        self.audit(
            db,
            Action::SignInIdentified,
            &id.to_string(),
            json!({"phone": who.phone.masked(), "channel": channel, "known": !owners.is_empty()}),
        )
        .await?;
        Ok(Pending {
            id,
            phone_masked: who.phone.masked(),
            channel,
            code_expires_at,
            expires_at,
        })
    }

    async fn load(&self, db: &DatabaseConnection, id: Uuid) -> Result<SignInRow, SignInError> {
        let row = store::sign_ins::get(db, &id.to_string())
            .await?
            .ok_or(SignInError::NotFound)?;
        if self.clock.now() >= row.expires_at {
            return Err(SignInError::Expired);
        }
        Ok(row)
    }

    /// Step 1 again: a new code replaces the old one (at most five per sign-in).
    pub async fn resend(
        &self,
        db: &DatabaseConnection,
        id: Uuid,
        channel: Channel,
    ) -> Result<Pending, SignInError> {
        let row = self.load(db, id).await?;
        let now = self.clock.now();
        let (code, mac) = self.new_code(&row.id).await?;
        let code_expires_at = now + Duration::minutes(CODE_TTL_MINUTES);
        if !store::sign_ins::set_code(db, &row.id, &mac, code_expires_at, CODE_SENDS).await? {
            return Err(if row.ticketed {
                SignInError::CodeExpired
            } else {
                SignInError::TooManyCodes
            });
        }
        self.deliver(&row.owners, &row.phone, channel, &code);
        self.audit(
            db,
            Action::SignInCodeSent,
            &row.id,
            json!({"channel": channel, "send": row.code_sends + 1}),
        )
        .await?;
        Ok(Pending {
            id,
            phone_masked: row.phone.masked(),
            channel,
            code_expires_at,
            expires_at: row.expires_at,
        })
    }

    /// Step 2: checks the code (five tries per code, three minutes). The right code for a
    /// known person ends the code step with a selection ticket; anything else fails alike.
    pub async fn verify(
        &self,
        db: &DatabaseConnection,
        id: Uuid,
        code: &str,
    ) -> Result<Verified, SignInError> {
        let row = self.load(db, id).await?;
        let now = self.clock.now();
        let (Some(stored), Some(expires), false) =
            (row.code_mac.as_ref(), row.code_expires_at, row.ticketed)
        else {
            return Err(SignInError::CodeExpired);
        };
        if now >= expires || !store::sign_ins::take_code_attempt(db, &row.id, CODE_ATTEMPTS).await?
        {
            store::sign_ins::clear_code(db, &row.id).await?;
            self.audit(
                db,
                Action::SignInCodeFailed,
                &row.id,
                json!({"reason": "expired"}),
            )
            .await?;
            return Err(SignInError::CodeExpired);
        }
        let mac = self.kms.mac(&code_message(&row.id, code)).await?;
        let right = constant_time::verify_slices_are_equal(&mac, stored).is_ok();
        if !right || row.owners.is_empty() {
            self.audit(
                db,
                Action::SignInCodeFailed,
                &row.id,
                json!({"reason": "wrong", "attempt": row.code_attempts + 1}),
            )
            .await?;
            return Err(SignInError::WrongCode);
        }
        let mut raw = [0u8; 32];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| SignInError::Random)?;
        let ticket = Zeroizing::new(format!("st_{}", B64URL.encode(raw)));
        let ticket_expires_at = now + Duration::minutes(TICKET_TTL_MINUTES);
        if !store::sign_ins::set_ticket(db, &row.id, &sha256(ticket.as_bytes()), ticket_expires_at)
            .await?
        {
            return Err(SignInError::CodeExpired);
        }
        self.audit(
            db,
            Action::SignInCodeVerified,
            &row.id,
            json!({"users": row.owners.len()}),
        )
        .await?;
        Ok(Verified {
            owners: row.owners,
            ticket,
            ticket_expires_at,
        })
    }

    /// Whether `ticket` may choose a certificate of `owner` (`None`: no such certificate):
    /// issued, unspent, unexpired, and naming that user. A refusal is audited.
    pub async fn redeemable(
        &self,
        db: &DatabaseConnection,
        ticket: &str,
        owner: Option<&OwnerId>,
    ) -> Result<Redeemable, SignInError> {
        let now = self.clock.now();
        let row = store::sign_ins::by_ticket(db, &sha256(ticket.as_bytes())).await?;
        let good = row.as_ref().filter(|r| {
            r.ticket_used_at.is_none()
                && r.ticket_expires_at.is_some_and(|t| now < t)
                && owner.is_some_and(|o| r.owners.contains(o))
        });
        match good {
            Some(r) => Ok(Redeemable {
                sign_in_id: r.id.clone(),
            }),
            None => {
                let subject = row.map_or_else(|| "unknown".to_owned(), |r| r.id);
                self.audit(db, Action::SignInTicketRefused, &subject, json!({}))
                    .await?;
                Err(SignInError::TicketRefused)
            }
        }
    }

    /// Spends a ticket (once, across every node); `TicketRefused` if another request spent it
    /// first.
    pub async fn spend(
        &self,
        db: &DatabaseConnection,
        ticket: &Redeemable,
    ) -> Result<(), SignInError> {
        if store::sign_ins::spend_ticket(db, &ticket.sign_in_id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(SignInError::TicketRefused)
        }
    }
}
