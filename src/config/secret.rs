//! [`Secret`]: a configured secret (a partner's shared secret, a static AWS key). Readable by
//! the one call that needs it through [`Secret::expose`]; never printed by `Debug`, so a
//! logged `Settings` cannot leak it.

use serde::{Deserialize, Serialize};

/// A configured secret: readable by the code that needs it, never by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"<redacted>\""
        })
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}
