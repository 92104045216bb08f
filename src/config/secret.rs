//! [`Secret`]: a configured secret (a partner's shared secret, a static AWS key, an HSM's user
//! PIN). Readable by the one call that needs it through [`Secret::expose`]; never printed by
//! `Debug` nor written by `Serialize`, so neither a logged `Settings` nor `fincert config
//! check` can leak it; wiped from memory when dropped.

use serde::{Deserialize, Serialize, Serializer};

/// What a set secret serializes and debug-prints as.
pub const REDACTED: &str = "<redacted>";

/// A configured secret: readable by the code that needs it, never by `Debug` or `Serialize`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

/// Serialization is for display (the defaults figment layers under the file hold no secret):
/// an empty secret stays empty, so "unset" is visible; a set one is [`REDACTED`].
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0.is_empty() { "" } else { REDACTED })
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_neither_serialize_nor_print() {
        let set = Secret::from("hunter2-hunter2-hunter2");
        assert_eq!(serde_json::to_string(&set).unwrap(), "\"<redacted>\"");
        assert_eq!(format!("{set:?}"), "\"<redacted>\"");
        assert_eq!(serde_json::to_string(&Secret::default()).unwrap(), "\"\"");
        let read: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(read.expose(), "abc");
    }
}
