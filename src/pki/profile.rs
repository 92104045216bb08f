//! Certificate profiles: what a financial or joint personal certificate contains (RFC 5280 and
//! Korean personal-certificate practice). Pure functions over domain types; no I/O.

use const_oid::ObjectIdentifier;

pub use crate::domain::{
    cert_kind::{CertKind, Storage},
    usage::Usage,
};

/// Why a profile request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// A financial certificate's key always lives in the cloud.
    #[error("a financial certificate's key is always held in the cloud")]
    FinancialOnDevice,
    /// The holder's name is not acceptable in a subject.
    #[error("holder name must be 1 to 40 letters, spaces, dots or hyphens")]
    HolderName,
}

/// Checks a storage choice for a kind: a financial certificate's key is never on a device.
pub fn check_storage(kind: CertKind, storage: Storage) -> Result<(), ProfileError> {
    if kind == CertKind::Financial && storage == Storage::Device {
        Err(ProfileError::FinancialOnDevice)
    } else {
        Ok(())
    }
}

/// The policy OID for kind × usage under `arc`: `<arc>.<1 financial | 2 joint>.<1 restricted | 2 general>`.
pub fn policy_oid(arc: &str, kind: CertKind, usage: Usage) -> Option<ObjectIdentifier> {
    if !crate::config::is_dotted_oid(arc) {
        return None;
    }
    let k = match kind {
        CertKind::Financial => 1,
        CertKind::Joint => 2,
    };
    let u = match usage {
        Usage::Restricted => 1,
        Usage::General => 2,
    };
    format!("{arc}.{k}.{u}").parse().ok()
}

/// What a certificate's policy OIDs say about its use here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyUsage {
    /// A personal certificate of a known usage.
    Known(Usage),
    /// A corporate or server certificate of a Korean CA: not a personal signing certificate.
    NotPersonal,
    /// No policy fincert knows.
    Unknown,
}

/// The usage given to a foreign certificate whose policies fincert does not know: the
/// narrower one (banking, card and insurance institutions only, no fee), so an unknown
/// policy never widens what a certificate may sign for.
pub const DEFAULT_FOREIGN_USAGE: Usage = Usage::Restricted;

/// Korean CAs' personal general-purpose (범용 개인) policies: KFTC yessign, KOSCOM signKorea,
/// KICA signGATE, NCA, CrossCert, KTNET TradeSign and the fifth licensed CA's arc.
const GENERAL: &[&str] = &[
    "1.2.410.200005.1.1.1",
    "1.2.410.200004.5.1.1.5",
    "1.2.410.200004.5.2.1.2",
    "1.2.410.200004.5.3.1.9",
    "1.2.410.200004.5.4.1.1",
    "1.2.410.200012.1.1.1",
    "1.2.410.200004.5.5.1.1",
];

/// Korean CAs' personal restricted-use (용도제한: banking, insurance, securities, credit card)
/// policies.
const RESTRICTED: &[&str] = &[
    "1.2.410.200005.1.1.4",
    "1.2.410.200005.1.1.6.2",
    "1.2.410.200004.5.1.1.9",
    "1.2.410.200004.5.2.1.7.1",
    "1.2.410.200004.5.2.1.7.2",
    "1.2.410.200004.5.2.1.7.3",
    "1.2.410.200004.5.4.1.101",
    "1.2.410.200004.5.4.1.102",
    "1.2.410.200012.1.1.101",
    "1.2.410.200012.1.1.103",
];

/// Korean CAs' corporate and server policies (법인, 서버): never a person's certificate.
const NOT_PERSONAL: &[&str] = &[
    "1.2.410.200005.1.1.2",
    "1.2.410.200005.1.1.5",
    "1.2.410.200004.5.1.1.7",
    "1.2.410.200004.5.1.1.8",
    "1.2.410.200004.5.2.1.1",
    "1.2.410.200004.5.2.1.4",
    "1.2.410.200004.5.3.1.2",
    "1.2.410.200004.5.3.1.3",
    "1.2.410.200004.5.4.1.2",
    "1.2.410.200004.5.4.1.3",
    "1.2.410.200012.1.1.3",
    "1.2.410.200004.5.5.1.2",
];

