//! The text a holder is shown before approving a signature (what you see is what you sign).
//! Parsed once at the edge: trimmed, NFC-normalised (so the canonical digest covers one
//! spelling of the text, whichever the institution sent), 1 to [`MAX_CHARS`] characters, and
//! free of anything that can make the text look other than it is:
//!
//! - format characters (Unicode category Cf): every bidi control (U+202A–U+202E,
//!   U+2066–U+2069, U+200E/U+200F, U+061C), zero-width characters, the BOM, soft hyphens …;
//! - control characters (Cc) other than the line feed (a text may span lines; carriage
//!   returns, tabs and every other C0/C1 control are refused);
//! - line and paragraph separators (U+2028, U+2029), which renderers treat inconsistently;
//! - unpaired surrogates cannot reach here: a Rust string cannot hold one, and the JSON
//!   reader refuses a lone `\ud800` escape as malformed JSON before any rule runs.
//!
//! Nothing here does I/O.

use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization as _;

/// Longest display text, in characters (after normalisation).
pub const MAX_CHARS: usize = 500;

/// Why a display text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisplayTextError {
    /// Empty after trimming, or longer than [`MAX_CHARS`].
    #[error("display_text must be 1 to {MAX_CHARS} characters")]
    Length,
    /// A character that could make the text look other than it is.
    #[error(
        "display_text must not hold bidi controls, other format characters, control characters \
         (but line feed) or line/paragraph separators: U+{0:04X} at character {1}"
    )]
    NotAllowed(u32, usize),
}

/// A display text as approved: NFC, trimmed, without hidden or reordering characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayText(String);

impl DisplayText {
    /// Parses and normalises `raw`.
    pub fn parse(raw: &str) -> Result<Self, DisplayTextError> {
        let text: String = raw.trim().nfc().collect();
        if let Some((at, c)) = text.chars().enumerate().find(|(_, c)| !allowed(*c)) {
            return Err(DisplayTextError::NotAllowed(u32::from(c), at));
        }
        let chars = text.chars().count();
        if chars == 0 || chars > MAX_CHARS {
            return Err(DisplayTextError::Length);
        }
        Ok(Self(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Whether `c` may appear in a display text (see the module doc).
pub fn allowed(c: char) -> bool {
    if c == '\n' {
        return true;
    }
    !matches!(
        get_general_category(c),
        GeneralCategory::Format
            | GeneralCategory::Control
            | GeneralCategory::Surrogate
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_nfc_and_trims() {
        let t = DisplayText::parse("  caf\u{65}\u{301} 10,000원 \n").unwrap();
        assert_eq!(t.as_str(), "caf\u{e9} 10,000원");
        // Hangul typed as conjoining jamo becomes the precomposed syllable.
        let t = DisplayText::parse("\u{1112}\u{1161}\u{11ab}").unwrap();
        assert_eq!(t.as_str(), "\u{d55c}");
        assert_eq!(DisplayText::parse("a\nb").unwrap().as_str(), "a\nb");
    }

    #[test]
    fn refuses_reordering_hidden_and_control_characters() {
        for (raw, cp) in [
            ("pay 100\u{202e}0000001 KRW", 0x202e),
            ("pay \u{2066}100\u{2069}", 0x2066),
            ("a\u{200f}b", 0x200f),
            ("a\u{061c}b", 0x061c),
            ("a\u{200b}b", 0x200b),
            ("a\u{200d}b", 0x200d),
            ("a\u{feff}b", 0xfeff),
            ("a\u{ad}b", 0xad),
            ("a\u{7}b", 0x7),
            ("a\rb", 0xd),
            ("a\tb", 0x9),
            ("a\u{85}b", 0x85),
            ("a\u{2028}b", 0x2028),
            ("a\u{2029}b", 0x2029),
        ] {
            let at = raw.chars().position(|c| u32::from(c) == cp).unwrap();
            assert_eq!(
                DisplayText::parse(raw),
                Err(DisplayTextError::NotAllowed(cp, at)),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn refuses_empty_and_long_texts() {
        assert_eq!(DisplayText::parse("  "), Err(DisplayTextError::Length));
        assert_eq!(
            DisplayText::parse(&"x".repeat(MAX_CHARS + 1)),
            Err(DisplayTextError::Length)
        );
        assert!(DisplayText::parse(&"한".repeat(MAX_CHARS)).is_ok());
    }
}
