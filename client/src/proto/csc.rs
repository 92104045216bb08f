//! Wire types of the Cloud Signature Consortium API (`/csc/v1`, 1.0.4.0, and `/csc/v2`,
//! 2.0.0.2): the response bodies the server serialises, one struct per version where the two
//! differ. Fields are declared in the byte order of their JSON names (the order the server
//! has always written them in), and optional ones are omitted when absent, so the JSON is
//! unchanged from the untyped bodies these replaced. `openapi.yaml` describes each of them
//! under `components/schemas/Csc*`.
//!
//! Request bodies are not typed here: the server reads them tolerantly so that its
//! `Missing (or invalid type) … parameter X` / `Invalid parameter X` answers name the
//! offending field exactly as CSC words them.

use serde::{Deserialize, Serialize};

/// `info` (1.0.4.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoV1 {
    /// Authentication types; `["oauth2client"]`.
    #[serde(rename = "authType")]
    pub auth_type: Vec<String>,
    /// Service description.
    pub description: String,
    /// Language of the descriptions.
    pub lang: String,
    /// URI of the service logo.
    pub logo: String,
    /// The methods the service implements.
    pub methods: Vec<String>,
    /// Service name.
    pub name: String,
    /// Base URI of the OAuth 2.0 endpoints.
    pub oauth2: String,
    /// ISO 3166 country of the service.
    pub region: String,
    /// Version of the specification implemented.
    pub specs: String,
}

/// `info` (2.0.0.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoV2 {
    /// Authentication types; `["oauth2client"]`.
    #[serde(rename = "authType")]
    pub auth_type: Vec<String>,
    /// Conformance levels signDoc creates (`Ades-B-B`, and its older name `Ades-B`).
    pub conformance_levels: Vec<String>,
    /// Service description.
    pub description: String,
    /// Language of the descriptions.
    pub lang: String,
    /// URI of the service logo.
    pub logo: String,
    /// The methods the service implements.
    pub methods: Vec<String>,
    /// Service name.
    pub name: String,
    /// Base URI of the OAuth 2.0 endpoints.
    pub oauth2: String,
    /// ISO 3166 country of the service.
    pub region: String,
    /// The signature algorithms signHash accepts.
    #[serde(rename = "signAlgorithms")]
    pub sign_algorithms: SignAlgorithms,
    /// Signature formats of signDoc (`C`: CAdES, detached or attached).
    pub signature_formats: SignatureFormats,
    /// Version of the specification implemented.
    pub specs: String,
}

/// `info.signAlgorithms` (2.0.0.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignAlgorithms {
    /// Algorithm OIDs.
    pub algos: Vec<String>,
}

/// `info.signature_formats` (2.0.0.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFormats {
    /// Envelope properties per format.
    pub envelope_properties: Vec<Vec<String>>,
    /// Signature formats.
    pub formats: Vec<String>,
}

/// `credentials/list` (1.0.4.0): one page of credential IDs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialListV1 {
    /// The credentials of this page.
    #[serde(rename = "credentialIDs")]
    pub credential_ids: Vec<String>,
    /// Where the next page starts; absent on the last page.
    #[serde(
        rename = "nextPageToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_page_token: Option<String>,
}

/// `credentials/list` (2.0.0.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialListV2 {
    /// Every consented credential.
    #[serde(rename = "credentialIDs")]
    pub credential_ids: Vec<String>,
    /// Their credentials/info objects, when `credentialInfo` was asked for.
    #[serde(
        rename = "credentialInfos",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub credential_infos: Option<Vec<CredentialInfoV2>>,
}

/// `credentials/info` (1.0.4.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialInfoV1 {
    /// How the PIN is asked for.
    #[serde(rename = "PIN")]
    pub pin: PinInfo,
    /// Sole Control Assurance Level; `"2"`.
    #[serde(rename = "SCAL")]
    pub scal: String,
    /// `explicit`: the PIN authorizes each signature.
    #[serde(rename = "authMode")]
    pub auth_mode: String,
    /// The certificate.
    pub cert: CertInfo,
    /// Human-readable description of the credential.
    pub description: String,
    /// The signing key.
    pub key: KeyInfo,
    /// Language of the description.
    pub lang: String,
    /// Most signatures one authorization may produce.
    pub multisign: u32,
}

