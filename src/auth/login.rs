//! Sign-in: the user picks a certificate and proves the PIN that opens its key; a session
//! (access + refresh token) follows. Unknown, foreign, device-held, revoked, suspended and
//! expired certificates fail exactly like a wrong PIN, so sign-in reveals nothing about them.
//! (Device-held certificates sign in by a signed challenge instead: `device`.)
//!
//! The portal picks the certificate by choosing (`sign_in`): its selection ticket comes with
//! the PIN or passkey, must list the chosen certificate's holder, is checked before the PIN is
//! tried (so a bad ticket costs no PIN attempt) and is spent by the session it makes. API
//! clients that know a certificate's id may still sign in with the id and PIN alone.

use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;

use super::tokens::{TokenError, TokenPair, TokenService};
use crate::{
    audit::{Action, Actor, NewEvent},
    clock::SharedClock,
    custody::{Custody, CustodyError},
    domain::pin::Pin,
    pki::lifecycle::CertStatus,
    store,
};

/// Why sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong PIN, or no usable certificate with that id.
    #[error("wrong PIN")]
    Failed,
    /// Wrong PIN for the holder who came through sign-in by choosing (their ticket lists the
    /// certificate): how many wrong PINs are left before the lock.
    #[error("wrong PIN")]
    WrongPinChosen {
        /// Wrong PINs left before the lock (0: this one locked it).
        tries_left: u32,
    },
    /// Custody refused or failed (PIN locked, KMS down).
    #[error(transparent)]
    Custody(CustodyError),
    /// Token issuing failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Passkey verification failed or its ceremony is spent.
    #[error(transparent)]
    Passkey(super::passkeys::PasskeyError),
    /// Device sign-in: the challenge is unknown, spent, expired, or not the one made for this
    /// certificate.
    #[error("this sign-in challenge is unknown, used or expired")]
    ChallengeSpent,
    /// Device sign-in: no active device-held certificate with that id, or the signature does
    /// not verify with its key.
    #[error("device sign-in failed")]
    DeviceFailed,
    /// The system random source failed.
    #[error("random source failed")]
    Random,
    /// Sign-in by choosing: the selection ticket was refused (or its store failed).
    #[error(transparent)]
    SignIn(#[from] super::sign_in::SignInError),
    /// Resumption by identity re-check: the certificate may not be resumed (not suspended,
    /// or its key is on a device), or the change failed.
    #[error(transparent)]
    Pki(crate::pki::PkiError),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// A selection ticket presented with a sign-in, and the service that checks and spends it.
#[derive(Clone, Copy)]
pub struct Ticket<'a> {
    /// Sign-ins by choosing.
    pub sign_ins: &'a super::sign_in::SignIns,
    /// The ticket as presented.
    pub ticket: &'a str,
}

/// Whether a refused PIN sign-in may tell the caller *why*: only a holder identified by a
/// valid selection ticket (sign-in by choosing proved who they are) learns that the PIN is
/// locked (and anything else about the key's PIN state). To anyone else an unknown, unusable
/// or locked certificate and a wrong PIN are one answer (`401 wrong_pin`) after the same
/// work. Every rule about what a refusal discloses goes through here.
pub fn holder_may_learn(ticket: Option<&super::sign_in::Redeemable>) -> bool {
    ticket.is_some()
}

