//! How a [`PkiError`] reads over HTTP: profile and input problems are 4xx with the rule that
//! refused them, lifecycle refusals are 409s, a CA that cannot sign is a 503.

use super::{ApiError, ErrorCode, Kind};
use crate::pki::PkiError;

impl From<PkiError> for ApiError {
    fn from(e: PkiError) -> Self {
        use crate::pki::{PkiError as P, lifecycle::LifecycleError as L, x509::X509Error as X};
        match e {
            P::Profile(p) => Self::rule(
                Kind::Unprocessable,
                ErrorCode::InvalidProfile,
                "Invalid certificate request",
                p.to_string(),
            ),
            P::Input(X::BadSignature) => Self::rule(
                Kind::Unprocessable,
                ErrorCode::CsrSignatureInvalid,
                "CSR signature invalid",
                X::BadSignature.to_string(),
            ),
            P::Input(X::WeakKey(why)) => Self::rule(
                Kind::Unprocessable,
                ErrorCode::WeakKey,
                "Key not accepted",
                format!("key not accepted: {why}"),
            ),
            P::Input(X::Malformed(what)) => Self::rule(
                Kind::BadRequest,
                ErrorCode::MalformedInput,
                "Malformed input",
                format!("not a well-formed {what}"),
            ),
            P::Input(X::Encode(_)) | P::Encoding(_) => {
                tracing::error!(error = %e, "PKI encoding failed");
                Self::Internal
            }
            P::Lifecycle(l @ L::RenewalNotOpen { .. }) => Self::rule(
                Kind::Conflict,
                ErrorCode::RenewalNotOpen,
                "Renewal not open",
                l.to_string(),
            ),
            P::Lifecycle(l @ L::AlreadyRenewed) => Self::rule(
                Kind::Conflict,
                ErrorCode::AlreadyRenewed,
                "Already renewed",
                l.to_string(),
            ),
            P::Lifecycle(l @ L::NotAllowed { .. }) => Self::rule(
                Kind::Conflict,
                ErrorCode::IllegalTransition,
                "Not allowed in this status",
                l.to_string(),
            ),
            P::IssuingCaRevoked => Self::rule(
                Kind::Conflict,
                ErrorCode::IssuingCaRevoked,
                "Issuing CA revoked",
                e.to_string(),
            ),
            P::Concurrent => Self::rule(
                Kind::Conflict,
                ErrorCode::ConcurrentChange,
                "Changed concurrently",
                "the certificate changed concurrently; retry",
            ),
            P::KeySource(why) => Self::rule(
                Kind::Unprocessable,
                ErrorCode::InvalidKeySource,
                "Invalid key source",
                why,
            ),
            P::NotFound => Self::rule(
                Kind::NotFound,
                ErrorCode::CertificateNotFound,
                "Certificate not found",
                "no such certificate",
            ),
            P::NotInitialized | P::AlreadyInitialized | P::CaKey { .. } => Self::rule(
                Kind::Unavailable,
                ErrorCode::CaNotInitialized,
                "CA not initialised",
                e.to_string(),
            ),
            P::Signer(cause) => {
                tracing::error!(error = %cause, "CA key could not sign");
                Self::rule(
                    Kind::Unavailable,
                    ErrorCode::CaUnavailable,
                    "CA unavailable",
                    "the CA's key could not sign; nothing was changed, retry later",
                )
            }
            P::Foreign(f) => {
                use crate::pki::foreign::ForeignError as F;
                let (status, code) = match f {
                    F::Malformed => (Kind::BadRequest, ErrorCode::MalformedInput),
                    F::Untrusted => (Kind::Unprocessable, ErrorCode::UntrustedChain),
                    F::NotValidNow => (Kind::Unprocessable, ErrorCode::CertificateNotValidNow),
                    F::NotForSigning => (Kind::Unprocessable, ErrorCode::NotASigningCertificate),
                    F::Pkcs12Unreadable => (Kind::Unprocessable, ErrorCode::Pkcs12Unreadable),
                    F::Pkcs12NoKey => (Kind::Unprocessable, ErrorCode::Pkcs12NoKey),
                    F::KeyMismatch => (Kind::Unprocessable, ErrorCode::UnsupportedKey),
                    F::AlreadyRegistered => (Kind::Conflict, ErrorCode::AlreadyRegistered),
                    F::KeyFileMalformed => (Kind::BadRequest, ErrorCode::MalformedInput),
                    F::KeyFileUnreadable => (Kind::Unprocessable, ErrorCode::KeyFileUnreadable),
                    F::UnsupportedCipher => {
                        (Kind::Unprocessable, ErrorCode::UnsupportedKeyFileCipher)
                    }
                    F::KdfTooCostly => (Kind::Unprocessable, ErrorCode::KdfTooCostly),
                };
                Self::rule(status, code, "Certificate not accepted", f.to_string())
            }
            P::FeeNotConfirmed { .. } => Self::rule(
                Kind::Conflict,
                ErrorCode::FeeNotConfirmed,
                "Fee not confirmed",
                format!("{e}; nothing was issued, renewed or charged"),
            ),
            P::AutoRenewalUnavailable => Self::rule(
                Kind::Unprocessable,
                ErrorCode::AutoRenewalUnavailable,
                "Automatic renewal unavailable",
                e.to_string(),
            ),
            P::Custody(c) => c.into(),
            P::Store(s) => s.into(),
            P::Heavy(h) => h.into(),
        }
    }
}
