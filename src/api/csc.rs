//! The Cloud Signature Consortium API, v1 (1.0.4.0) under `/csc/v1` and v2 (2.0.0.2) under
//! `/csc/v2`: every method is a POST with a JSON body, errors are `{error, error_description}`
//! with the status codes and descriptions the specification gives (rendered by
//! `error::CscError`), so standard CSC clients
//! (PDF signing tools) work unchanged. The routes parse the wire format and call the same
//! domain functions as the native API (`signing::csc`).

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::oauth;
use crate::{
    auth::tokens::{Audience, TokenError},
    custody::{CustodyError, keys::KeyAlgorithm},
    domain::pin::Pin,
    error::{CscError, Kind, OAuthError},
    pki::lifecycle::CertStatus,
    signing::{
        Caller, SigningError,
        csc::SadProblem,
        request::{Algorithm, Digest},
    },
    state::AppState,
};

/// Which version of the API a route serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// 1.0.4.0.
    V1,
    /// 2.0.0.2.
    V2,
}

type CscResult = Result<Value, CscError>;

/// The body as a JSON object (an empty body counts as `{}`).
fn body_object(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, CscError> {
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

fn string<'a>(m: &'a Map<String, Value>, name: &str) -> Result<&'a str, CscError> {
    m.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| CscError::bad(format!("Missing (or invalid type) string parameter {name}")))
}

fn opt_string<'a>(m: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, CscError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(CscError::bad(format!(
            "Missing (or invalid type) string parameter {name}"
        ))),
    }
}

fn boolean(m: &Map<String, Value>, name: &str) -> Result<bool, CscError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(CscError::bad(format!("Invalid parameter {name}"))),
    }
}