/// Signs in with a certificate and its PIN.
///
/// No oracle: a certificate that is unknown, not active or without a cloud key is answered
/// after a decoy PIN check (the KMS Decrypt and MAC of a wrong PIN, `Custody::decoy_pin_check`)
/// and an audit row, as a wrong PIN is after its counter and audit row; a locked PIN is
/// answered the same way unless the caller is identified ([`holder_may_learn`]).
#[tracing::instrument(skip_all, fields(certificate = %certificate_id))]
pub async fn with_pin(
    db: &DatabaseConnection,
    custody: &Custody,
    tokens: &TokenService,
    clock: &SharedClock,
    certificate_id: Uuid,
    pin: &Pin,
    ticket: Option<Ticket<'_>>,
) -> Result<TokenPair, LoginError> {
    let now = clock.now();
    let cert = store::pki::certificate_by_id(db, &certificate_id.to_string()).await?;
    // A ticket is checked before anything about the certificate is revealed or tried.
    let redeem = match ticket {
        Some(t) => Some(
            t.sign_ins
                .redeemable(db, t.ticket, cert.as_ref().map(|c| &c.owner_id))
                .await?,
        ),
        None => None,
    };
    let identified = holder_may_learn(redeem.as_ref());
    let usable = cert.as_ref().and_then(|c| {
        let active = c.status.at(c.not_after, now) == CertStatus::Active;
        c.custody_key_id.filter(|_| active).map(|key| (c, key))
    });
    let Some((cert, key_id)) = usable else {
        let reason = match &cert {
            None => "unknown",
            Some(c) if c.custody_key_id.is_none() => "no_cloud_key",
            Some(_) => "not_active",
        };
        return Err(refuse_like_wrong_pin(db, custody, certificate_id, pin, reason).await);
    };
    let owner = cert.owner_id.clone();
    match custody.verify_pin(db, &owner, key_id, pin).await {
        Ok(()) => {}
        // Only the identified holder (a ticket that lists this certificate) is told how many
        // tries are left; the id-and-PIN form answers every refusal alike.
        Err(CustodyError::WrongPin {
            tries_left: Some(tries_left),
        }) if identified => return Err(LoginError::WrongPinChosen { tries_left }),
        Err(CustodyError::WrongPin { .. }) => return Err(LoginError::Failed),
        Err(CustodyError::PinLocked) if identified => {
            return Err(LoginError::Custody(CustodyError::PinLocked));
        }
        // Locked (already audited by custody): the decoy spends what a wrong PIN would.
        Err(CustodyError::PinLocked) => {
            return Err(match custody.decoy_pin_check(pin).await {
                Err(CustodyError::Kms(k)) => LoginError::Custody(CustodyError::Kms(k)),
                _ => LoginError::Failed,
            });
        }
        Err(CustodyError::KeyNotFound) => {
            return Err(refuse_like_wrong_pin(db, custody, certificate_id, pin, "no_key").await);
        }
        Err(other) => return Err(LoginError::Custody(other)),
    }
    if let (Some(t), Some(r)) = (ticket, &redeem) {
        t.sign_ins.spend(db, r).await?;
    }
    let pair = tokens.new_session(db, &owner, "pin").await?;
    let event = NewEvent::new(Actor::User(owner.as_str().into()), Action::LoggedIn)
        .subject(cert.serial_hex.clone())
        .details(json!({"amr": "pin", "chosen": redeem.is_some()}));
    store::audit::append(db, now, &[event]).await?;
    Ok(pair)
}

/// What a resumption by identity re-check is asked with.
#[derive(Clone, Copy)]
pub struct Resumption<'a> {
    /// The suspended certificate.
    pub certificate_id: Uuid,
    /// Its PIN.
    pub pin: &'a Pin,
    /// The selection ticket of sign-in by choosing.
    pub ticket: Ticket<'a>,
}

/// Resumes a suspended certificate without a session, by identity re-check: the person came
/// through sign-in by choosing (their selection ticket, which proved name, birth date, phone
/// and a phone code, lists the certificate's holder) and proves the certificate's PIN. The
/// ticket is spent, the certificate resumed (audited, CRL and OCSP told) and a session made,
/// in that order: a failure after the ticket is spent leaves the certificate suspended and
/// the person identifies again. The state is checked before the PIN is tried, so a
/// certificate that is not suspended (or keeps its key on a device) costs no PIN attempt.
#[tracing::instrument(skip_all, fields(certificate = %asked.certificate_id))]
pub async fn resume_with_pin(
    db: &DatabaseConnection,
    custody: &Custody,
    pki: &crate::pki::Pki,
    tokens: &TokenService,
    clock: &SharedClock,
    asked: Resumption<'_>,
) -> Result<TokenPair, LoginError> {
    let Resumption {
        certificate_id,
        pin,
        ticket,
    } = asked;
    let now = clock.now();
    let cert = store::pki::certificate_by_id(db, &certificate_id.to_string()).await?;
    let redeem = ticket
        .sign_ins
        .redeemable(db, ticket.ticket, cert.as_ref().map(|c| &c.owner_id))
        .await?;
    // The ticket listed the holder, so the certificate exists.
    let cert = cert.ok_or(LoginError::Failed)?;
    crate::pki::lifecycle::check_resume(cert.status, cert.not_after, now)
        .map_err(|e| LoginError::Pki(e.into()))?;
    let key_id = cert
        .custody_key_id
        .ok_or(LoginError::Pki(crate::pki::PkiError::KeySource(
            "this certificate's key is on the holder's device: resume it from a session there",
        )))?;
    let owner = cert.owner_id.clone();
    match custody.verify_pin(db, &owner, key_id, pin).await {
        Ok(()) => {}
        Err(CustodyError::WrongPin {
            tries_left: Some(tries_left),
        }) => return Err(LoginError::WrongPinChosen { tries_left }),
        Err(CustodyError::WrongPin { tries_left: None }) => return Err(LoginError::Failed),
        Err(other) => return Err(LoginError::Custody(other)),
    }
    ticket.sign_ins.spend(db, &redeem).await?;
    pki.resume(db, &owner, certificate_id)
        .await
        .map_err(LoginError::Pki)?;
    let pair = tokens.new_session(db, &owner, "pin").await?;
    let event = NewEvent::new(Actor::User(owner.as_str().into()), Action::LoggedIn)
        .subject(cert.serial_hex.clone())
        .details(json!({"amr": "pin", "chosen": true, "resumed": true}));
    store::audit::append(db, clock.now(), &[event]).await?;
    Ok(pair)
}

