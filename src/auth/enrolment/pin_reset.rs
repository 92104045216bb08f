//! The last step of a PIN reset (an enrolment of purpose `pin_reset`, which starts at the
//! identity step and shares steps 2–3 with issuance): the holder names the certificate, a
//! passkey bound to its key proves possession (a WebAuthn ceremony whose challenge commits to
//! this enrolment and certificate), and the new PIN replaces the old one.
//!
//! ```text
//!   identity ──► phone ──► medium ──► credential ──pin-reset/passkey──► (ceremony) ──pin-reset──► completed
//!                                        │ no passkey bound to the key
//!                                        └──► 409 reissuance_required (audited; the enrolment stays, a
//!                                             reissuance is a new enrolment)
//! ```
//!
//! The new PIN is checked before the ceremony is spent (a weak PIN does not cost the holder a
//! passkey touch); the step is claimed after the assertion verifies, and given back if custody
//! fails, so a KMS outage leaves the enrolment where it was.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;
use webauthn_rs::prelude::{PublicKeyCredential, RequestChallengeResponse};

use super::{EnrolError, Enrolments, Purpose, Step, StepError};
use crate::{
    audit::{Action, Actor, NewEvent},
    auth::{
        passkeys::{Ceremony, PasskeyError, Passkeys},
        pin::Pins,
    },
    custody::{OwnerId, kms::KmsError, sealed::framed},
    pki::Pki,
    store::{self, enrolment::EnrolmentRow},
};

/// The ceremony kind of a PIN reset's passkey.
const CEREMONY: &str = "pin_reset";

/// The WebAuthn challenge of a PIN reset: it commits to the binding (enrolment, certificate
/// and a fresh nonce), so an assertion made for one reset does not serve another.
fn challenge(binding: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &framed(&[b"fincert-pin-reset-v1", binding.as_bytes()]),
    );
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The certificate a binding names, if the binding belongs to enrolment `id`.
fn certificate_of(binding: &str, id: &str) -> Option<Uuid> {
    let mut parts = binding.split(':');
    let (enrolment, cert, nonce) = (parts.next()?, parts.next()?, parts.next()?);
    if enrolment != id || nonce.len() != 32 || parts.next().is_some() {
        return None;
    }
    Uuid::parse_str(cert).ok()
}

/// What a PIN reset's last step returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinResetDone {
    /// The certificate whose PIN was reset.
    pub certificate_id: Uuid,
}

impl Enrolments {
    /// The enrolment `id` at its last step, if it is a PIN reset; and its holder.
    async fn reset_at_last_step(
        &self,
        db: &DatabaseConnection,
        id: &str,
    ) -> Result<(EnrolmentRow, OwnerId), EnrolError> {
        let row = self.load(db, id, Step::Credential).await?;
        if row.purpose != Purpose::PinReset {
            return Err(EnrolError::Credential(
                "this enrolment is not a PIN reset; it ends with POST /v1/enrolments/{id}/complete",
            ));
        }
        let owner = self.user_of(&row).await?;
        Ok((row, owner))
    }

    /// Step 4a of a PIN reset: a passkey ceremony for `certificate`, offering only the
    /// passkeys bound to its key. Without one the answer is `ReissuanceRequired` (with the
    /// general-purpose fee), audited.
    pub async fn pin_reset_challenge(
        &self,
        db: &DatabaseConnection,
        pki: &Pki,
        pins: &Pins,
        passkeys: &Passkeys,
        id: &str,
        certificate: Uuid,
    ) -> Result<Ceremony<RequestChallengeResponse>, EnrolError> {
        let (_, owner) = self.reset_at_last_step(db, id).await?;
        let (_, key) = pins.key_of(db, pki, &owner, certificate).await?;
        let mut nonce = [0u8; 16];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| KmsError::Unavailable("random source failed".into()))?;
        let hex: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let binding = format!("{id}:{certificate}:{hex}");
        let actor = Actor::User(owner.as_str().to_owned());
        let started = passkeys
            .start_bound_authentication(db, &owner, key, CEREMONY, &binding, challenge(&binding))
            .await;
        let ceremony = match started {
            Ok(c) => c,
            Err(PasskeyError::NoPasskey) => {
                let event = NewEvent::new(actor, Action::PinResetRefused)
                    .subject(id.to_owned())
                    .details(json!({"certificate": certificate, "reason": "no passkey bound"}));
                store::audit::append(db, self.clock.now(), &[event]).await?;
                return Err(EnrolError::ReissuanceRequired {
                    fee_krw: pki.general_purpose_fee_krw(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let event = NewEvent::new(actor, Action::PinResetChallenged)
            .subject(id.to_owned())
            .details(json!({"certificate": certificate}));
        store::audit::append(db, self.clock.now(), &[event]).await?;
        Ok(ceremony)
    }

    /// Step 4b of a PIN reset: the bound passkey's assertion and the new PIN. The PIN slot is
    /// made anew and the lock counter cleared (`custody`), the holder told by SMS.
    #[allow(clippy::too_many_arguments)]
    pub async fn reset_pin(
        &self,
        db: &DatabaseConnection,
        pki: &Pki,
        pins: &Pins,
        passkeys: &Passkeys,
        id: &str,
        ceremony: &str,
        credential: &PublicKeyCredential,
        prf: Option<&str>,
        new_pin: &str,
    ) -> Result<PinResetDone, EnrolError> {
        let (_, owner) = self.reset_at_last_step(db, id).await?;
        let new = pins.parse_new(db, &owner, new_pin).await?;
        let mut named = None;
        let (user, credential_id, prf) = passkeys
            .finish_bound_authentication(
                db,
                ceremony,
                CEREMONY,
                |binding| {
                    named = certificate_of(binding, id);
                    named.map(|_| challenge(binding))
                },
                credential,
                prf,
            )
            .await?;
        let certificate = named.ok_or(PasskeyError::Ceremony)?;
        if user != owner {
            return Err(PasskeyError::Ceremony.into());
        }
        let (_, key) = pins.key_of(db, pki, &owner, certificate).await?;
        let now = self.clock.now();
        if !store::enrolment::advance(db, id, Step::Credential, Step::Completed, now).await? {
            return Err(StepError::WrongStep {
                requested: "credential",
                actual: "completed",
            }
            .into());
        }
        if let Err(e) = pins
            .reset(db, &owner, key, &credential_id, prf.as_ref(), &new)
            .await
        {
            let _ = store::enrolment::advance(db, id, Step::Completed, Step::Credential, now).await;
            return Err(e.into());
        }
        let event = NewEvent::new(
            Actor::User(owner.as_str().into()),
            Action::PinResetCompleted,
        )
        .subject(id.to_owned())
        .details(json!({"certificate": certificate}));
        store::audit::append(db, self.clock.now(), &[event]).await?;
        Ok(PinResetDone {
            certificate_id: certificate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_names_its_own_enrolment_only() {
        let cert = Uuid::new_v4();
        let nonce = "0123456789abcdef0123456789abcdef";
        let b = format!("e1:{cert}:{nonce}");
        assert_eq!(certificate_of(&b, "e1"), Some(cert));
        assert_eq!(certificate_of(&b, "e2"), None);
        assert_eq!(certificate_of(&format!("e1:{cert}"), "e1"), None);
        assert_eq!(certificate_of(&format!("{b}:x"), "e1"), None);
        assert_ne!(
            challenge(&b),
            challenge(&format!("e1:{cert}:{}", "f".repeat(32)))
        );
    }
}
