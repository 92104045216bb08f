//! The signed-in holder's certificates (`src/api/certificates.rs`): the certificate as the
//! holder sees it, its vocabulary (kind, usage, storage, status, revocation reasons), the
//! lifecycle bodies (revoke, renew) and the fee ledger.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{debug_without_secrets, names};

/// Which certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertKind {
    /// Financial certificate: key in the cloud, 3 years.
    Financial,
    /// Joint certificate: 1 year, key on a device or in the cloud.
    Joint,
}

/// What it may be used for (certificate policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Usage {
    /// Banking, credit card, insurance; free.
    Restricted,
    /// Every e-service; fee.
    General,
}

/// Where the private key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// Generated and sealed by fincert.
    Cloud,
    /// On the holder's device; fincert saw only a CSR.
    Device,
}

/// The status in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertStatus {
    /// Valid.
    Active,
    /// On hold; can be resumed.
    Suspended,
    /// Revoked for good.
    Revoked,
    /// Past its validity.
    Expired,
}

/// An RFC 5280 reason a holder may give for revoking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    /// unspecified (0)
    Unspecified,
    /// keyCompromise (1)
    KeyCompromise,
    /// affiliationChanged (3)
    AffiliationChanged,
    /// superseded (4)
    Superseded,
    /// cessationOfOperation (5)
    CessationOfOperation,
    /// privilegeWithdrawn (9)
    PrivilegeWithdrawn,
}

names!(CertKind { Financial => "financial", Joint => "joint" });
names!(Usage { Restricted => "restricted", General => "general" });
names!(Storage { Cloud => "cloud", Device => "device" });
names!(CertStatus {
    Active => "active",
    Suspended => "suspended",
    Revoked => "revoked",
    Expired => "expired",
});
names!(RevocationReason {
    Unspecified => "unspecified",
    KeyCompromise => "keyCompromise",
    AffiliationChanged => "affiliationChanged",
    Superseded => "superseded",
    CessationOfOperation => "cessationOfOperation",
    PrivilegeWithdrawn => "privilegeWithdrawn",
});

/// A certificate as its holder sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateView {
    /// Id.
    pub id: Uuid,
    /// Kind.
    pub kind: CertKind,
    /// Usage.
    pub usage: Usage,
    /// Storage.
    pub storage: Storage,
    /// Status in force now.
    pub status: CertStatus,
    /// Serial (hex).
    pub serial: String,
    /// Subject common name.
    pub subject: String,
    /// Validity start.
    pub not_before: DateTime<Utc>,
    /// Validity end.
    pub not_after: DateTime<Utc>,
    /// Whether renewal is open now.
    pub renewal_open: bool,
    /// Seconds until `not_after` by the service clock (0 once past): what a countdown starts
    /// from, whatever the viewer's clock says.
    pub expires_in_secs: i64,
    /// Issuer distinguished name.
    pub issuer: String,
}

/// `GET /v1/certificates`: the holder's certificates, newest first, and what they were
/// charged in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateList {
    /// The sum of every fee charged (KRW).
    pub fees_charged_krw: i64,
    /// The certificates (members in byte order of their names, as in every list).
    #[serde(serialize_with = "super::in_name_order")]
    pub items: Vec<CertificateView>,
}

/// A charge in the fee ledger (`GET /v1/fees`, a list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeView {
    /// The certificate charged for.
    pub certificate_id: String,
    /// `issue` or `renew`.
    pub event: String,
    /// The amount.
    pub amount_krw: i32,
    /// `KRW`.
    pub currency: String,
    /// When.
    pub charged_at: DateTime<Utc>,
}

/// A revocation (`POST /v1/certificates/{id}/revoke`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// Why.
    pub reason: RevocationReason,
}

/// A renewal (`POST /v1/certificates/{id}/renew`): the PIN (cloud key; it must open the
/// current key and binds the new one) or a new CSR (device key, base64 DER or PEM).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewBody {
    /// The certificate's PIN (cloud key).
    pub pin: Option<Zeroizing<String>>,
    /// A PKCS#10 request for the new key (device key).
    pub csr: Option<String>,
}

debug_without_secrets!(RenewBody { csr });
