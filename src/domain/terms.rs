//! Terms documents and which version of each is current.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// One version of one terms document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermsDocument {
    /// Stable code, e.g. `service`, `privacy`.
    pub code: String,
    /// Version, increasing.
    pub version: i32,
    /// Title shown to the user.
    pub title: String,
    /// Full text.
    pub body: String,
    /// Whether enrolment needs consent to it.
    pub required: bool,
    /// From when this version applies.
    pub effective_at: DateTime<Utc>,
}

/// The current version of each code at `now`: the highest version already in effect.
/// Versions scheduled for the future are not yet current. Ordered by code.
pub fn current(documents: Vec<TermsDocument>, now: DateTime<Utc>) -> Vec<TermsDocument> {
    let mut by_code: BTreeMap<String, TermsDocument> = BTreeMap::new();
    for doc in documents.into_iter().filter(|d| d.effective_at <= now) {
        match by_code.get(&doc.code) {
            Some(existing) if existing.version >= doc.version => {}
            _ => {
                by_code.insert(doc.code.clone(), doc);
            }
        }
    }
    by_code.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(code: &str, version: i32, effective: i64) -> TermsDocument {
        TermsDocument {
            code: code.into(),
            version,
            title: format!("{code} v{version}"),
            body: String::new(),
            required: true,
            effective_at: DateTime::from_timestamp(effective, 0).unwrap(),
        }
    }

    #[test]
    fn picks_the_highest_version_in_effect() {
        let now = DateTime::from_timestamp(1000, 0).unwrap();
        let docs = vec![
            doc("service", 1, 0),
            doc("service", 2, 500),
            doc("service", 3, 2000),
            doc("privacy", 1, 0),
        ];
        let current = current(docs, now);
        let got: Vec<_> = current
            .iter()
            .map(|d| (d.code.as_str(), d.version))
            .collect();
        assert_eq!(got, vec![("privacy", 1), ("service", 2)]);
    }

    #[test]
    fn nothing_in_effect_yet_means_nothing_current() {
        let now = DateTime::from_timestamp(10, 0).unwrap();
        assert!(current(vec![doc("service", 1, 20)], now).is_empty());
    }
}
