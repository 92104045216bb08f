//! Reading CSC request bodies: loosely typed JSON objects whose errors CSC words as
//! `Missing (or invalid type) string parameter X` / `Invalid parameter X`; the algorithm
//! object identifiers the service speaks; and each method's parameters read into a typed
//! request (pure: no caller, no database), which the routes then hand to the domain.

use actix_web::{HttpRequest, http::header};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::{Map, Value};

use super::Version;
use crate::{
    domain::pin::Pin,
    error::{CscError, Kind, OAuthErrorCode},
    signing::request::{Algorithm, Digest},
};

/// The body as a JSON object (an empty body counts as `{}`).
pub(super) fn body_object(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, CscError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    parse_body(content_type, body)
}

/// The body as a JSON object, given the request's `Content-Type` (an empty body counts as `{}`).
pub(super) fn parse_body(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Value>, CscError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let json = content_type.is_some_and(|v| v.starts_with("application/json"));
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
    // An optional parameter is absent or a string: `null` is neither.
    match m.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(CscError::bad(format!(
            "Missing (or invalid type) string parameter {name}"
        ))),
    }
}

pub(super) fn boolean(m: &Map<String, Value>, name: &str) -> Result<bool, CscError> {
    match m.get(name) {
        None => Ok(false),
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

/// Which certificates `credentials/info` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Certificates {
    /// None.
    None,
    /// The end-entity certificate.
    Single,
    /// The end-entity certificate and its chain.
    Chain,
}

/// What `credentials/info` (and `credentials/list` with `credentialInfo`) shows.
#[derive(Debug, Clone, Copy)]
pub(super) struct InfoOptions {
    pub certificates: Certificates,
    pub cert_info: bool,
}

impl InfoOptions {
    pub fn parse(m: &Map<String, Value>) -> Result<Self, CscError> {
        let certificates = match opt_string(m, "certificates")?.unwrap_or("single") {
            "none" => Certificates::None,
            "single" => Certificates::Single,
            "chain" => Certificates::Chain,
            _ => return Err(CscError::bad("Invalid parameter certificates")),
        };
        Ok(Self {
            certificates,
            cert_info: boolean(m, "certInfo")?,
        })
    }
}

/// `credentials/info`.
pub(super) struct InfoRequest<'a> {
    pub credential_id: &'a str,
    pub options: InfoOptions,
}

impl<'a> InfoRequest<'a> {
    pub fn parse(m: &'a Map<String, Value>) -> Result<Self, CscError> {
        Ok(Self {
            credential_id: string(m, "credentialID")?,
            options: InfoOptions::parse(m)?,
        })
    }
}

/// `credentials/list`.
pub(super) struct ListRequest<'a> {
    pub user_id: Option<&'a str>,
    /// v2 `onlyValid`.
    pub only_valid: bool,
    /// v1 `maxResults` (1–100; 100 when absent).
    pub max_results: usize,
    /// v1 `pageToken`: the offset a previous page returned (checked against the list later).
    pub page_token: Option<usize>,
    /// v2 `credentialInfo`: the info of every credential, as `credentials/info` shows it.
    pub credential_info: Option<InfoOptions>,
}

impl<'a> ListRequest<'a> {
    pub fn parse(m: &'a Map<String, Value>, version: Version) -> Result<Self, CscError> {
        let user_id = opt_string(m, "userID")?;
        let mut request = Self {
            user_id,
            only_valid: false,
            max_results: 100,
            page_token: None,
            credential_info: None,
        };
        match version {
            Version::V1 => {
                request.max_results = match m.get("maxResults") {
                    None => 100,
                    Some(v) => v
                        .as_u64()
                        .filter(|n| (1..=100).contains(n))
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(|| CscError::bad("Invalid parameter maxResults"))?,
                };
                request.page_token = opt_string(m, "pageToken")?
                    .map(|t| {
                        t.parse::<usize>()
                            .map_err(|_| CscError::bad("Invalid parameter pageToken"))
                    })
                    .transpose()?;
            }
            Version::V2 => {
                request.only_valid = boolean(m, "onlyValid")?;
                // Every credential's info carries its authorization details; the flag is
                // read only so that a wrong type is refused.
                boolean(m, "authInfo")?;
                // `certificates` and `certInfo` are read (and a wrong type refused) whether or
                // not `credentialInfo` asks for the infos they shape.
                let options = InfoOptions::parse(m)?;
                if boolean(m, "credentialInfo")? {
                    request.credential_info = Some(options);
                }
            }
        }
        Ok(request)
    }
}

