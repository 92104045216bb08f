//! The 6-digit PIN that unlocks a financial certificate's key.
//!
//! A `Pin` only exists parsed: exactly six ASCII digits, kept in zeroizing memory, never
//! printed (`Debug` shows `******`). fincert stores no verifier of it anywhere: the PIN is
//! checked by whether it unwraps the key (see `custody`).

use chrono::{Datelike, NaiveDate};
use zeroize::Zeroizing;

/// A syntactically valid PIN.
#[derive(Clone)]
pub struct Pin(Zeroizing<[u8; 6]>);

/// Why a PIN was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// Not exactly six digits.
    #[error("a PIN is exactly 6 digits")]
    Format,
    /// Easy to guess.
    #[error("this PIN is too easy to guess: {0}")]
    Trivial(&'static str),
}

impl Pin {
    /// Parses six ASCII digits.
    pub fn parse(raw: &str) -> Result<Self, PinError> {
        let bytes = raw.as_bytes();
        if bytes.len() != 6 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(PinError::Format);
        }
        let mut digits = Zeroizing::new([0u8; 6]);
        digits.copy_from_slice(bytes);
        Ok(Self(digits))
    }

    /// Parses a PIN being *set*: also refuses easy ones (repeated or sequential digits,
    /// repeated pairs or triples, and the holder's birth date in the usual orders).
    pub fn parse_new(raw: &str, birth_date: Option<NaiveDate>) -> Result<Self, PinError> {
        let pin = Self::parse(raw)?;
        let d: Vec<i16> = pin.0.iter().map(|b| i16::from(b - b'0')).collect();
        if d.iter().all(|x| *x == d[0]) {
            return Err(PinError::Trivial("all digits the same"));
        }
        if d.windows(2).all(|w| w[1] - w[0] == 1) || d.windows(2).all(|w| w[0] - w[1] == 1) {
            return Err(PinError::Trivial("sequential digits"));
        }
        if d[0..2] == d[2..4] && d[2..4] == d[4..6] {
            return Err(PinError::Trivial("a repeated pair"));
        }
        if d[0..3] == d[3..6] {
            return Err(PinError::Trivial("a repeated triple"));
        }
        if let Some(born) = birth_date {
            let (yy, mm, dd) = (born.year() % 100, born.month(), born.day());
            let forms = [
                format!("{yy:02}{mm:02}{dd:02}"),
                format!("{mm:02}{dd:02}{yy:02}"),
                format!("{dd:02}{mm:02}{yy:02}"),
            ];
            if forms.iter().any(|f| f.as_bytes() == pin.0.as_slice()) {
                return Err(PinError::Trivial("your birth date"));
            }
        }
        Ok(pin)
    }

    /// The digits, for the one place that binds them into a KMS MAC.
    pub fn expose(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(******)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_six_digits_parse() {
        assert!(Pin::parse("482915").is_ok());
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６", " 12345"] {
            assert_eq!(Pin::parse(bad).unwrap_err(), PinError::Format, "{bad:?}");
        }
    }

    #[test]
    fn trivial_pins_are_refused_when_set() {
        for trivial in [
            "000000", "111111", "123456", "654321", "012345", "987654", "121212", "123123",
        ] {
            assert!(
                matches!(Pin::parse_new(trivial, None), Err(PinError::Trivial(_))),
                "{trivial}"
            );
        }
        assert!(Pin::parse_new("482915", None).is_ok());
    }

    #[test]
    fn the_birth_date_is_refused_in_any_usual_order() {
        let born = NaiveDate::from_ymd_opt(1987, 3, 14).unwrap();
        for form in ["870314", "031487", "140387"] {
            assert_eq!(
                Pin::parse_new(form, Some(born)).unwrap_err(),
                PinError::Trivial("your birth date")
            );
        }
        assert!(Pin::parse_new("870315", Some(born)).is_ok());
    }

    #[test]
    fn debug_never_shows_the_digits() {
        assert_eq!(
            format!("{:?}", Pin::parse("482915").unwrap()),
            "Pin(******)"
        );
    }
}
