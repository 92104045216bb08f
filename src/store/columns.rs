//! Typed columns: how each domain value is kept in its column, and the one policy for a stored
//! value that does not parse. Rows leave `store` typed (a status is a [`CertStatus`], an id a
//! [`Uuid`]), so no service parses a stored string again.
//!
//! A value that does not parse is a **corrupt row**: [`StoreError::Corrupt`] naming the table
//! and the column, logged with its cause where it becomes HTTP (a 500 `internal_error`), and
//! never mapped to a default or to some other status.
//!
//! The stored forms are exactly the ones the types have always written (`as_str` names,
//! hyphenated lower-case UUIDs, RFC 5280 reason codes), so reading and writing through these
//! types leaves the database byte for byte as it was, and no migration is needed. The glue is
//! here, not in `domain/`: the domain types know nothing of sea-orm.

use std::borrow::Cow;

use sea_orm::Value;
use uuid::Uuid;

use super::StoreError;
use crate::domain::{
    cert_kind::{CertKind, Storage},
    cert_status::CertStatus,
    delivery_status::DeliveryStatus,
    enrolment_step::{Purpose as EnrolmentPurpose, Step},
    institution_status::InstitutionStatus,
    key_algorithm::KeyAlgorithm,
    medium_kind::MediumKind,
    owner::OwnerId,
    person::Phone,
    revocation_reason::CrlReason,
    sector::Sector,
    usage::Usage,
};
use fincert_client::proto::institutions::{
    Algorithm as RequestAlgorithm, Format as RequestFormat, Purpose as RequestPurpose,
    Status as RequestStatus,
};

/// A value kept as text in one column.
pub trait Text: Sized {
    /// What it is, for the corrupt-row error ("certificate status").
    const WHAT: &'static str;
    /// Parses its stored text; `None` if the text is not one this type writes.
    fn from_text(raw: &str) -> Option<Self>;
    /// Its stored text.
    fn to_text(&self) -> Cow<'_, str>;
}

/// The enums with a stored name (`as_str`) and its parser (`parse`).
macro_rules! named {
    ($($t:ty => $what:literal),* $(,)?) => {$(
        impl Text for $t {
            const WHAT: &'static str = $what;
            fn from_text(raw: &str) -> Option<Self> {
                <$t>::parse(raw)
            }
            fn to_text(&self) -> Cow<'_, str> {
                Cow::Borrowed(self.as_str())
            }
        }
    )*};
}

named!(
    CertStatus => "certificate status",
    CertKind => "certificate kind",
    Storage => "key storage",
    Usage => "usage",
    Sector => "sector",
    KeyAlgorithm => "key algorithm",
    InstitutionStatus => "institution status",
    DeliveryStatus => "delivery status",
    MediumKind => "security medium kind",
    Step => "enrolment step",
    EnrolmentPurpose => "enrolment purpose",
    RequestStatus => "signature request status",
    RequestPurpose => "signature request purpose",
    RequestFormat => "signature format",
    RequestAlgorithm => "signature algorithm",
);

impl Text for Uuid {
    const WHAT: &'static str = "UUID";
    /// Only the form fincert writes (hyphenated, lower case): every query by id binds that
    /// form, so a row read in another one could not be found again by its own id.
    fn from_text(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw)
            .ok()
            .filter(|u| u.hyphenated().encode_lower(&mut Uuid::encode_buffer()) == raw)
    }
    fn to_text(&self) -> Cow<'_, str> {
        Cow::Owned(self.hyphenated().to_string())
    }
}

impl Text for OwnerId {
    const WHAT: &'static str = "owner id";
    fn from_text(raw: &str) -> Option<Self> {
        OwnerId::parse(raw).ok()
    }
    fn to_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.as_str())
    }
}

impl Text for Phone {
    const WHAT: &'static str = "phone number";
    fn from_text(raw: &str) -> Option<Self> {
        Phone::parse(raw).ok()
    }
    fn to_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.as_str())
    }
}

/// The corrupt-row error for `table.column`.
pub fn corrupt(
    table: &'static str,
    column: &'static str,
    problem: impl Into<String>,
) -> StoreError {
    StoreError::Corrupt {
        table,
        column,
        problem: problem.into(),
    }
}

