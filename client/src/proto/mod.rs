//! The wire types of every fincert route: one module per resource (the handler files of the
//! server's `src/api/`), each holding the request bodies the server reads and the answers it
//! writes. The server deserialises and serialises exactly these structs, so a client, the
//! server and the tests share one definition of each; `openapi.yaml` describes the same
//! shapes.
//!
//! | module           | routes                                                                    |
//! |------------------|---------------------------------------------------------------------------|
//! | [`health`]       | `/healthz`, `/readyz`                                                     |
//! | [`terms`]        | `/v1/terms`                                                               |
//! | [`enrolment`]    | `/v1/enrolments/**` (the four issuance steps)                             |
//! | [`auth`]         | `/v1/auth/sign-ins/**`, `/v1/auth/pin`, `/v1/auth/device/**`, `/v1/auth/refresh`, `/v1/auth/logout` |
//! | [`passkeys`]     | `/v1/passkeys/**`, `/v1/auth/passkey/**`                                  |
//! | [`certificates`] | `/v1/certificates/**`, `/v1/fees`                                         |
//! | [`foreign`]      | `/v1/foreign-certificates/**`                                             |
//! | [`consents`]     | `/v1/institutions`, `/v1/consents/**`                                     |
//! | [`institutions`] | `/v1/institution/certificates`, `/v1/signature-requests/**`, `/v1/login-requests`, `/v1/verify`, webhooks |
//! | [`approvals`]    | `/v1/approvals/**`                                                        |
//! | [`device_copies`] | `/v1/device-copies/**` (copying a device-kept certificate)              |
//! | [`oauth`]        | `/oauth2/token` (and the CSC token routes)                                |
//! | [`csc`]          | `/csc/v1/**`, `/csc/v2/**` (answers; CSC requests are read tolerantly)   |
//! | [`dev`]          | `/dev/outbox/{phone}`                                                     |
//! | [`audit`]        | `/v1/audit/checkpoints`, `/v1/audit/keys`                                  |
//!
//! Errors: every native route answers a [`Problem`] whose `code` is an [`ErrorCode`]; the
//! token endpoints (and CSC) answer an [`OAuthErrorBody`] with an [`OAuthErrorCode`]. The PKI
//! routes (CA certificates, CRL, OCSP) answer DER or PEM, not JSON: they have no module here.
//!
//! Byte order: a struct's fields are declared in the order the server writes them. List
//! answers ([`Items`]) and the few bodies the server once assembled as JSON values write the
//! members of every object in byte order of their names; [`Items`] keeps that order whatever
//! the order of its item's fields.

pub mod approvals;
pub mod audit;
pub mod auth;
pub mod certificates;
pub mod consents;
pub mod csc;
pub mod csc_oauth;
pub mod dev;
pub mod device_copies;
pub mod enrolment;
mod error;
pub mod foreign;
pub mod health;
pub mod institutions;
pub mod oauth;
pub mod passkeys;
pub mod terms;

pub use error::{ErrorCode, OAuthErrorBody, OAuthErrorCode, Problem};

use serde::{Deserialize, Serialize, Serializer};

/// A list answer: `{"items": [...]}`, each item's members in byte order of their names (the
/// order the server has always written lists in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: Deserialize<'de>"))]
pub struct Items<T> {
    /// The items.
    #[serde(serialize_with = "in_name_order")]
    pub items: Vec<T>,
}

impl<T> From<Vec<T>> for Items<T> {
    fn from(items: Vec<T>) -> Self {
        Self { items }
    }
}

/// Writes `value` with the members of every object, at every depth, in byte order of their
/// names: a `serde_json::Value` object keeps its members sorted (serde_json without its
/// `preserve_order` feature; the byte tests here and in the server would see it change).
pub(crate) fn in_name_order<T: Serialize, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serde_json::to_value(value)
        .map_err(serde::ser::Error::custom)?
        .serialize(serializer)
}

/// `as_str` and `parse` for a wire enum whose variants are unit variants with fixed names.
macro_rules! names {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            /// Every value.
            pub const ALL: &'static [Self] = &[$(Self::$v),*];
            /// Wire (and stored) name.
            pub fn as_str(self) -> &'static str { match self { $(Self::$v => $s),* } }
            /// Parses a wire (or stored) name.
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some(Self::$v),)* _ => None } }
        }
    };
}
pub(crate) use names;

/// For tests of a `names!` enum: each of `all` parses back from its name, and its name is what
/// serde writes.
#[cfg(test)]
pub(crate) fn names_round_trip_for<T>(
    all: &[T],
    as_str: fn(T) -> &'static str,
    parse: fn(&str) -> Option<T>,
) where
    T: Copy + PartialEq + std::fmt::Debug + Serialize,
{
    for &v in all {
        assert_eq!(parse(as_str(v)), Some(v));
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            format!("\"{}\"", as_str(v))
        );
    }
}

/// `Debug` showing only the named fields: the others hold secrets or personal data (PINs,
/// codes, passwords, key files, refresh tokens, identity details) and never reach a log.
macro_rules! debug_without_secrets {
    ($t:ident { $($f:ident),* $(,)? }) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    $(.field(stringify!($f), &self.$f))*
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use debug_without_secrets;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Declared {
        zeta: u8,
        alpha: Inner,
    }

    #[derive(Serialize)]
    struct Inner {
        second: bool,
        first: bool,
    }

    /// List items are written in byte order of their member names at every depth, whatever
    /// order their struct declares (the server's list answers have always read so).
    #[test]
    fn lists_write_members_in_name_order() {
        let list = Items::from(vec![Declared {
            zeta: 1,
            alpha: Inner {
                second: true,
                first: false,
            },
        }]);
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"{"items":[{"alpha":{"first":false,"second":true},"zeta":1}]}"#
        );
    }
}
