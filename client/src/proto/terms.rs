//! Terms documents (`GET /v1/terms`, a list of [`TermsDocument`]), agreed to in the first
//! enrolment step by code and version, in the reader's language where a text in it exists.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The current version of one terms document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The language `title` and `body` are in: the one asked for where the version has a
    /// text in it, else the language it was published in (a BCP 47 tag: `ko`, `en`).
    pub lang: String,
}

/// A language the terms are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Korean.
    Ko,
    /// English.
    En,
}

impl Lang {
    /// The language's tag (`ko`, `en`).
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ko => "ko",
            Lang::En => "en",
        }
    }
}

/// `GET /v1/terms?lang=ko`: the language to read the terms in (Korean when not given).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermsQuery {
    /// The language.
    #[serde(default)]
    pub lang: Option<Lang>,
}
