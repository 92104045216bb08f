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
//! - `npki`, `seed`: Korean NPKI key files (`signPri.key`, SEED-CBC under PBKDF1 or PBES2)
//!   and the SEED cipher; `import`: importing an NPKI pair (`Pki::import_npki`) and what
//!   both imports share (the KDF pool, key and certificate matching).
//!
//! Imported keys are usable like issued ones: `store::pki::certificate_by_id` answers a
//! foreign certificate that has a custody key as a certificate row (issuer `foreign`), so
//! consent, PIN and passkey sign-in, native approval and CSC find it; its chain is the one
//! validated at import and its signatures carry no fincert OCSP answer or CRL (fincert does
//! not speak for another CA's status).
//!
//! Password-based KDFs are CPU work an uploader chooses: iteration counts above
//! [`MAX_KDF_ITERATIONS`] are refused (422 `kdf_too_costly`) before any work where the file
//! shows them, and every KDF, like every check of an uploaded certificate chain or key, runs on
//! the node's heavy-work pool (`crate::heavy`: `custody.heavy_concurrency` at once, a bounded
//! queue, then 503), never on an async worker.
//! - `register`: registering by public certificate, storing and listing
//!   (`Pki::register_foreign`, `Pki::foreign_certificates`).

mod import;
pub mod npki;
mod pkcs12;
mod register;
pub mod seed;
mod validate;

/// The most iterations a password-based KDF of an uploaded key file may ask for. Real files
/// use 2,048 (NPKI, OpenSSL) to 10,000 (Windows); 100,000 PBKDF2-HMAC-SHA-256 rounds took
/// 70 ms on one core of this machine kind (`openssl kdf`, 2026-12-02; 1,000,000 took 630 ms).
pub const MAX_KDF_ITERATIONS: u32 = 100_000;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use self::{
    import::{MatchedKey, match_key},
    pkcs12::{Pkcs12Contents, open_pkcs12},
    register::read_public,
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
    /// The key file is not a PKCS#8 `EncryptedPrivateKeyInfo` fincert can read.
    #[error("the key file is not an encrypted PKCS#8 private key")]
    KeyFileMalformed,
    /// The key file did not decrypt (wrong password, or a damaged file).
    #[error("the key file could not be decrypted (wrong password or damaged file)")]
    KeyFileUnreadable,
    /// The key file's cipher or KDF is not one fincert reads (SEED-CBC under PBKDF1 or PBKDF2).
    #[error("the key file's encryption is not supported (SEED-CBC with PBKDF1 or PBKDF2 is)")]
    UnsupportedCipher,
    /// A KDF iteration count above the limit.
    #[error("the file asks for more than 100000 key-derivation iterations")]
    KdfTooCostly,
}

/// A registered foreign certificate as the API shows it (written as
/// `proto::foreign::ForeignView`, without the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignView {
    /// Id.
    pub id: Uuid,
    /// Recognised usage.
    pub usage: Usage,
    /// `public` (certificate only), `pkcs12` or `npki` (key imported into custody).
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