/// `credentials/authorize` (SCAL 2: the hashes are required and bound to the SAD).
pub(super) struct AuthorizeRequest {
    pub credential: uuid::Uuid,
    pub num_signatures: u32,
    pub hashes: Vec<Digest>,
    pub pin: Pin,
}

/// The answer to a PIN that is missing from authData (v2) or is not six digits.
pub(super) fn invalid_pin(version: Version) -> CscError {
    match version {
        Version::V1 => CscError::bad("The PIN is invalid"),
        Version::V2 => CscError::new(
            Kind::BadRequest,
            OAuthErrorCode::InvalidAuthenticationData,
            "The authentication data is invalid",
        ),
    }
}

impl AuthorizeRequest {
    /// `max_batch`: the most signatures one SAD may authorize.
    pub fn parse(
        m: &Map<String, Value>,
        version: Version,
        max_batch: u32,
    ) -> Result<Self, CscError> {
        let id = string(m, "credentialID")?;
        let credential = uuid::Uuid::parse_str(id)
            .map_err(|_| CscError::bad("Invalid parameter credentialID"))?;
        let num = m
            .get("numSignatures")
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                CscError::bad("Missing (or invalid type) integer parameter numSignatures")
            })?;
        if num < 1 {
            return Err(CscError::bad("Invalid value for parameter numSignatures"));
        }
        if num > i64::from(max_batch) {
            return Err(CscError::bad("Numbers of signatures is too high"));
        }
        let (hash_field, pin) = match version {
            Version::V1 => ("hash", opt_string(m, "PIN")?),
            Version::V2 => {
                if let Some(h) = opt_string(m, "hashAlgorithmOID")?
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
                    .and_then(|o| o.get("value").and_then(Value::as_str));
                ("hashes", pin)
            }
        };
        let hashes = hashes(m, hash_field)?;
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
        let pin = pin.ok_or_else(|| match version {
            Version::V1 => CscError::bad("Missing (or invalid type) string parameter PIN"),
            Version::V2 => invalid_pin(version),
        })?;
        let pin = Pin::parse(pin).map_err(|_| invalid_pin(version))?;
        Ok(Self {
            credential,
            // 1 ≤ num ≤ max_batch, a u32.
            num_signatures: u32::try_from(num).unwrap_or(max_batch),
            hashes,
            pin,
        })
    }
}

/// `credentials/extendTransaction`.
pub(super) struct ExtendRequest<'a> {
    pub credential_id: &'a str,
    pub sad: &'a str,
}

impl<'a> ExtendRequest<'a> {
    pub fn parse(m: &'a Map<String, Value>) -> Result<Self, CscError> {
        Ok(Self {
            credential_id: string(m, "credentialID")?,
            sad: string(m, "SAD")?,
        })
    }
}

/// `operationMode: "A"` and what comes with it (2.0.0.2).
#[derive(Debug, Clone)]
pub(super) struct Asynchronous {
    /// `validity_period`, milliseconds (`signing::csc_async::validity` bounds it).
    pub validity_ms: Option<u64>,
    /// `response_uri`: where the answer is posted too (a webhook URL's rules).
    pub response_uri: Option<String>,
}