/// Refuses a PIN sign-in for a certificate that cannot sign in, after the decoy PIN check and
/// the decoy attempt (a wrong PIN costs the same: two KMS calls, the key's reads, one commit of
/// its counter and its audit row).
async fn refuse_like_wrong_pin(
    db: &DatabaseConnection,
    custody: &Custody,
    certificate_id: Uuid,
    pin: &Pin,
    reason: &str,
) -> LoginError {
    if let Err(CustodyError::Kms(k)) = custody.decoy_pin_check(pin).await {
        return LoginError::Custody(CustodyError::Kms(k));
    }
    let event = NewEvent::new(Actor::System, Action::PinSignInRefused)
        .subject(certificate_id.to_string())
        .details(json!({"reason": reason}));
    // The database work of a wrong PIN too (its reads, its counter write with the audit row).
    match custody.decoy_attempt(db, certificate_id, &[event]).await {
        Ok(()) => LoginError::Failed,
        Err(e) => LoginError::Custody(e),
    }
}

/// Signs in with a passkey: the ceremony started for the holder of a certificate (see
/// [`start_passkey`]) and the authenticator's answer.
pub async fn with_passkey(
    db: &DatabaseConnection,
    passkeys: &super::passkeys::Passkeys,
    tokens: &TokenService,
    clock: &SharedClock,
    ceremony: &str,
    credential: &webauthn_rs::prelude::PublicKeyCredential,
    ticket: Option<Ticket<'_>>,
) -> Result<TokenPair, LoginError> {
    let (owner, _cred) = passkeys
        .finish_authentication(db, ceremony, credential)
        .await
        .map_err(LoginError::Passkey)?;
    if let Some(t) = ticket {
        let redeem = t.sign_ins.redeemable(db, t.ticket, Some(&owner)).await?;
        t.sign_ins.spend(db, &redeem).await?;
    }
    let pair = tokens.new_session(db, &owner, "passkey").await?;
    let event = NewEvent::new(Actor::User(owner.as_str().into()), Action::LoggedIn)
        .details(json!({"amr": "passkey", "chosen": ticket.is_some()}));
    store::audit::append(db, clock.now(), &[event]).await?;
    Ok(pair)
}

/// Starts a passkey sign-in for the holder of an active certificate. Without a selection
/// ticket an unknown or inactive certificate, or a holder without passkeys, gets a decoy
/// ceremony (`Passkeys::start_decoy_authentication`) that fails at the end like a wrong
/// passkey; with a ticket, which already proved who the person is, a holder without passkeys
/// is told so (`no_passkey`) and an inactive certificate fails like a wrong PIN.
pub async fn start_passkey(
    db: &DatabaseConnection,
    passkeys: &super::passkeys::Passkeys,
    clock: &SharedClock,
    certificate_id: Uuid,
    ticket: Option<Ticket<'_>>,
) -> Result<super::passkeys::Ceremony<webauthn_rs::prelude::RequestChallengeResponse>, LoginError> {
    let now = clock.now();
    let cert = store::pki::certificate_by_id(db, &certificate_id.to_string()).await?;
    if let Some(t) = ticket {
        t.sign_ins
            .redeemable(db, t.ticket, cert.as_ref().map(|c| &c.owner_id))
            .await?;
    }
    let usable = cert
        .as_ref()
        .filter(|c| c.status.at(c.not_after, now) == CertStatus::Active);
    let started = match usable {
        Some(cert) => passkeys.start_authentication(db, &cert.owner_id).await,
        None => Err(super::passkeys::PasskeyError::NoPasskey),
    };
    match started {
        // Without a ticket nobody is identified: an unknown, inactive or passkey-less
        // certificate gets a ceremony like any other, which no authenticator can finish.
        Err(super::passkeys::PasskeyError::NoPasskey) if ticket.is_none() => passkeys
            .start_decoy_authentication(db, certificate_id)
            .await
            .map_err(LoginError::Passkey),
        // With a ticket the person is known already: saying "no passkey" reveals nothing.
        Err(super::passkeys::PasskeyError::NoPasskey) if usable.is_none() => {
            Err(LoginError::Failed)
        }
        other => other.map_err(LoginError::Passkey),
    }
}
