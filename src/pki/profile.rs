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

/// Usage recognised from a certificate's policy OIDs: fincert's own arc, then the Korean CAs'
/// personal-certificate policies (KFTC yessign, KICA signGATE, CrossCert, KOSCOM).
pub fn usage_of_policies(arc: &str, policies: &[String]) -> Option<Usage> {
    const GENERAL: &[&str] = &[
        "1.2.410.200005.1.1.1",
        "1.2.410.200004.5.2.1.2",
        "1.2.410.200004.5.4.1.1",
        "1.2.410.200004.5.1.1.5",
    ];
    const RESTRICTED: &[&str] = &[
        "1.2.410.200005.1.1.4",
        "1.2.410.200005.1.1.6.2",
        "1.2.410.200004.5.2.1.7.1",
        "1.2.410.200004.5.2.1.7.3",
        "1.2.410.200004.5.4.1.101",
    ];
    for p in policies {
        if let Some(rest) = p.strip_prefix(arc).and_then(|r| r.strip_prefix('.')) {
            if rest.ends_with(".1") {
                return Some(Usage::Restricted);
            }
            if rest.ends_with(".2") {
                return Some(Usage::General);
            }
        }
        if GENERAL.contains(&p.as_str()) {
            return Some(Usage::General);
        }
        if RESTRICTED.contains(&p.as_str()) {
            return Some(Usage::Restricted);
        }
    }
    None
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
