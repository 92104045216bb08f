//! `credentials/authorize`, `credentials/extendTransaction`, `signatures/signHash` and
//! `signatures/signDoc`: the SCAL 2 flow, where the PIN authorizes named hashes and the SAD
//! carries that authorization to the signature. For signDoc the authorized hashes are the
//! documents' SHA-256 (or the `documentDigests` the client computed), and what is signed is
//! a CAdES-B-B SignedData whose message-digest each of them is.

use actix_web::HttpRequest;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert_client::proto::csc::{Sad, SignDoc, Signatures};

use super::{
    CscResult, Version, open, open_signing,
    params::{
        AuthorizeRequest, ExtendRequest, Placement, SignDocRequest, SignHashRequest, invalid_pin,
    },
};
use crate::{
    custody::CustodyError,
    error::CscError,
    signing::{SigningError, cms, csc::SadProblem},
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

pub(super) async fn sign_doc(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> CscResult<SignDoc> {
    let (m, caller, credential_token) = open_signing(state, req, body).await?;
    let r = SignDocRequest::parse(&m, credential_token.is_some())?;
    let sad = credential_token
        .as_deref()
        .or(r.sad)
        .ok_or_else(|| CscError::bad("Missing (or invalid type) string parameter SAD"))?;
    let digests: Vec<_> = r.items.iter().map(|i| i.digest).collect();
    let (cms, validation_info) = match state
        .signing
        .csc_sign_doc(
            &state.db,
            &caller,
            r.credential_id,
            sad,
            &digests,
            r.algorithm,
            r.validation_info,
        )
        .await?
    {
        Ok(done) => done,
        Err(SadProblem::Exhausted) => return Err(CscError::bad("Invalid parameter SAD")),
        Err(p) => return Err(CscError::bad(p.description())),
    };
    let mut out = SignDoc {
        document_with_signature: Vec::new(),
        signature_object: Vec::new(),
        validation_info,
    };
    for (item, detached) in r.items.into_iter().zip(cms) {
        match item.placement {
            Placement::Detached => out.signature_object.push(STANDARD.encode(detached)),
            Placement::Attached(content) => {
                let attached = cms::attach(&detached, &content).map_err(SigningError::from)?;
                out.document_with_signature.push(STANDARD.encode(attached));
            }
        }
    }
    Ok(out)
}
