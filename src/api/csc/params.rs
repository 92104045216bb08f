//! Reading CSC request bodies: loosely typed JSON objects whose errors CSC words as
//! `Missing (or invalid type) string parameter X` / `Invalid parameter X`; the algorithm
//! object identifiers the service speaks.

use actix_web::{HttpRequest, http::header};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::{Map, Value};

use super::Version;
use crate::{
    error::CscError,
    signing::request::{Algorithm, Digest},
};

/// The body as a JSON object (an empty body counts as `{}`).
pub(super) fn body_object(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, CscError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(CscError::bad("Content-Type must be application/json"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(CscError::bad("The request body is not a JSON object")),
    }
}

pub(super) fn string<'a>(m: &'a Map<String, Value>, name: &str) -> Result<&'a str, CscError> {
    m.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| CscError::bad(format!("Missing (or invalid type) string parameter {name}")))
}

pub(super) fn opt_string<'a>(
    m: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, CscError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(CscError::bad(format!(
            "Missing (or invalid type) string parameter {name}"
        ))),
    }
}

pub(super) fn boolean(m: &Map<String, Value>, name: &str) -> Result<bool, CscError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(CscError::bad(format!("Invalid parameter {name}"))),
    }
}

pub(super) fn hashes(m: &Map<String, Value>, name: &str) -> Result<Vec<Digest>, CscError> {
    let items = m.get(name).and_then(Value::as_array).ok_or_else(|| {
        CscError::bad(format!("Missing (or invalid type) array parameter {name}"))
    })?;
    if items.is_empty() {
        return Err(CscError::bad("Empty hash array"));
    }
    items
        .iter()
        .map(|v| {
            let bytes = v
                .as_str()
                .and_then(|s| STANDARD.decode(s).ok())
                .ok_or_else(|| CscError::bad("Invalid Base64 hash string parameter"))?;
            Digest::from_slice(&bytes).map_err(|_| CscError::bad("Invalid digest value length"))
        })
        .collect()
}

pub(super) const SHA256: &str = "2.16.840.1.101.3.4.2.1";
pub(super) const RSA: &str = "1.2.840.113549.1.1.1";
pub(super) const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
pub(super) const RSA_PSS: &str = "1.2.840.113549.1.1.10";
pub(super) const EC_KEY: &str = "1.2.840.10045.2.1";
pub(super) const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
pub(super) const P256: &str = "1.2.840.10045.3.1.7";

/// The signature algorithm a signHash names, with its hash and parameters.
pub(super) fn sign_algorithm(
    m: &Map<String, Value>,
    version: Version,
) -> Result<Algorithm, CscError> {
    let hash_field = match version {
        Version::V1 => "hashAlgo",
        Version::V2 => "hashAlgorithmOID",
    };
    let sign_algo = string(m, "signAlgo")?;
    let hash_algo = opt_string(m, hash_field)?;
    if let Some(h) = hash_algo
        && h != SHA256
    {
        return Err(CscError::bad(format!("Invalid parameter {hash_field}")));
    }
    let need_hash = || {
        hash_algo.ok_or_else(|| {
            CscError::bad(format!(
                "Missing (or invalid type) string parameter {hash_field}"
            ))
        })
    };
    match sign_algo {
        RSA => need_hash().map(|_| Algorithm::RsaPkcs1Sha256),
        RSA_SHA256 => Ok(Algorithm::RsaPkcs1Sha256),
        EC_KEY => need_hash().map(|_| Algorithm::EcdsaP256Sha256),
        ECDSA_SHA256 => Ok(Algorithm::EcdsaP256Sha256),
        RSA_PSS => {
            let params = string(m, "signAlgoParams")?;
            let der = STANDARD
                .decode(params)
                .map_err(|_| CscError::bad("Invalid parameter signAlgoParams"))?;
            if crate::signing::cms::is_supported_pss(&der) {
                Ok(Algorithm::RsaPssSha256)
            } else {
                Err(CscError::bad("Invalid parameter signAlgoParams"))
            }
        }
        _ => Err(CscError::bad("Invalid parameter signAlgo")),
    }
}
