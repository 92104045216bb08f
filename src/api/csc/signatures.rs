//! `credentials/authorize`, `credentials/extendTransaction`, `signatures/signHash` and
//! `signatures/signDoc`: the SCAL 2 flow, where the PIN authorizes named hashes and the SAD
//! carries that authorization to the signature. For signDoc the authorized hashes are the
//! documents' SHA-256 (or the `documentDigests` the client computed), and what is signed is
//! a CAdES-B-B SignedData whose message-digest each of them is.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert_client::proto::csc::{ResponseId, Sad, SignDoc, Signatures};
use serde::Serialize;

use super::{
    CscResult, Version, open, open_signing,
    params::{
        Asynchronous, AuthorizeRequest, ExtendRequest, Placement, PollRequest, SignDocRequest,
        SignHashRequest, invalid_pin,
    },
};
use crate::{
    custody::CustodyError,
    error::{CscError, Kind, OAuthErrorCode},
    signing::{Caller, SigningError, cms, csc::SadProblem, csc_async::Polled},
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
    state: &web::Data<AppState>,
    req: &HttpRequest,
    body: &[u8],
    version: Version,
) -> CscResult<Answer<Signatures>> {
    let (m, caller, credential_token) = open_signing(state, req, body).await?;
    let allow_http = state.settings.signing.allow_http_webhooks;
    let mut r = SignHashRequest::parse(&m, version, credential_token.is_some(), allow_http)?;
    let sad = the_sad(credential_token, r.sad.take())?;
    match r.asynchronous.take() {
        None => signed_hashes(state, &caller, &r, &sad)
            .await
            .map(Answer::Now),
        Some(ask) => {
            let by = caller.clone();
            later(
                state,
                &caller,
                ask,
                async move |state: web::Data<AppState>| signed_hashes(&state, &by, &r, &sad).await,
            )
            .await
        }
    }
}

/// The SAD of a signing call: the credential token when it is the bearer, else the parameter.
fn the_sad(credential_token: Option<String>, parameter: Option<String>) -> CscResult<String> {
    credential_token
        .or(parameter)
        .ok_or_else(|| CscError::bad("Missing (or invalid type) string parameter SAD"))
}

async fn signed_hashes(
    state: &AppState,
    caller: &Caller,
    r: &SignHashRequest,
    sad: &str,
) -> CscResult<Signatures> {
    match state
        .signing
        .csc_sign_hash(
            &state.db,
            caller,
            &r.credential_id,
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
    state: &web::Data<AppState>,
    req: &HttpRequest,
    body: &[u8],
) -> CscResult<Answer<SignDoc>> {
    let (m, caller, credential_token) = open_signing(state, req, body).await?;
    let allow_http = state.settings.signing.allow_http_webhooks;
    let mut r = SignDocRequest::parse(&m, credential_token.is_some(), allow_http)?;
    let sad = the_sad(credential_token, r.sad.take())?;
    match r.asynchronous.take() {
        None => signed_documents(state, &caller, r, &sad)
            .await
            .map(Answer::Now),
        Some(ask) => {
            let by = caller.clone();
            later(
                state,
                &caller,
                ask,
                async move |state: web::Data<AppState>| {
                    signed_documents(&state, &by, r, &sad).await
                },
            )
            .await
        }
    }
}

async fn signed_documents(
    state: &AppState,
    caller: &Caller,
    r: SignDocRequest,
    sad: &str,
) -> CscResult<SignDoc> {
    let digests: Vec<_> = r.items.iter().map(|i| i.digest).collect();
    let (id, algorithm, material) = (&r.credential_id, r.algorithm, r.validation_info);
    let signed = if r.raw {
        // Raw: exactly signHash's signatures over the same authorized hashes.
        state
            .signing
            .csc_sign_hash(&state.db, caller, id, sad, &digests, algorithm, material)
            .await?
    } else {
        state
            .signing
            .csc_sign_doc(&state.db, caller, id, sad, &digests, algorithm, material)
            .await?
    };
    let (made, validation_info) = match signed {
        Ok(done) => done,
        Err(SadProblem::Exhausted) => return Err(CscError::bad("Invalid parameter SAD")),
        Err(p) => return Err(CscError::bad(p.description())),
    };
    let mut out = SignDoc {
        document_with_signature: Vec::new(),
        signature_object: Vec::new(),
        validation_info,
    };
    // Each output is a detached CMS (CAdES) or the raw signature (raw calls are all Detached).
    for (item, detached) in r.items.into_iter().zip(made) {
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

/// A signing method's answer: now (synchronous), or a `responseID` to poll (`operationMode:
/// "A"`).
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Answer<T> {
    Now(T),
    Later(ResponseId),
}

/// Answers an asynchronous call at once with its responseID, after recording it; `sign` runs
/// on this node's runtime, and its answer — the signatures or the CSC error, exactly as the
/// synchronous call would have rendered them — is stored for `signatures/signPolling` (and
/// posted to `response_uri`).
async fn later<T, F>(
    state: &web::Data<AppState>,
    caller: &Caller,
    ask: Asynchronous,
    sign: F,
) -> CscResult<Answer<T>>
where
    T: Serialize + 'static,
    F: AsyncFnOnce(web::Data<AppState>) -> CscResult<T> + 'static,
{
    let id = state
        .signing
        .csc_async_begin(&state.db, caller, ask.validity_ms)
        .await?;
    let state = state.clone();
    let institution = caller.institution.id.clone();
    let response_id = id.clone();
    actix_web::rt::spawn(async move {
        let (status, body) = match sign(state.clone()).await {
            Ok(v) => (200, serde_json::to_string(&v).unwrap_or_default()),
            Err(e) => {
                let resp = e.into_response();
                let status = resp.status().as_u16();
                let body = actix_web::body::to_bytes(resp.into_body())
                    .await
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                (status, body)
            }
        };
        if let Err(e) = state
            .signing
            .csc_async_finish(
                &state.db,
                &institution,
                &response_id,
                status,
                &body,
                ask.response_uri.as_deref(),
            )
            .await
        {
            tracing::warn!(error = %e, response = %response_id, "asynchronous CSC answer not stored");
        }
    });
    Ok(Answer::Later(ResponseId { response_id: id }))
}

/// `signatures/signPolling`: an asynchronous call's answer, as it was made (status and body);
/// `503` with `Retry-After` while it is being made. The institution's access token or a
/// credential token of its own fetches it.
pub(super) async fn poll(state: &AppState, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let polled = async {
        // The bearer may be the credential token the call was made with.
        let (m, caller, _) = open_signing(state, req, body).await?;
        let r = PollRequest::parse(&m)?;
        state
            .signing
            .csc_async_poll(&state.db, &caller, r.response_id)
            .await
            .map_err(CscError::from)
    };
    match polled.await {
        Ok(Some(Polled::Answer { status, body })) => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                .content_type("application/json")
                .body(body)
        }
        Ok(Some(Polled::Pending)) => CscError::new(
            Kind::Unavailable,
            OAuthErrorCode::TemporarilyUnavailable,
            "The signature creation is still in progress",
        )
        .into_response(),
        Ok(Some(Polled::Orphaned)) => {
            CscError::bad("The signature creation did not complete; sign again with the SAD")
                .into_response()
        }
        Ok(None) => CscError::bad("Invalid parameter responseID").into_response(),
        Err(e) => e.into_response(),
    }
}
