//! The signed-in holder's certificates (`src/api/certificates.rs`): the certificate as the
//! holder sees it (with its DER, PEM and chain), its vocabulary (kind, usage, storage,
//! status, revocation reasons), the lifecycle bodies (revoke, renew) and the fee ledger.

use chrono::{DateTime, Months, Utc};
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
impl CertKind {
    /// Validity from `not_before`: 3 years (financial) or 1 year (joint).
    pub fn not_after(self, not_before: DateTime<Utc>) -> DateTime<Utc> {
        let months = match self {
            Self::Financial => 36,
            Self::Joint => 12,
        };
        not_before
            .checked_add_months(Months::new(months))
            .unwrap_or(not_before)
    }
}

impl CertStatus {
    /// The status in force at `now`: an active or suspended certificate past `not_after` is
    /// expired even before the expiry job has marked it.
    pub fn at(self, not_after: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        match self {
            Self::Active | Self::Suspended if now >= not_after => Self::Expired,
            other => other,
        }
    }
}

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
    /// The certificate, base64 DER.
    pub der: String,
    /// The certificate, PEM.
    pub pem: String,
    /// The chain above it, base64 DER: the issuing CA, then the root.
    pub chain: Vec<String>,
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
    /// The fee the holder agreed to (KRW), for a general-purpose certificate: it must be the
    /// current fee (`GET /v1/pricing`), else `409 fee_not_confirmed` and nothing is charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_confirmed_krw: Option<u32>,
}

debug_without_secrets!(RenewBody {
    csr,
    fee_confirmed_krw
});

/// A change of PIN (`POST /v1/certificates/{id}/pin`): the current PIN opens the key (a wrong
/// one counts toward the lock), the new one replaces it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePinBody {
    /// The PIN in force.
    pub current_pin: Zeroizing<String>,
    /// The new PIN (6 digits, not trivial, not the birth date, not the current one).
    pub new_pin: Zeroizing<String>,
}

debug_without_secrets!(ChangePinBody {});

/// What a use of a certificate was: a signature or a login with the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryKind {
    /// A signature an institution asked for.
    Signature,
    /// A login with the certificate an institution asked for.
    Login,
}

names!(HistoryKind { Signature => "signature", Login => "login" });

/// How a use ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryResult {
    /// Approved and signed.
    Signed,
    /// Declined by the holder.
    Rejected,
    /// Nobody decided in time.
    Expired,
}

names!(HistoryResult { Signed => "signed", Rejected => "rejected", Expired => "expired" });

/// One use of a certificate (`GET /v1/certificates/{id}/history`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryItem {
    /// The signature request.
    pub id: Uuid,
    /// Signature or login.
    pub kind: HistoryKind,
    /// The institution that asked.
    pub institution: String,
    /// The text the holder was shown.
    pub display_text: String,
    /// The digests signed (or asked for), base64.
    pub digests: Vec<String>,
    /// `raw`, `cms-attached`, `cms-detached`, `cms-pades`.
    pub format: String,
    /// When the institution asked.
    pub requested_at: DateTime<Utc>,
    /// When the holder decided (none for an expired request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub result: HistoryResult,
    /// Through which API the institution asked: fincert's own, or the CSC API (`/csc/v1`,
    /// `/csc/v2`; then `id` is the authorization, `display_text` is empty and the digests are
    /// those signed).
    #[serde(default)]
    pub via: HistoryVia,
}

/// Through which API a use was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryVia {
    /// fincert's signature requests (`/v1/signature-requests`).
    #[default]
    Api,
    /// The Cloud Signature Consortium API.
    Csc,
}

names!(HistoryVia { Api => "api", Csc => "csc" });