/// `operationMode`: absent or `S` is synchronous, `A` asynchronous with `validity_period`
/// (milliseconds) and `response_uri` (https to a public host, like a webhook URL; http to a
/// loopback host when `allow_http`). A synchronous call ignores those two, as the
/// specification says, but they must still be of their types.
pub(super) fn operation_mode(
    m: &Map<String, Value>,
    allow_http: bool,
) -> Result<Option<Asynchronous>, CscError> {
    let uri = opt_string(m, "response_uri")?;
    let validity_ms = match m.get("validity_period") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| CscError::bad("Invalid parameter validity_period"))?,
        ),
    };
    match opt_string(m, "operationMode")? {
        None | Some("S") => Ok(None),
        Some("A") => Ok(Some(Asynchronous {
            validity_ms,
            response_uri: uri
                .map(|u| crate::signing::request::parse_webhook_url(u, allow_http))
                .transpose()
                .map_err(|_| CscError::bad("Invalid parameter response_uri"))?,
        })),
        Some(_) => Err(CscError::bad("Invalid parameter operationMode")),
    }
}

/// `credentialID`, and `SAD` unless the bearer is a credential token (`by_token`: then the
/// token is the SAD and the parameter optional, CSC 2.0.0.2 §11.9–11.10).
fn credential_and_sad(
    m: &Map<String, Value>,
    by_token: bool,
) -> Result<(String, Option<String>), CscError> {
    let credential_id = string(m, "credentialID")?.to_owned();
    let sad = if by_token {
        opt_string(m, "SAD")?
    } else {
        Some(string(m, "SAD")?)
    };
    Ok((credential_id, sad.map(str::to_owned)))
}

/// `signatures/signHash`.
pub(super) struct SignHashRequest {
    pub credential_id: String,
    /// Absent when the bearer is a credential token (which is the SAD then).
    pub sad: Option<String>,
    pub hashes: Vec<Digest>,
    pub algorithm: Algorithm,
    /// v2 `returnValidationInfo`.
    pub validation_info: bool,
    /// v2 `operationMode: "A"`.
    pub asynchronous: Option<Asynchronous>,
}

impl SignHashRequest {
    /// `by_token`: the bearer is a credential token, so `SAD` is optional (CSC 2.0.0.2 §11.9);
    /// `allow_http`: a `response_uri` may be http to a loopback host (development).
    pub fn parse(
        m: &Map<String, Value>,
        version: Version,
        by_token: bool,
        allow_http: bool,
    ) -> Result<Self, CscError> {
        let (credential_id, sad) = credential_and_sad(m, by_token)?;
        let hashes = hashes(
            m,
            match version {
                Version::V1 => "hash",
                Version::V2 => "hashes",
            },
        )?;
        let algorithm = sign_algorithm(m, version)?;
        // 2.0.0.2 names `returnValidationInfo` / `validationInfo` for signDoc; signHash takes
        // the same flag and answers the same object (1.0.4.0 has no equivalent).
        let validation_info = version == Version::V2 && boolean(m, "returnValidationInfo")?;
        // 1.0.4.0 has no asynchronous mode.
        let asynchronous = match version {
            Version::V1 => None,
            Version::V2 => operation_mode(m, allow_http)?,
        };
        Ok(Self {
            credential_id,
            sad,
            hashes,
            algorithm,
            validation_info,
            asynchronous,
        })
    }
}

/// Where a signDoc signature goes in the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Placement {
    /// `SignatureObject`: a detached CMS (a `documentDigests` hash, or a `Detached` document).
    Detached,
    /// `DocumentWithSignature`: the CMS with this document embedded (`Attached`).
    Attached(Vec<u8>),
}

/// One signature `signatures/signDoc` asks for: the SHA-256 it signs (a document's, or a
/// hash the client computed) and where it goes.
pub(super) struct DocItem {
    pub digest: Digest,
    pub placement: Placement,
}

/// `signatures/signDoc` (2.0.0.2), for what fincert makes itself: CAdES (`signature_format`
/// `C`) at `Ades-B-B` (`Ades-B`, the older name, is the same signature), detached or attached.
pub(super) struct SignDocRequest {
    pub credential_id: String,
    /// Absent when the bearer is a credential token (which is the SAD then).
    pub sad: Option<String>,
    /// `documentDigests`' hashes in order, then `documents` in order.
    pub items: Vec<DocItem>,
    pub algorithm: Algorithm,
    pub validation_info: bool,
    /// No `signature_format`: raw signatures (as signHash makes them), in `SignatureObject`.
    pub raw: bool,
    /// `operationMode: "A"`.
    pub asynchronous: Option<Asynchronous>,
}