/// Parses `raw`, the stored text of `table.column`.
pub fn parse<T: Text>(
    table: &'static str,
    column: &'static str,
    raw: &str,
) -> Result<T, StoreError> {
    T::from_text(raw).ok_or_else(|| {
        // The start of the text is enough to recognise it; a corrupt value may be anything.
        let shown: String = raw.chars().take(40).collect();
        corrupt(
            table,
            column,
            format!("{shown:?} is not a stored {}", T::WHAT),
        )
    })
}

/// Parses a nullable column: NULL stays `None`.
pub fn parse_opt<T: Text>(
    table: &'static str,
    column: &'static str,
    raw: Option<&str>,
) -> Result<Option<T>, StoreError> {
    raw.map(|r| parse(table, column, r)).transpose()
}

/// The stored text of `v`, to bind.
pub fn text<T: Text>(v: &T) -> Value {
    v.to_text().into_owned().into()
}

/// The stored text of `v` or NULL, to bind.
pub fn text_opt<T: Text>(v: Option<&T>) -> Value {
    v.map(|v| v.to_text().into_owned()).into()
}

/// Parses a stored RFC 5280 CRLReason code (`certificates.revocation_reason`).
pub fn crl_reason(
    table: &'static str,
    column: &'static str,
    code: Option<i32>,
) -> Result<Option<CrlReason>, StoreError> {
    code.map(|c| {
        CrlReason::from_code(c)
            .ok_or_else(|| corrupt(table, column, format!("{c} is not a stored CRLReason code")))
    })
    .transpose()
}

/// The stored code of a CRLReason.
pub fn crl_code(reason: Option<CrlReason>) -> Option<i32> {
    reason.map(|r| i32::from(r.code()))
}

/// Parses a JSON column.
pub fn json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    column: &'static str,
    raw: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(raw)
        .map_err(|e| corrupt(table, column, format!("not the JSON stored: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Text + PartialEq + std::fmt::Debug>(values: &[T]) {
        for v in values {
            let text = v.to_text().into_owned();
            assert_eq!(parse::<T>("t", "c", &text).unwrap(), *v, "{text}");
        }
    }

    #[test]
    fn every_stored_name_reads_back_as_written() {
        round_trips(&[
            CertStatus::Active,
            CertStatus::Suspended,
            CertStatus::Revoked,
            CertStatus::Expired,
        ]);
        round_trips(&[Usage::Restricted, Usage::General]);
        round_trips(&[KeyAlgorithm::Rsa2048, KeyAlgorithm::P256]);
        round_trips(&[RequestStatus::Pending, RequestStatus::Signed]);
        round_trips(&[Uuid::new_v4(), Uuid::nil()]);
        round_trips(&[OwnerId::parse("ca:issuing").unwrap()]);
        assert_eq!(CertStatus::Active.to_text(), "active");
        assert_eq!(
            text(&Uuid::nil()),
            Value::from("00000000-0000-0000-0000-000000000000")
        );
    }

    #[test]
    fn a_value_that_does_not_parse_is_a_corrupt_row_naming_its_column() {
        let err = parse::<CertStatus>("certificates", "status", "on_hold").unwrap_err();
        let StoreError::Corrupt {
            table,
            column,
            problem,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!((*table, *column), ("certificates", "status"));
        assert!(problem.contains("on_hold") && problem.contains("certificate status"));
        // Only the form fincert writes is an id: upper case or braces would not be found again.
        let id = Uuid::new_v4();
        for other in [
            id.hyphenated().to_string().to_uppercase(),
            id.simple().to_string(),
            format!("{{{id}}}"),
        ] {
            assert!(parse::<Uuid>("t", "id", &other).is_err(), "{other}");
        }
        assert!(parse_opt::<Uuid>("t", "id", None).unwrap().is_none());
        assert!(crl_reason("t", "r", Some(7)).is_err());
        assert_eq!(
            crl_reason("t", "r", Some(6)).unwrap(),
            Some(CrlReason::CertificateHold)
        );
        assert!(json::<Vec<String>>("t", "j", "[1]").is_err());
        // A long corrupt value is cut short in the message.
        let long = "x".repeat(1000);
        let StoreError::Corrupt { problem, .. } = parse::<Usage>("t", "u", &long).unwrap_err()
        else {
            panic!()
        };
        assert!(problem.len() < 100, "{problem}");
    }
}
