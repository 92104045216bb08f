//! Sign-in: the user picks a certificate and proves the PIN that opens its key; a session
//! (access + refresh token) follows. Unknown, foreign, device-held, revoked, suspended and
//! expired certificates fail exactly like a wrong PIN, so sign-in reveals nothing about them.
//! (Device-held certificates sign in by a signed challenge instead: `device`.)

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
    /// Database failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// Signs in with a certificate and its PIN.
#[tracing::instrument(skip_all, fields(certificate = %certificate_id))]
pub async fn with_pin(
    db: &DatabaseConnection,
    custody: &Custody,
    tokens: &TokenService,
    clock: &SharedClock,
    certificate_id: Uuid,
    pin: &Pin,
) -> Result<TokenPair, LoginError> {
    let now = clock.now();
    let cert = store::pki::certificate_by_id(db, &certificate_id.to_string())
        .await?
        .ok_or(LoginError::Failed)?;
    let usable = cert.status.at(cert.not_after, now) == CertStatus::Active;
    let (Some(key_id), true) = (cert.custody_key_id, usable) else {
        return Err(LoginError::Failed);
    };
    let owner = cert.owner_id;
    custody
        .verify_pin(db, &owner, key_id, pin)
        .await
        .map_err(|e| match e {
            CustodyError::WrongPin => LoginError::Failed,
            other => LoginError::Custody(other),
        })?;
    let pair = tokens.new_session(db, &owner, "pin").await?;
    let event = NewEvent::new(Actor::User(owner.as_str().into()), Action::LoggedIn)
        .subject(cert.serial_hex)
        .details(json!({"amr": "pin"}));
    store::audit::append(db, now, &[event]).await?;
    Ok(pair)
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
) -> Result<TokenPair, LoginError> {
    let (owner, _cred) = passkeys
        .finish_authentication(db, ceremony, credential)
        .await
        .map_err(LoginError::Passkey)?;
    let pair = tokens.new_session(db, &owner, "passkey").await?;
    let event = NewEvent::new(Actor::User(owner.as_str().into()), Action::LoggedIn)
        .details(json!({"amr": "passkey"}));
    store::audit::append(db, clock.now(), &[event]).await?;
    Ok(pair)
}

/// Starts a passkey sign-in for the holder of an active certificate (unknown or inactive
/// certificates, and holders without passkeys, fail like a wrong PIN).
pub async fn start_passkey(
    db: &DatabaseConnection,
    passkeys: &super::passkeys::Passkeys,
    clock: &SharedClock,
    certificate_id: Uuid,
) -> Result<super::passkeys::Ceremony<webauthn_rs::prelude::RequestChallengeResponse>, LoginError> {
    let now = clock.now();
    let cert = store::pki::certificate_by_id(db, &certificate_id.to_string())
        .await?
        .ok_or(LoginError::Failed)?;
    if cert.status.at(cert.not_after, now) != CertStatus::Active {
        return Err(LoginError::Failed);
    }
    passkeys
        .start_authentication(db, &cert.owner_id)
        .await
        .map_err(|e| match e {
            super::passkeys::PasskeyError::NoPasskey => LoginError::Failed,
            other => LoginError::Passkey(other),
        })
}