/// The conformance levels signDoc creates, as `info` lists them.
pub(super) const CONFORMANCE_LEVELS: [&str; 2] = ["Ades-B-B", "Ades-B"];

impl SignDocRequest {
    /// As [`SignHashRequest::parse`].
    pub fn parse(
        m: &Map<String, Value>,
        by_token: bool,
        allow_http: bool,
    ) -> Result<Self, CscError> {
        let (credential_id, sad) = credential_and_sad(m, by_token)?;
        opt_string(m, "signatureQualifier")?;
        opt_string(m, "clientData")?;
        let asynchronous = operation_mode(m, allow_http)?;
        let validation_info = boolean(m, "returnValidationInfo")?;
        fn array<'m>(m: &'m Map<String, Value>, name: &str) -> Result<&'m [Value], CscError> {
            match m.get(name) {
                None => Ok(&[]),
                Some(Value::Array(a)) => Ok(a.as_slice()),
                Some(_) => Err(CscError::bad(format!(
                    "Missing (or invalid type) array parameter {name}"
                ))),
            }
        }
        let (digests, documents) = (array(m, "documentDigests")?, array(m, "documents")?);
        if digests.is_empty() && documents.is_empty() {
            return Err(CscError::bad(
                "Missing (or invalid type) array parameter documentDigests or documents",
            ));
        }
        let mut items = Vec::new();
        let mut algorithm = None;
        let mut raw = None;
        let mut same_format = |made: Made| {
            let is_raw = made == Made::Raw;
            match raw {
                None => {
                    raw = Some(is_raw);
                    Ok(())
                }
                Some(r) if r == is_raw => Ok(()),
                Some(_) => Err(CscError::bad(
                    "Invalid parameter signature_format: every document of one call takes the same",
                )),
            }
        };
        let mut same_algorithm = |a: Algorithm| match algorithm {
            None => {
                algorithm = Some(a);
                Ok(())
            }
            Some(b) if b == a => Ok(()),
            Some(_) => Err(CscError::bad(
                "Invalid parameter signAlgo: every document of one call takes the same",
            )),
        };
        for v in digests {
            let d = object(v, "documentDigests")?;
            let made = cades_options(d, false)?;
            same_format(made)?;
            if made == (Made::Cades { attached: true }) {
                // A hash carries no document to embed.
                return Err(CscError::bad("Invalid parameter signed_envelope_property"));
            }
            same_algorithm(sign_algorithm(d, Version::V2)?)?;
            for digest in hashes(d, "hashes")? {
                items.push(DocItem {
                    digest,
                    placement: Placement::Detached,
                });
            }
        }
        for v in documents {
            let d = object(v, "documents")?;
            let made = cades_options(d, true)?;
            same_format(made)?;
            let attached = made == (Made::Cades { attached: true });
            // The service hashes the document (SHA-256); a named hash must be that one.
            let mut with_hash = d.clone();
            with_hash
                .entry("hashAlgorithmOID")
                .or_insert_with(|| Value::String(SHA256.to_owned()));
            same_algorithm(sign_algorithm(&with_hash, Version::V2)?)?;
            let content = string(d, "document")
                .ok()
                .and_then(|s| STANDARD.decode(s).ok())
                .ok_or_else(|| CscError::bad("Invalid Base64 document string parameter"))?;
            items.push(DocItem {
                digest: Digest::of(&content),
                placement: if attached {
                    Placement::Attached(content)
                } else {
                    Placement::Detached
                },
            });
        }
        Ok(Self {
            credential_id,
            sad,
            items,
            // Set by the first document or digest, of which there is at least one.
            algorithm: algorithm.ok_or_else(|| CscError::bad("Invalid parameter signAlgo"))?,
            raw: raw.unwrap_or(false),
            validation_info,
            asynchronous,
        })
    }
}

