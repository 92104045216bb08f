//! What enrolment learns about a person: a Korean mobile number, a birth date, a customer
//! number at the issuing institution, and a name (reusing the certificate holder-name rules).

use chrono::{Datelike, NaiveDate};

/// Why a personal detail was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonError {
    /// Not a Korean mobile number.
    #[error("a mobile number is 010-1234-5678 (10 or 11 digits starting 01)")]
    Phone,
    /// Not a plausible birth date.
    #[error("a birth date is YYYY-MM-DD, in the past")]
    BirthDate,
    /// Not a customer number.
    #[error("a customer number is 4 to 20 letters or digits")]
    CustomerNumber,
}

/// A Korean mobile number, digits only (`01012345678`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Accepts `010-1234-5678`, `01012345678`, `+82 10 1234 5678`.
    pub fn parse(raw: &str) -> Result<Self, PersonError> {
        let digits: String = raw.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        let digits = digits
            .strip_prefix("+82")
            .map(|rest| format!("0{rest}"))
            .unwrap_or(digits);
        let ok = (10..=11).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && digits.starts_with("01")
            && matches!(
                digits.as_bytes()[2],
                b'0' | b'1' | b'6' | b'7' | b'8' | b'9'
            );
        if ok {
            Ok(Self(digits))
        } else {
            Err(PersonError::Phone)
        }
    }

    /// Digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `010-****-5678`: for screens and logs.
    pub fn masked(&self) -> String {
        let d = &self.0;
        format!("{}-****-{}", &d[..3], &d[d.len() - 4..])
    }
}

/// Parses a birth date `YYYY-MM-DD` that lies between 1900 and `today`.
pub fn parse_birth_date(raw: &str, today: NaiveDate) -> Result<NaiveDate, PersonError> {
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| PersonError::BirthDate)?;
    if date.year() < 1900 || date > today {
        return Err(PersonError::BirthDate);
    }
    Ok(date)
}

/// A customer (or account) number at the issuing institution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerNumber(String);

impl CustomerNumber {
    /// 4 to 20 ASCII letters or digits (hyphens dropped).
    pub fn parse(raw: &str) -> Result<Self, PersonError> {
        let s: String = raw.chars().filter(|c| *c != '-').collect();
        if (4..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s))
        } else {
            Err(PersonError::CustomerNumber)
        }
    }

    /// The number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_korean_mobiles() {
        for ok in [
            "010-1234-5678",
            "01012345678",
            "+82 10 1234 5678",
            "011-123-4567",
        ] {
            assert!(Phone::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["02-123-4567", "010-1234-567a", "1234", "013-1234-5678", ""] {
            assert_eq!(Phone::parse(bad), Err(PersonError::Phone), "{bad}");
        }
        assert_eq!(
            Phone::parse("010-1234-5678").unwrap().masked(),
            "010-****-5678"
        );
    }

    #[test]
    fn birth_dates_are_past_dates() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert!(parse_birth_date("1987-03-14", today).is_ok());
        for bad in ["1987-02-30", "2027-01-01", "1899-12-31", "14/03/1987", ""] {
            assert!(parse_birth_date(bad, today).is_err(), "{bad}");
        }
    }

    #[test]
    fn customer_numbers_are_plain() {
        assert_eq!(
            CustomerNumber::parse("110-123-456789").unwrap().as_str(),
            "110123456789"
        );
        assert!(CustomerNumber::parse("12").is_err());
        assert!(CustomerNumber::parse("12 34 56").is_err());
    }
}
