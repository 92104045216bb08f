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
    /// The language `title` and `body` are in (`en`, `ko`).
    pub lang: String,
}

/// A document version's title and text in another language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// The document's code.
    pub code: String,
    /// The version it renders.
    pub version: i32,
    /// Its language.
    pub lang: String,
    /// The title in it.
    pub title: String,
    /// The text in it.
    pub body: String,
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

/// The documents in `lang`: each one whose version has a translation into it takes that
/// title and text; the others keep the language they were published in (each says which).
pub fn in_language(
    documents: Vec<TermsDocument>,
    translations: &[Translation],
    lang: &str,
) -> Vec<TermsDocument> {
    documents
        .into_iter()
        .map(|mut doc| {
            if doc.lang != lang
                && let Some(t) = translations
                    .iter()
                    .find(|t| t.code == doc.code && t.version == doc.version && t.lang == lang)
            {
                doc.title.clone_from(&t.title);
                doc.body.clone_from(&t.body);
                doc.lang = lang.to_owned();
            }
            doc
        })
        .collect()
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
            lang: "en".into(),
        }
    }

    #[test]
    fn a_translation_renders_its_own_version_only() {
        let docs = vec![doc("service", 2, 0), doc("privacy", 1, 0)];
        let translations = [
            Translation {
                code: "service".into(),
                version: 1,
                lang: "ko".into(),
                title: "약관 v1".into(),
                body: "본문".into(),
            },
            Translation {
                code: "privacy".into(),
                version: 1,
                lang: "ko".into(),
                title: "개인정보".into(),
                body: "본문".into(),
            },
        ];
        let got = in_language(docs, &translations, "ko");
        // service v2 has no Korean text yet: it stays in English and says so.
        assert_eq!(
            (got[0].title.as_str(), got[0].lang.as_str()),
            ("service v2", "en")
        );
        assert_eq!(
            (got[1].title.as_str(), got[1].lang.as_str()),
            ("개인정보", "ko")
        );
        let english = in_language(got.clone(), &translations, "en");
        assert_eq!(
            english[1].title, "개인정보",
            "no English text: stays as it is"
        );
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
