//! Certificates from other CAs ("registering a certificate from another institution"): chain
//! validation against configured trust anchors, usage recognition from certificate policies,
//! and the keys of imported PKCS#12 files.
//!
//! Validation is pure (DER in, verdict out, time passed in). Status (CRL/OCSP of the
//! foreign CA) is not fetched: fincert reaches no outside network in this deployment; the
//! operator's trust-anchor set is the control.
//!
//! - `validate`: trust anchors and path validation (pure).
//! - `pkcs12`: opening a PKCS#12 file, and importing its key (`Pki::import_pkcs12`).
//! - `register`: registering by public certificate, storing and listing
//!   (`Pki::register_foreign`, `Pki::foreign_certificates`).

mod pkcs12;
mod register;
mod validate;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use self::{
    pkcs12::{Pkcs12Contents, open_pkcs12},
    validate::{TrustAnchors, Validated, validate},
};
use super::profile::Usage;

/// Why a foreign certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForeignError {
    /// Not DER of an X.509 certificate.
    #[error("not a well-formed X.509 certificate")]
    Malformed,
    /// No path to a configured trust anchor (or a signature on the path does not verify).
    #[error("the certificate does not chain to a trusted CA")]
    Untrusted,
    /// Outside its validity period (or a CA on its path is).
    #[error("the certificate is not valid at this time")]
    NotValidNow,
    /// A CA certificate, or one whose key usage excludes signing.
    #[error("not a personal signing certificate")]
    NotForSigning,
    /// No known restricted-use or general-purpose policy.
    #[error("the certificate's policy is not one fincert recognises")]
    UnrecognizedPolicy,
    /// The PKCS#12 file did not open (wrong password, or not PKCS#12).
    #[error("the PKCS#12 file could not be opened (wrong password or not a PKCS#12 file)")]
    Pkcs12Unreadable,
    /// The PKCS#12 file holds no key with a certificate.
    #[error("the PKCS#12 file holds no private key with its certificate")]
    Pkcs12NoKey,
    /// The key is not one fincert keeps (RSA-2048 or P-256), or does not match the certificate.
    #[error("the private key is unsupported or does not match the certificate")]
    KeyMismatch,
    /// The holder already registered this certificate.
    #[error("this certificate is already registered")]
    AlreadyRegistered,
}

/// A registered foreign certificate as the API shows it (written as
/// `proto::foreign::ForeignView`, without the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignView {
    /// Id.
    pub id: Uuid,
    /// Recognised usage.
    pub usage: Usage,
    /// `public` (certificate only) or `pkcs12` (key imported into custody).
    pub source: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial (hex).
    pub serial: String,
    /// Subject DN.
    pub subject: String,
    /// Validity end.
    pub not_after: DateTime<Utc>,
    /// Custody key (PKCS#12 imports).
    pub custody_key_id: Option<Uuid>,
}
