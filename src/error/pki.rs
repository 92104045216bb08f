//! How a [`PkiError`] reads over HTTP: profile and input problems are 4xx with the rule that
//! refused them, lifecycle refusals are 409s, a CA that cannot sign is a 503.

use super::{ApiError, Kind};
use crate::pki::PkiError;

impl From<PkiError> for ApiError {
    fn from(e: PkiError) -> Self {
        use crate::pki::{PkiError as P, lifecycle::LifecycleError as L, x509::X509Error as X};
        match e {
            P::Profile(p) => Self::rule(
                Kind::Unprocessable,
                "invalid_profile",
                "Invalid certificate request",
                p.to_string(),
            ),
            P::Input(X::BadSignature) => Self::rule(
                Kind::Unprocessable,
                "csr_signature_invalid",
                "CSR signature invalid",
                X::BadSignature.to_string(),
            ),
            P::Input(X::WeakKey(why)) => Self::rule(
                Kind::Unprocessable,
                "weak_key",
                "Key not accepted",
                format!("key not accepted: {why}"),
            ),
            P::Input(X::Malformed(what)) => Self::rule(
                Kind::BadRequest,
                "malformed_input",
                "Malformed input",
                format!("not a well-formed {what}"),
            ),
            P::Input(X::Encode(_)) | P::Encoding(_) => {
                tracing::error!(error = %e, "PKI encoding failed");
                Self::Internal
            }
            P::Lifecycle(l @ L::RenewalNotOpen { .. }) => Self::rule(
                Kind::Conflict,
                "renewal_not_open",
                "Renewal not open",
                l.to_string(),
            ),
            P::Lifecycle(l @ L::AlreadyRenewed) => Self::rule(
                Kind::Conflict,
                "already_renewed",
                "Already renewed",
                l.to_string(),
            ),
            P::Lifecycle(l @ L::NotAllowed { .. }) => Self::rule(
                Kind::Conflict,
                "illegal_transition",
                "Not allowed in this status",
                l.to_string(),
            ),
            P::Concurrent => Self::rule(
                Kind::Conflict,
                "concurrent_change",
                "Changed concurrently",
                "the certificate changed concurrently; retry",
            ),
            P::KeySource(why) => Self::rule(
                Kind::Unprocessable,
                "invalid_key_source",
                "Invalid key source",
                why,
            ),
            P::NotFound => Self::rule(
                Kind::NotFound,
                "certificate_not_found",
                "Certificate not found",
                "no such certificate",
            ),
            P::NotInitialized | P::AlreadyInitialized | P::CaKey { .. } => Self::rule(
                Kind::Unavailable,
                "ca_not_initialized",
                "CA not initialised",
                e.to_string(),
            ),
            P::Signer(cause) => {
                tracing::error!(error = %cause, "CA key could not sign");
                Self::rule(
                    Kind::Unavailable,
                    "ca_unavailable",
                    "CA unavailable",
                    "the CA's key could not sign; nothing was changed, retry later",
                )
            }
            P::Foreign(f) => {
                use crate::pki::foreign::ForeignError as F;
                let (status, code) = match f {
                    F::Malformed => (Kind::BadRequest, "malformed_input"),
                    F::Untrusted => (Kind::Unprocessable, "untrusted_chain"),
                    F::NotValidNow => (Kind::Unprocessable, "certificate_not_valid_now"),
                    F::NotForSigning => (Kind::Unprocessable, "not_a_signing_certificate"),
                    F::UnrecognizedPolicy => (Kind::Unprocessable, "unrecognized_policy"),
                    F::Pkcs12Unreadable => (Kind::Unprocessable, "pkcs12_unreadable"),
                    F::Pkcs12NoKey => (Kind::Unprocessable, "pkcs12_no_key"),
                    F::KeyMismatch => (Kind::Unprocessable, "unsupported_key"),
                    F::AlreadyRegistered => (Kind::Conflict, "already_registered"),
                };
                Self::rule(status, code, "Certificate not accepted", f.to_string())
            }
            P::Custody(c) => c.into(),
            P::Store(s) => s.into(),
        }
    }
}