/// An element of a signDoc array, as an object.
fn object<'a>(v: &'a Value, array: &str) -> Result<&'a Map<String, Value>, CscError> {
    v.as_object()
        .ok_or_else(|| CscError::bad(format!("Invalid parameter {array}")))
}

/// What one signDoc entry asks to be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Made {
    /// CAdES-B-B, with the document inside (`Attached`) or not.
    Cades { attached: bool },
    /// No `signature_format`: the raw signature over the hash (as signHash makes it), with no
    /// envelope, level or attributes to name.
    Raw,
}

/// A signDoc entry's format options. CAdES (`C`) at B-B with the attributes fincert sets
/// (none of the caller's: `signed_props` empty), or, without `signature_format`, raw.
fn cades_options(d: &Map<String, Value>, document: bool) -> Result<Made, CscError> {
    match opt_string(d, "signature_format")? {
        Some("C") => {}
        Some(_) => return Err(CscError::bad("Invalid parameter signature_format")),
        None => {
            for p in [
                "conformance_level",
                "signed_envelope_property",
                "signed_props",
            ] {
                if d.contains_key(p) {
                    return Err(CscError::bad(format!("Invalid parameter {p}")));
                }
            }
            return Ok(Made::Raw);
        }
    }
    if let Some(level) = opt_string(d, "conformance_level")?
        && !CONFORMANCE_LEVELS
            .iter()
            .any(|l| l.eq_ignore_ascii_case(level))
    {
        return Err(CscError::bad("Invalid parameter conformance_level"));
    }
    match d.get("signed_props") {
        None => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(_) => return Err(CscError::bad("Invalid parameter signed_props")),
    }
    // CAdES' default is Attached where there is a document to embed.
    let attached = match opt_string(d, "signed_envelope_property")? {
        None => document,
        Some("Attached") => true,
        Some("Detached") => false,
        Some(_) => return Err(CscError::bad("Invalid parameter signed_envelope_property")),
    };
    Ok(Made::Cades { attached })
}

/// `signatures/signPolling` (2.0.0.2): the `responseID` an asynchronous call answered.
pub(super) struct PollRequest<'a> {
    pub response_id: &'a str,
}

impl<'a> PollRequest<'a> {
    pub fn parse(m: &'a Map<String, Value>) -> Result<Self, CscError> {
        Ok(Self {
            response_id: string(m, "responseID")?,
        })
    }
}

/// A CSC method whose body [`read_request`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `credentials/list`.
    List,
    /// `credentials/info`.
    Info,
    /// `credentials/authorize`.
    Authorize,
    /// `credentials/extendTransaction`.
    Extend,
    /// `signatures/signHash`.
    SignHash,
    /// `signatures/signDoc` (2.0.0.2 only).
    SignDoc,
}

impl Method {
    /// Every method.
    pub const ALL: [Self; 6] = [
        Self::List,
        Self::Info,
        Self::Authorize,
        Self::Extend,
        Self::SignHash,
        Self::SignDoc,
    ];
}

/// Reads a request body exactly as `method`'s route does before it asks who the caller is or
/// reads the database (the fuzz targets' entry; `max_batch` stands for the node's setting).
/// `Ok` when the route would go on to the domain with a well-typed request.
pub fn read_request(
    version: Version,
    method: Method,
    content_type: Option<&str>,
    body: &[u8],
    max_batch: u32,
) -> Result<(), CscError> {
    let m = parse_body(content_type, body)?;
    match method {
        Method::List => ListRequest::parse(&m, version).map(drop),
        Method::Info => InfoRequest::parse(&m).map(drop),
        Method::Authorize => AuthorizeRequest::parse(&m, version, max_batch).map(drop),
        Method::Extend => ExtendRequest::parse(&m).map(drop),
        Method::SignHash => SignHashRequest::parse(&m, version, false, false).map(drop),
        Method::SignDoc => SignDocRequest::parse(&m, false, false).map(drop),
    }
}
