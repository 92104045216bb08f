//! Revocation reasons: the one map between a stored CRLReason code (`certificates.
//! revocation_reason`), its name on the wire, the rcgen reason written into the CRL and the
//! reason in an OCSP answer.
//!
//! - [`RevocationReason`] is what a holder or operator may *give* (certificateHold and
//!   removeFromCRL are suspend and resume, not reasons).
//! - [`CrlReason`] is every code fincert may *store* and publish: the given reasons, plus
//!   certificateHold (6, written by suspension) and caCompromise (2).

use serde::{Deserialize, Serialize};

/// RFC 5280 revocation reasons a holder or operator may give (certificateHold and
/// removeFromCRL are suspend and resume, not reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

impl RevocationReason {
    /// The RFC 5280 CRLReason code.
    pub fn code(self) -> u8 {
        CrlReason::from(self).code()
    }

    /// From a stored code.
    pub fn from_code(code: i32) -> Option<Self> {
        [
            Self::Unspecified,
            Self::KeyCompromise,
            Self::AffiliationChanged,
            Self::Superseded,
            Self::CessationOfOperation,
            Self::PrivilegeWithdrawn,
        ]
        .into_iter()
        .find(|r| i32::from(r.code()) == code)
    }
}

/// A stored RFC 5280 CRLReason code, as published in the CRL and in OCSP answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrlReason {
    /// unspecified (0)
    Unspecified,
    /// keyCompromise (1)
    KeyCompromise,
    /// cACompromise (2)
    CaCompromise,
    /// affiliationChanged (3)
    AffiliationChanged,
    /// superseded (4)
    Superseded,
    /// cessationOfOperation (5)
    CessationOfOperation,
    /// certificateHold (6): a suspended certificate.
    CertificateHold,
    /// privilegeWithdrawn (9)
    PrivilegeWithdrawn,
}

impl CrlReason {
    const ALL: [Self; 8] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::CertificateHold,
        Self::PrivilegeWithdrawn,
    ];

    /// The RFC 5280 code (what is stored).
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::PrivilegeWithdrawn => 9,
        }
    }

    /// From a stored code; `None` for a code RFC 5280 does not define (or fincert never
    /// writes: 8 removeFromCRL, 10 aACompromise).
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|r| i32::from(r.code()) == code)
    }

    /// The reason as rcgen writes it into a CRL entry.
    pub fn to_rcgen(self) -> rcgen::RevocationReason {
        use rcgen::RevocationReason as R;
        match self {
            Self::Unspecified => R::Unspecified,
            Self::KeyCompromise => R::KeyCompromise,
            Self::CaCompromise => R::CaCompromise,
            Self::AffiliationChanged => R::AffiliationChanged,
            Self::Superseded => R::Superseded,
            Self::CessationOfOperation => R::CessationOfOperation,
            Self::CertificateHold => R::CertificateHold,
            Self::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
        }
    }

    /// The reason in an OCSP answer's `revokedInfo`.
    pub fn to_ocsp(self) -> x509_cert::ext::pkix::CrlReason {
        use x509_cert::ext::pkix::CrlReason as R;
        match self {
            Self::Unspecified => R::Unspecified,
            Self::KeyCompromise => R::KeyCompromise,
            Self::CaCompromise => R::CaCompromise,
            Self::AffiliationChanged => R::AffiliationChanged,
            Self::Superseded => R::Superseded,
            Self::CessationOfOperation => R::CessationOfOperation,
            Self::CertificateHold => R::CertificateHold,
            Self::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
        }
    }
}

impl From<RevocationReason> for CrlReason {
    fn from(r: RevocationReason) -> Self {
        match r {
            RevocationReason::Unspecified => Self::Unspecified,
            RevocationReason::KeyCompromise => Self::KeyCompromise,
            RevocationReason::AffiliationChanged => Self::AffiliationChanged,
            RevocationReason::Superseded => Self::Superseded,
            RevocationReason::CessationOfOperation => Self::CessationOfOperation,
            RevocationReason::PrivilegeWithdrawn => Self::PrivilegeWithdrawn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_their_codes() {
        for code in [0, 1, 3, 4, 5, 9] {
            assert_eq!(
                i32::from(RevocationReason::from_code(code).unwrap().code()),
                code
            );
        }
        assert!(
            RevocationReason::from_code(6).is_none(),
            "certificateHold is suspension"
        );
    }

    #[test]
    fn every_stored_code_maps_to_the_same_reason_in_crl_and_ocsp() {
        for code in 0..=12 {
            let Some(r) = CrlReason::from_code(code) else {
                assert!(matches!(code, 7 | 8 | 10..), "{code}");
                continue;
            };
            assert_eq!(i32::from(r.code()), code);
            // Both libraries number their enums by the RFC 5280 code.
            assert_eq!(r.to_rcgen() as i32, code, "rcgen {r:?}");
            assert_eq!(r.to_ocsp() as i32, code, "ocsp {r:?}");
        }
    }

    #[test]
    fn wire_names_are_rfc_5280_names() {
        assert_eq!(
            serde_json::to_string(&RevocationReason::KeyCompromise).unwrap(),
            "\"keyCompromise\""
        );
        assert_eq!(
            serde_json::from_str::<RevocationReason>("\"cessationOfOperation\"").unwrap(),
            RevocationReason::CessationOfOperation
        );
    }
}