fn hashes(m: &Map<String, Value>, name: &str) -> Result<Vec<Digest>, CscError> {
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

const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const RSA: &str = "1.2.840.113549.1.1.1";
const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const RSA_PSS: &str = "1.2.840.113549.1.1.10";
const EC_KEY: &str = "1.2.840.10045.2.1";
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const P256: &str = "1.2.840.10045.3.1.7";

/// The signature algorithm a signHash names, with its hash and parameters.
fn sign_algorithm(m: &Map<String, Value>, version: Version) -> Result<Algorithm, CscError> {
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

/// The institution behind the bearer token, or the CSC 401.
async fn caller(state: &AppState, req: &HttpRequest) -> Result<Caller, CscError> {
    let unauthorized = || {
        CscError::new(
            Kind::Unauthorized,
            "invalid_token",
            "The access token is not valid",
        )
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauthorized)?;
    let token = token
        .strip_prefix("Bearer ")
        .ok_or_else(|| CscError::bad("Malformed authorization header"))?;
    let claims = state
        .tokens
        .verify_for(token, Audience::Institution)
        .map_err(|_: TokenError| unauthorized())?;
    state
        .signing
        .caller(&claims.sub, &claims.scope)
        .await
        .map_err(|e| match e {
            // An outage is not a bad token: the client should retry, not re-authenticate.
            e @ SigningError::Store(_) => CscError::from(e),
            _ => unauthorized(),
        })
}

fn respond(result: CscResult) -> HttpResponse {
    match result {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(e) => e.into_response(),
    }
}

/// `POST /csc/v{1,2}/info`.
pub async fn info(state: &AppState, version: Version) -> HttpResponse {
    let base = state.settings.pki.public_base_url.trim_end_matches('/');
    let (specs, path) = match version {
        Version::V1 => ("1.0.4.0", "v1"),
        Version::V2 => ("2.0.0.2", "v2"),
    };
    let mut v = json!({
        "specs": specs,
        "name": "fincert",
        "logo": format!("{base}/pki/ca/root"),
        "region": "KR",
        "lang": "ko-KR",
        "description": "Cloud keystore for Korean financial certificates",
        "authType": ["oauth2client"],
        "oauth2": format!("{base}/csc/{path}/"),
        "methods": ["oauth2/token", "credentials/list", "credentials/info", "credentials/authorize", "credentials/extendTransaction", "signatures/signHash"],
    });
    if version == Version::V2 {
        v["signAlgorithms"] = json!({"algos": [RSA, RSA_SHA256, RSA_PSS, ECDSA_SHA256]});
        v["signature_formats"] = json!({"formats": [], "envelope_properties": []});
        v["conformance_levels"] = json!([]);
    }
    HttpResponse::Ok().json(v)
}

fn generalized(t: DateTime<Utc>) -> String {
    t.format("%Y%m%d%H%M%SZ").to_string()
}

/// The credentials/info object of one credential.
async fn credential_info(
    state: &AppState,
    caller: &Caller,
    m: &Map<String, Value>,
    credential_id: &str,
    version: Version,
) -> CscResult {
    let certificates = opt_string(m, "certificates")?.unwrap_or("single");
    if !matches!(certificates, "none" | "single" | "chain") {
        return Err(CscError::bad("Invalid parameter certificates"));
    }
    let cert_info = boolean(m, "certInfo")?;
    let (row, algorithm, locked) = state
        .signing
        .csc_credential(&state.db, caller, credential_id)
        .await?;
    let now = state.clock.now();
    let status = CertStatus::parse(&row.status)
        .unwrap_or(CertStatus::Revoked)
        .at(row.not_after, now);
    let key = match algorithm {
        KeyAlgorithm::Rsa2048 => {
            json!({"status": if locked {"disabled"} else {"enabled"}, "algo": [RSA, RSA_SHA256, RSA_PSS], "len": 2048})
        }
        KeyAlgorithm::P256 => {
            json!({"status": if locked {"disabled"} else {"enabled"}, "algo": [EC_KEY, ECDSA_SHA256], "len": 256, "curve": P256})
        }
    };
    let mut cert = json!({"status": match status {
        CertStatus::Active => "valid",
        CertStatus::Expired => "expired",
        CertStatus::Revoked => "revoked",
        CertStatus::Suspended => "suspended",
    }});
    let mut chain = vec![STANDARD.encode(&row.certificate_der)];
    if certificates == "chain" {
        chain.extend(
            state
                .pki
                .chain_of(&row.certificate_der)
                .iter()
                .map(|c| STANDARD.encode(c)),
        );
    }
    if certificates != "none" {
        cert["certificates"] = json!(chain);
    }
    if cert_info && let Ok((_, x)) = X509Certificate::from_der(&row.certificate_der) {
        cert["issuerDN"] = json!(x.issuer().to_string());
        cert["subjectDN"] = json!(x.subject().to_string());
        cert["serialNumber"] = json!(row.serial_hex.to_ascii_uppercase());
        cert["validFrom"] = json!(generalized(row.not_before));
        cert["validTo"] = json!(generalized(row.not_after));
    }
    let pin = json!({"presence": "true", "format": "N", "label": "PIN", "description": "The 6-digit PIN of the certificate"});
    let mut v = json!({
        "description": format!("{} certificate {}", row.kind, row.subject),
        "key": key,
        "cert": cert,
        "multisign": state.signing.max_batch(),
        "SCAL": "2",
        "lang": "ko-KR",
    });
    match version {
        Version::V1 => {
            v["authMode"] = json!("explicit");
            v["PIN"] = pin;
        }
        Version::V2 => {
            v["auth"] = json!({"mode": "explicit", "expression": "PIN", "objects": [{"type": "Password", "id": "PIN", "format": "N", "label": "PIN", "description": "The 6-digit PIN of the certificate"}]});
        }
    }
    Ok(v)
}

async fn list(state: &AppState, req: &HttpRequest, body: &[u8], version: Version) -> CscResult {
    let m = body_object(req, body)?;
    let caller = caller(state, req).await?;
    let user = opt_string(&m, "userID")?;
    let mut items = state
        .signing
        .consented_certificates(&state.db, &caller)
        .await?;
    if let Some(u) = user {
        items.retain(|c| c.user_ref == u);
    }
    if version == Version::V2 && boolean(&m, "onlyValid")? {
        items.retain(|c| c.status == "active");
    }
    let ids: Vec<String> = items.iter().map(|c| c.certificate_id.clone()).collect();
    let mut v = json!({ "credentialIDs": ids });
    if version == Version::V1 {
        let max = m
            .get("maxResults")
            .and_then(Value::as_u64)
            .filter(|n| (1..=100).contains(n))
            .unwrap_or(100) as usize;
        let start = match opt_string(&m, "pageToken")? {
            None => 0,
            Some(t) => t
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= ids.len())
                .ok_or_else(|| CscError::bad("Invalid parameter pageToken"))?,
        };
        let page: Vec<&String> = ids.iter().skip(start).take(max).collect();
        v = json!({ "credentialIDs": page });
        if start + max < ids.len() {
            v["nextPageToken"] = json!((start + max).to_string());
        }
    }
    if version == Version::V2 && boolean(&m, "credentialInfo")? {
        let mut infos = Vec::new();
        for id in &ids {
            let mut info = credential_info(state, &caller, &m, id, version).await?;
            info["credentialID"] = json!(id);
            infos.push(info);
        }
        v["credentialInfos"] = json!(infos);
    }
    Ok(v)
}

async fn info_of(state: &AppState, req: &HttpRequest, body: &[u8], version: Version) -> CscResult {
    let m = body_object(req, body)?;
    let caller = caller(state, req).await?;
    let id = string(&m, "credentialID")?;
    credential_info(state, &caller, &m, id, version).await
}

async fn authorize(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    version: Version,
) -> CscResult {
    let m = body_object(req, body)?;
    let caller = caller(state, req).await?;
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
            "invalid_authentication_data",
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
            SigningError::Custody(CustodyError::WrongPin) => invalid_pin(),
            other => other.into(),
        })?;
    Ok(json!({ "SAD": sad, "expiresIn": expires_in }))
}

