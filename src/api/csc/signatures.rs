//! `credentials/authorize`, `credentials/extendTransaction` and `signatures/signHash`: the
//! SCAL 2 flow, where the PIN authorizes named hashes and the SAD carries that authorization
//! to the signature.

use actix_web::HttpRequest;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert_client::proto::csc::{Sad, Signatures};

use super::{
    CscResult, Version, open, open_signing,
    params::{AuthorizeRequest, ExtendRequest, SignHashRequest, invalid_pin},
};
use crate::{
    custody::CustodyError,
    error::CscError,
    signing::{SigningError, csc::SadProblem},
    state::AppState,
};

pub(super) async fn authorize(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    version: Version,
) -> CscResult<Sad> {
    let (m, caller) = open(state, req, body).await?;
    let r = AuthorizeRequest::parse(&m, version, state.signing.max_batch())?;
    let (sad, expires_in) = state
        .signing
        .csc_authorize(
            &state.db,
            &caller,
            r.credential,
            r.num_signatures,
            &r.hashes,
            &r.pin,
        )
        .await
        .map_err(|e| match e {
            SigningError::Custody(CustodyError::WrongPin { .. }) => invalid_pin(version),
            other => other.into(),
        })?;
    Ok(Sad { sad, expires_in })
}

pub(super) async fn extend(state: &AppState, req: &HttpRequest, body: &[u8]) -> CscResult<Sad> {
    let (m, caller) = open(state, req, body).await?;
    let r = ExtendRequest::parse(&m)?;
    match state
        .signing
        .csc_extend(&state.db, &caller, r.credential_id, r.sad)
        .await?
    {
        Ok((sad, expires_in)) => Ok(Sad { sad, expires_in }),
        Err(p) => Err(CscError::bad(p.description())),
    }
}

pub(super) async fn sign_hash(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    version: Version,
) -> CscResult<Signatures> {
    let (m, caller, credential_token) = open_signing(state, req, body).await?;
    let r = SignHashRequest::parse(&m, version, credential_token.is_some())?;
    let sad = credential_token
        .as_deref()
        .or(r.sad)
        .ok_or_else(|| CscError::bad("Missing (or invalid type) string parameter SAD"))?;
    match state
        .signing
        .csc_sign_hash(
            &state.db,
            &caller,
            r.credential_id,
            sad,
            &r.hashes,
            r.algorithm,
            r.validation_info,
        )
        .await?
    {
        Ok((sigs, validation_info)) => Ok(Signatures {
            signatures: sigs.iter().map(|s| STANDARD.encode(s)).collect(),
            validation_info,
        }),
        Err(SadProblem::Exhausted) => Err(CscError::bad("Invalid parameter SAD")),
        Err(p) => Err(CscError::bad(p.description())),
    }
}