/// What a certificate's policy OIDs say: fincert's own arc (`<arc>.<kind>.<1 restricted |
/// 2 general>`), then the Korean licensed CAs' policies (tables above; sources: the vendors'
/// published OID tables and browser-plugin policy lists). The first policy fincert knows
/// decides.
pub fn recognise_policies(arc: &str, policies: &[String]) -> PolicyUsage {
    for p in policies {
        if let Some(rest) = p.strip_prefix(arc).and_then(|r| r.strip_prefix('.')) {
            if rest.ends_with(".1") {
                return PolicyUsage::Known(Usage::Restricted);
            }
            if rest.ends_with(".2") {
                return PolicyUsage::Known(Usage::General);
            }
        }
        if GENERAL.contains(&p.as_str()) {
            return PolicyUsage::Known(Usage::General);
        }
        if RESTRICTED.contains(&p.as_str()) {
            return PolicyUsage::Known(Usage::Restricted);
        }
        if NOT_PERSONAL.contains(&p.as_str()) {
            return PolicyUsage::NotPersonal;
        }
    }
    PolicyUsage::Unknown
}

/// Usage recognised from a certificate's policy OIDs (`None`: not a known personal one).
pub fn usage_of_policies(arc: &str, policies: &[String]) -> Option<Usage> {
    match recognise_policies(arc, policies) {
        PolicyUsage::Known(u) => Some(u),
        PolicyUsage::NotPersonal | PolicyUsage::Unknown => None,
    }
}

/// A holder name fit for a subject: 1–40 characters of letters (Hangul, Latin…), spaces,
/// dots and hyphens; nothing that could read as DN syntax or the `()` serial separator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderName(String);

impl HolderName {
    /// Parses a name.
    pub fn parse(raw: &str) -> Result<Self, ProfileError> {
        let name = raw.trim();
        let count = name.chars().count();
        let ok = (1..=40).contains(&count)
            && name
                .chars()
                .all(|c| c.is_alphabetic() || c == ' ' || c == '.' || c == '-')
            && name.chars().next().is_some_and(char::is_alphabetic);
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(ProfileError::HolderName)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The subject common name in Korean practice: `<name>()<unique serial digits>`.
pub fn common_name(name: &HolderName, unique_digits: &str) -> String {
    format!("{}(){unique_digits}", name.as_str())
}

/// Fee in KRW for an issuance or renewal.
pub fn fee_krw(usage: Usage, general_fee: u32) -> u32 {
    match usage {
        Usage::Restricted => 0,
        Usage::General => general_fee,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_distinct_per_kind_and_usage() {
        let arc = "2.25.1";
        let all: Vec<_> = [CertKind::Financial, CertKind::Joint]
            .into_iter()
            .flat_map(|k| {
                [Usage::Restricted, Usage::General]
                    .map(move |u| policy_oid(arc, k, u).unwrap().to_string())
            })
            .collect();
        assert_eq!(
            all,
            ["2.25.1.1.1", "2.25.1.1.2", "2.25.1.2.1", "2.25.1.2.2"]
        );
        assert_eq!(
            usage_of_policies(arc, &["2.25.1.2.2".into()]),
            Some(Usage::General)
        );
        assert_eq!(
            usage_of_policies(arc, &["1.2.410.200005.1.1.4".into()]),
            Some(Usage::Restricted)
        );
        assert_eq!(
            usage_of_policies(arc, &["1.2.410.200004.5.2.1.2".into()]),
            Some(Usage::General)
        );
        assert_eq!(usage_of_policies(arc, &["1.2.3".into()]), None);
        assert_eq!(
            recognise_policies(arc, &["1.2.3".into()]),
            PolicyUsage::Unknown
        );
        assert_eq!(
            recognise_policies(arc, &["1.2.410.200005.1.1.5".into()]),
            PolicyUsage::NotPersonal
        );
        assert_eq!(
            recognise_policies(arc, &["1.2.3".into(), "1.2.410.200004.5.1.1.9".into()]),
            PolicyUsage::Known(Usage::Restricted)
        );
        assert_eq!(DEFAULT_FOREIGN_USAGE, Usage::Restricted);
    }

    #[test]
    fn holder_names_are_plain() {
        assert!(HolderName::parse("홍길동").is_ok());
        assert!(HolderName::parse("Jane Q. Public-Smith").is_ok());
        for bad in [
            "",
            " ",
            "홍()길동",
            "a,CN=evil",
            "x=y",
            "name\\n",
            &"가".repeat(41),
            "1234",
        ] {
            assert!(HolderName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            common_name(&HolderName::parse("홍길동").unwrap(), "0012"),
            "홍길동()0012"
        );
    }

    #[test]
    fn financial_keys_never_go_to_a_device_and_fees_follow_usage() {
        assert_eq!(
            check_storage(CertKind::Financial, Storage::Device),
            Err(ProfileError::FinancialOnDevice)
        );
        assert!(check_storage(CertKind::Joint, Storage::Device).is_ok());
        assert_eq!(fee_krw(Usage::General, 4400), 4400);
        assert_eq!(fee_krw(Usage::Restricted, 4400), 0);
    }
}
