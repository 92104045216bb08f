//! What a certificate may be used for (its certificate policy): the wire type itself, whose
//! wire name is its stored name; and the usage rule: which institutions a restricted-use
//! certificate may sign for.

pub use fincert_client::proto::certificates::Usage;

use super::sector::Sector;

/// The usage rule: a restricted-use certificate signs only for banks, card firms and
/// insurers; a general-purpose one for every institution.
pub fn usage_allows(usage: Usage, sector: Sector) -> bool {
    match usage {
        Usage::General => true,
        Usage::Restricted => matches!(sector, Sector::Bank | Sector::Card | Sector::Insurance),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricted_use_signs_only_for_bank_card_insurance() {
        for s in [Sector::Bank, Sector::Card, Sector::Insurance] {
            assert!(usage_allows(Usage::Restricted, s));
        }
        for s in [Sector::Securities, Sector::Public, Sector::Other] {
            assert!(!usage_allows(Usage::Restricted, s));
            assert!(usage_allows(Usage::General, s));
        }
    }
}
