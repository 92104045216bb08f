//! `credentials/authorize`, `credentials/extendTransaction` and `signatures/signHash`: the
//! SCAL 2 flow, where the PIN authorizes named hashes and the SAD carries that authorization
//! to the signature.

use actix_web::HttpRequest;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert_client::proto::csc::{Sad, Signatures};
use serde_json::Value;

use super::{
    CscResult, Version, open,
    params::{SHA256, boolean, hashes, opt_string, sign_algorithm, string},
};
use crate::{
    custody::CustodyError,
    domain::pin::Pin,
    error::{CscError, Kind, OAuthErrorCode},
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
    let id = string(&m, "credentialID")?;
    let credential =
        uuid::Uuid::parse_str(id).map_err(|_| CscError::bad("Invalid parameter credentialID"))?;
    let num = m
        .get("numSignatures")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            CscError::bad("Missing (or invalid type) integer parameter numSignatures")
        })?;
    if num < 1 {
        return Err(CscError::bad("Invalid value for parameter numSignatures"));
    }
    if num > i64::from(state.signing.max_batch()) {
        return Err(CscError::bad("Numbers of signatures is too high"));
    }
    let (hash_field, pin) = match version {
        Version::V1 => ("hash", opt_string(&m, "PIN")?.map(str::to_owned)),
        Version::V2 => {
            if let Some(h) = opt_string(&m, "hashAlgorithmOID")?
                && h != SHA256
            {
                return Err(CscError::bad("Invalid parameter hashAlgorithmOID"));
            }
            let pin = m
                .get("authData")
                .and_then(Value::as_array)
                .and_then(|items| {
                    items
                        .iter()
                        .find(|o| o.get("id").and_then(Value::as_str) == Some("PIN"))
                })
                .and_then(|o| o.get("value").and_then(Value::as_str))
                .map(str::to_owned);
            ("hashes", pin)
        }
    };
    // SCAL 2: the hashes are required and bound to the SAD.
    let hashes = hashes(&m, hash_field)?;
    if hashes
        .iter()
        .enumerate()
        .any(|(i, h)| hashes[..i].contains(h))
    {
        // Each authorized hash signs once: a hash named twice cannot be authorized twice.
        return Err(CscError::bad(format!(
            "Invalid parameter {hash_field}: a hash appears more than once"
        )));
    }
    if hashes.len() as i64 != num {
        return Err(CscError::bad("Invalid value for parameter numSignatures"));
    }
    let invalid_pin = || match version {
        Version::V1 => CscError::bad("The PIN is invalid"),
        Version::V2 => CscError::new(
            Kind::BadRequest,
            OAuthErrorCode::InvalidAuthenticationData,
            "The authentication data is invalid",
        ),
    };
    let pin = pin.ok_or_else(|| match version {
        Version::V1 => CscError::bad("Missing (or invalid type) string parameter PIN"),
        Version::V2 => invalid_pin(),
    })?;
    let pin = zeroize::Zeroizing::new(pin);
    let pin = Pin::parse(&pin).map_err(|_| invalid_pin())?;
    let (sad, expires_in) = state
        .signing
        .csc_authorize(&state.db, &caller, credential, num as u32, &hashes, &pin)
        .await
        .map_err(|e| match e {
            SigningError::Custody(CustodyError::WrongPin { .. }) => invalid_pin(),
            other => other.into(),
        })?;
    Ok(Sad { sad, expires_in })
}

pub(super) async fn extend(state: &AppState, req: &HttpRequest, body: &[u8]) -> CscResult<Sad> {
    let (m, caller) = open(state, req, body).await?;
    let id = string(&m, "credentialID")?;
    let sad = string(&m, "SAD")?;
    match state
        .signing
        .csc_extend(&state.db, &caller, id, sad)
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
    let (m, caller) = open(state, req, body).await?;
    let id = string(&m, "credentialID")?;
    let sad = string(&m, "SAD")?;
    let hashes = hashes(
        &m,
        if version == Version::V1 {
            "hash"
        } else {
            "hashes"
        },
    )?;
    let algorithm = sign_algorithm(&m, version)?;
    // 2.0.0.2 names `returnValidationInfo` / `validationInfo` for signDoc; signHash takes the
    // same flag and answers the same object (1.0.4.0 has no equivalent).
    let material = version == Version::V2 && boolean(&m, "returnValidationInfo")?;
    match state
        .signing
        .csc_sign_hash(&state.db, &caller, id, sad, &hashes, algorithm, material)
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
