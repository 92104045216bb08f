//! Certificates issued by other CAs, registered with fincert (`src/api/foreign.rs`): by the
//! public certificate, or by importing a PKCS#12 file or a Korean NPKI key pair whose key is
//! re-sealed under KMS (and then signs like an issued certificate's).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{certificates::Usage, debug_without_secrets};

/// A registered foreign certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Whether fincert holds its key: then `id` is a certificate id for consent, sign-in and
    /// signing like an issued certificate's.
    #[serde(default)]
    pub key_held: bool,
}

/// A public certificate (base64 DER or PEM) and up to 5 intermediates
/// (`POST /v1/foreign-certificates`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    /// The certificate.
    pub certificate: String,
    /// Its issuing chain, leaf's issuer first.
    #[serde(default)]
    pub intermediates: Vec<String>,
}

/// A PKCS#12 file (base64), its password, and the PIN to bind the imported key to
/// (`POST /v1/foreign-certificates/pkcs12`). The file and its password are not stored.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// The file, base64.
    pub pkcs12: String,
    /// Its password.
    pub password: Zeroizing<String>,
    /// The new 6-digit PIN.
    pub pin: Zeroizing<String>,
}

debug_without_secrets!(ImportBody {});

/// A Korean NPKI key pair (`POST /v1/foreign-certificates/npki`): `signCert.der` (base64 DER
/// or PEM), `signPri.key` (base64), the key file's password, and the PIN to bind the imported
/// key to. Neither file nor password is stored.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NpkiImportBody {
    /// `signCert.der`.
    pub sign_cert: String,
    /// `signPri.key`, base64.
    pub sign_pri: String,
    /// The issuing chain of `signCert.der` (base64 DER or PEM, leaf's issuer first, at most
    /// 5), unless the trust anchors already hold it.
    #[serde(default)]
    pub intermediates: Vec<String>,
    /// The key file's password.
    pub password: Zeroizing<String>,
    /// The new 6-digit PIN.
    pub pin: Zeroizing<String>,
}

debug_without_secrets!(NpkiImportBody {});