async fn extend(state: &AppState, req: &HttpRequest, body: &[u8]) -> CscResult {
    let m = body_object(req, body)?;
    let caller = caller(state, req).await?;
    let id = string(&m, "credentialID")?;
    let sad = string(&m, "SAD")?;
    match state
        .signing
        .csc_extend(&state.db, &caller, id, sad)
        .await?
    {
        Ok((sad, expires_in)) => Ok(json!({ "SAD": sad, "expiresIn": expires_in })),
        Err(p) => Err(CscError::bad(p.description())),
    }
}

async fn sign_hash(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    version: Version,
) -> CscResult {
    let m = body_object(req, body)?;
    let caller = caller(state, req).await?;
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
    match state
        .signing
        .csc_sign_hash(&state.db, &caller, id, sad, &hashes, algorithm)
        .await?
    {
        Ok(sigs) => {
            Ok(json!({ "signatures": sigs.iter().map(|s| STANDARD.encode(s)).collect::<Vec<_>>() }))
        }
        Err(SadProblem::Exhausted) => Err(CscError::bad("Invalid parameter SAD")),
        Err(p) => Err(CscError::bad(p.description())),
    }
}

macro_rules! routes {
    ($v:expr, $info:ident, $token:ident, $list:ident, $cinfo:ident, $auth:ident, $ext:ident, $sign:ident) => {
        /// `info`.
        pub async fn $info(state: web::Data<AppState>) -> HttpResponse {
            info(&state, $v).await
        }
        /// `oauth2/token` (client credentials; form or JSON).
        pub async fn $token(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            match oauth::parse_form(&req, &body) {
                Ok(form) => oauth::issue(&state, &req, form).await,
                Err(why) => OAuthError::invalid_request(why).into_response(),
            }
        }
        /// `credentials/list`.
        pub async fn $list(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            respond(list(&state, &req, &body, $v).await)
        }
        /// `credentials/info`.
        pub async fn $cinfo(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            respond(info_of(&state, &req, &body, $v).await)
        }
        /// `credentials/authorize`.
        pub async fn $auth(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            respond(authorize(&state, &req, &body, $v).await)
        }
        /// `credentials/extendTransaction`.
        pub async fn $ext(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            respond(extend(&state, &req, &body).await)
        }
        /// `signatures/signHash`.
        pub async fn $sign(
            state: web::Data<AppState>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            respond(sign_hash(&state, &req, &body, $v).await)
        }
    };
}

routes!(
    Version::V1,
    v1_info,
    v1_token,
    v1_list,
    v1_credential_info,
    v1_authorize,
    v1_extend,
    v1_sign_hash
);
routes!(
    Version::V2,
    v2_info,
    v2_token,
    v2_list,
    v2_credential_info,
    v2_authorize,
    v2_extend,
    v2_sign_hash
);
