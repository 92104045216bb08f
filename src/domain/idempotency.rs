//! `Idempotency-Key` values and the fingerprint of the request they were first used with.

use aws_lc_rs::digest;

/// A client-chosen key: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Empty or longer than 255 characters.
    #[error("must be 1 to 255 characters")]
    Length,
    /// Contains a character outside visible ASCII.
    #[error("must be visible ASCII characters only")]
    Charset,
}

impl IdempotencyKey {
    /// Parses a header value.
    pub fn parse(raw: &str) -> Result<Self, KeyError> {
        if raw.is_empty() || raw.len() > 255 {
            return Err(KeyError::Length);
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(KeyError::Charset);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 over method, path and body: a retry must match all three to replay.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in [method.as_bytes(), path.as_bytes(), body] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_visible_ascii() {
        assert!(IdempotencyKey::parse("9b1f-4c2e_retry.1").is_ok());
        assert_eq!(IdempotencyKey::parse(""), Err(KeyError::Length));
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(256)),
            Err(KeyError::Length)
        );
        assert_eq!(IdempotencyKey::parse("a b"), Err(KeyError::Charset));
        assert_eq!(IdempotencyKey::parse("키"), Err(KeyError::Charset));
    }

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_ne!(
            fingerprint("POST", "/a", b"bc"),
            fingerprint("POST", "/ab", b"c")
        );
        assert_eq!(
            fingerprint("POST", "/a", b"x"),
            fingerprint("POST", "/a", b"x")
        );
    }
}