/// A page of a certificate's history, newest first; `next_cursor` fetches the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// The uses on this page, newest first (not re-sorted by name).
    pub items: Vec<HistoryItem>,
    /// The opaque cursor of the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The query of `GET /v1/certificates/{id}/history`: every field optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// From this time (inclusive, RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Up to this time (exclusive, RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only signatures or only logins.
    pub kind: Option<HistoryKind>,
    /// Only uses that ended so.
    pub result: Option<HistoryResult>,
    /// 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::{super::names_round_trip_for, *};

    /// Each name (the wire name, which is also the stored name) parses back to its value and
    /// is what serde writes; other spellings do not parse.
    #[test]
    fn names_round_trip() {
        names_round_trip_for(CertKind::ALL, CertKind::as_str, CertKind::parse);
        names_round_trip_for(Storage::ALL, Storage::as_str, Storage::parse);
        names_round_trip_for(Usage::ALL, Usage::as_str, Usage::parse);
        names_round_trip_for(CertStatus::ALL, CertStatus::as_str, CertStatus::parse);
        assert_eq!(CertKind::ALL.len(), 2);
        assert_eq!(Storage::ALL.len(), 2);
        assert_eq!(Usage::ALL.len(), 2);
        assert_eq!(CertStatus::ALL.len(), 4);
        names_round_trip_for(HistoryKind::ALL, HistoryKind::as_str, HistoryKind::parse);
        names_round_trip_for(
            HistoryResult::ALL,
            HistoryResult::as_str,
            HistoryResult::parse,
        );
        assert_eq!(CertKind::parse("Financial"), None);
        assert_eq!(Storage::parse("hsm"), None);
        assert_eq!(Usage::parse("General"), None);
        assert_eq!(Usage::parse(""), None);
        assert_eq!(CertStatus::parse("Active"), None);
        assert_eq!(CertStatus::parse("on_hold"), None);
    }

    #[test]
    fn validity_is_three_years_or_one() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            CertKind::Financial.not_after(t).to_rfc3339(),
            "2029-11-23T09:00:00+00:00"
        );
        assert_eq!(
            CertKind::Joint.not_after(t).to_rfc3339(),
            "2027-11-23T09:00:00+00:00"
        );
        let leap = DateTime::parse_from_rfc3339("2028-02-29T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            CertKind::Joint.not_after(leap).to_rfc3339(),
            "2029-02-28T00:00:00+00:00"
        );
    }

    #[test]
    fn a_live_certificate_past_not_after_is_expired() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (before, after) = (now - Duration::seconds(1), now + Duration::seconds(1));
        for &s in CertStatus::ALL {
            assert_eq!(s.at(after, now), s, "{s:?} before not_after");
        }
        assert_eq!(CertStatus::Active.at(now, now), CertStatus::Expired);
        assert_eq!(CertStatus::Suspended.at(before, now), CertStatus::Expired);
        assert_eq!(CertStatus::Revoked.at(before, now), CertStatus::Revoked);
    }
}

/// A certificate's automatic renewal (`GET`/`PUT /v1/certificates/{id}/auto-renewal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoRenewalView {
    /// On or off: the holder's choice, or the default (on for a restricted-use financial
    /// certificate, off otherwise).
    pub enabled: bool,
    /// Whether this is the default (the holder never chose).
    pub default: bool,
    /// Whether this certificate can renew itself at all (a cloud key issued here).
    pub available: bool,
    /// What an automatic renewal charges now (KRW; 0 for restricted use).
    pub fee_krw: u32,
    /// The fee the holder confirmed when turning it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_confirmed_krw: Option<u32>,
    /// Whether the next PIN use inside the renewal window renews it (on, available, and the
    /// fee confirmed at its current amount).
    pub active: bool,
}

/// Turning automatic renewal on or off (`PUT /v1/certificates/{id}/auto-renewal`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoRenewalBody {
    /// On or off.
    pub enabled: bool,
    /// On for a general-purpose certificate: the current fee (KRW), which each automatic
    /// renewal will charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_confirmed_krw: Option<u32>,
}

/// The service's prices (`GET /v1/pricing`, public): what issuance, reissuance and renewal
/// charge, read from the service's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    /// Issuing, reissuing or renewing a general-purpose certificate (KRW).
    pub general_purpose_fee_krw: u32,
    /// The same for a restricted-use certificate (KRW): free.
    pub restricted_fee_krw: u32,
    /// Renewal opens this many days before expiry.
    pub renewal_window_days: u32,
}