/// `credentials/info` (2.0.0.2), and one entry of `credentials/list.credentialInfos`
/// (which adds `credentialID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialInfoV2 {
    /// Sole Control Assurance Level; `"2"`.
    #[serde(rename = "SCAL")]
    pub scal: String,
    /// How the credential is authorized.
    pub auth: AuthInfo,
    /// The certificate.
    pub cert: CertInfo,
    /// The credential, in `credentials/list` only.
    #[serde(
        rename = "credentialID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub credential_id: Option<String>,
    /// Human-readable description of the credential.
    pub description: String,
    /// The signing key.
    pub key: KeyInfo,
    /// Language of the description.
    pub lang: String,
    /// Most signatures one authorization may produce.
    pub multisign: u32,
    /// fincert's addition: the passkey copies of the key (which approve through the portal's
    /// user-authorized flow) and how many of them need their authenticator's PRF output
    /// (sole control); the others open with what the service keeps.
    pub passkeys: PasskeyCopies,
}

/// `credentials/info.passkeys` (fincert's addition to 2.0.0.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyCopies {
    /// Passkeys bound to the key.
    pub bound: u32,
    /// Of those, the ones bound with their authenticator's PRF (sole control).
    #[serde(rename = "soleControl")]
    pub sole_control: u32,
}

/// `credentials/info.key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// OIDs of the algorithms the key signs with.
    pub algo: Vec<String>,
    /// Named curve OID of an EC key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curve: Option<String>,
    /// Key length in bits.
    pub len: u32,
    /// `enabled`, or `disabled` while the key is locked.
    pub status: String,
}

/// `credentials/info.cert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    /// Base64 DER certificates, end entity first (absent for `certificates: none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<Vec<String>>,
    /// Issuer distinguished name (with `certInfo`).
    #[serde(rename = "issuerDN", default, skip_serializing_if = "Option::is_none")]
    pub issuer_dn: Option<String>,
    /// Serial number, upper-case hex (with `certInfo`).
    #[serde(
        rename = "serialNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub serial_number: Option<String>,
    /// `valid`, `expired`, `revoked` or `suspended`.
    pub status: String,
    /// Subject distinguished name (with `certInfo`).
    #[serde(rename = "subjectDN", default, skip_serializing_if = "Option::is_none")]
    pub subject_dn: Option<String>,
    /// Start of validity, GeneralizedTime (with `certInfo`).
    #[serde(rename = "validFrom", default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// End of validity, GeneralizedTime (with `certInfo`).
    #[serde(rename = "validTo", default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
}

/// `credentials/info.PIN` (1.0.4.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinInfo {
    /// What the PIN is.
    pub description: String,
    /// `N`: numeric.
    pub format: String,
    /// Label to show.
    pub label: String,
    /// `"true"`: the PIN is required.
    pub presence: String,
}

/// `credentials/info.auth` (2.0.0.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthInfo {
    /// Which objects authorize, `PIN`.
    pub expression: String,
    /// `explicit`.
    pub mode: String,
    /// The authentication objects.
    pub objects: Vec<AuthObject>,
}

/// One `credentials/info.auth.objects` entry (2.0.0.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthObject {
    /// What the object is.
    pub description: String,
    /// `N`: numeric.
    pub format: String,
    /// Its identifier, named in `authData`.
    pub id: String,
    /// Label to show.
    pub label: String,
    /// `Password`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `credentials/authorize` and `credentials/extendTransaction` (both versions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sad {
    /// The Signature Activation Data.
    #[serde(rename = "SAD")]
    pub sad: String,
    /// Seconds until the SAD expires.
    #[serde(rename = "expiresIn")]
    pub expires_in: i64,
}

/// `signatures/signDoc` (2.0.0.2): CAdES signatures, in the order of the request's
/// `documents` (those asked `Attached`, with the document inside) and its `documentDigests`
/// and `Detached` documents. Either array is omitted when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignDoc {
    /// Base64 CMS SignedData with the document embedded (`Attached`), one per such document.
    #[serde(
        rename = "DocumentWithSignature",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub document_with_signature: Vec<String>,
    /// Base64 detached CMS SignedData: one per `documentDigests` hash, then one per
    /// `Detached` document.
    #[serde(
        rename = "SignatureObject",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub signature_object: Vec<String>,
    /// The validation material, when `returnValidationInfo` asked for it.
    #[serde(
        rename = "validationInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub validation_info: Option<super::institutions::ValidationInfo>,
}

/// `signatures/signHash` and `signDoc` with `operationMode: "A"` (2.0.0.2): the identifier
/// `signatures/signPolling` takes to fetch the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseId {
    /// The responseID.
    #[serde(rename = "responseID")]
    pub response_id: String,
}

/// `signatures/signHash` (both versions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signatures {
    /// Base64 signatures, in the order of the hashes.
    pub signatures: Vec<String>,
    /// The validation material, when `returnValidationInfo` asked for it (2.0.0.2).
    #[serde(
        rename = "validationInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub validation_info: Option<super::institutions::ValidationInfo>,
}
