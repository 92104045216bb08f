//! The error documents: the RFC 7807 [`Problem`] every native route answers, with its stable
//! [`ErrorCode`], and the RFC 6749 §5.2 [`OAuthErrorBody`] of the token endpoints and the CSC
//! API, with its [`OAuthErrorCode`].
//!
//! A code is its wire string; both enums end in `Other`, so a code a newer server adds still
//! parses (as `Other("...")`) in an older client. The server never sends `Other`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A closed set of wire strings as an enum with an `Other` fallback: `ALL`, `as_str`,
/// `parse`, `Display`, string comparison and serde as the wire string.
macro_rules! codes {
    (
        $(#[$doc:meta])*
        $name:ident { $( $(#[$m:meta])* $v:ident => $s:literal, )* }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$m])* $v, )*
            /// A code this version does not know (a newer server's), as sent.
            Other(String),
        }

        impl $name {
            /// Every known code.
            pub const ALL: &'static [Self] = &[$(Self::$v),*];

            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$v => $s,)*
                    Self::Other(s) => s,
                }
            }

            /// The code a wire string names (`Other` when this version does not know it).
            pub fn parse(s: &str) -> Self {
                match s {
                    $($s => Self::$v,)*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self::parse(&String::deserialize(d)?))
            }
        }
    };
}

codes! {
    /// The stable code of a problem document: what a client switches on. The status each
    /// usually comes with is in its description.
    ErrorCode {
        // The framework and the request's form.
        /// 404: no route has this path.
        RouteNotFound => "route_not_found",
        /// 405: the path exists, not with this method (`Allow` lists the methods).
        MethodNotAllowed => "method_not_allowed",
        /// 400: the body is not the JSON the route reads, or a field breaks its rule.
        InvalidJson => "invalid_json",
        /// 415: the body is not of a media type the route reads.
        UnsupportedMediaType => "unsupported_media_type",
        /// 413: the body exceeds the limit.
        PayloadTooLarge => "payload_too_large",
        /// 400: a query parameter is malformed.
        InvalidQuery => "invalid_query",
        /// 400: a path parameter is malformed.
        InvalidPath => "invalid_path",
        /// 400: a header is missing or malformed (e.g. `Idempotency-Key`).
        InvalidHeader => "invalid_header",
        /// 503: a dependency (the database) is unavailable; nothing was changed, retry.
        ServiceUnavailable => "service_unavailable",
        /// 500: our fault; quote the request id to support.
        InternalError => "internal_error",
        /// 400 made by the HTTP layer.
        BadRequest => "bad_request",
        /// 401 made by the HTTP layer.
        Unauthorized => "unauthorized",
        /// 403 made by the HTTP layer.
        Forbidden => "forbidden",
        /// 406 made by the HTTP layer.
        NotAcceptable => "not_acceptable",
        /// 408: the request was not received in time.
        RequestTimeout => "request_timeout",
        /// 411: the request needs a `Content-Length`.
        LengthRequired => "length_required",
        /// 414: the URI is too long.
        UriTooLong => "uri_too_long",
        /// 431: the headers are too large.
        HeadersTooLarge => "headers_too_large",
        /// 504: a dependency did not answer in time.
        GatewayTimeout => "gateway_timeout",

        // Idempotency and development aids.
        /// 409: a request with this `Idempotency-Key` is still running; retry shortly.
        IdempotencyInProgress => "idempotency_in_progress",
        /// 422: this `Idempotency-Key` was used with a different request.
        IdempotencyKeyReused => "idempotency_key_reused",
        /// 404: the development outbox is not exposed.
        DevOutboxDisabled => "dev_outbox_disabled",
        /// 404: no message was sent to this phone.
        NoMessage => "no_message",

        // Enrolment, sign-in, tokens, passkeys.
        /// 429: too many attempts; retry after `Retry-After` seconds.
        RateLimited => "rate_limited",
        /// 404: no such enrolment.
        EnrolmentNotFound => "enrolment_not_found",
        /// 410: the enrolment expired; start again.
        EnrolmentExpired => "enrolment_expired",
        /// 409: the enrolment waits for another step.
        WrongStep => "wrong_step",
        /// 422: not every current required terms document was agreed to.
        TermsNotAgreed => "terms_not_agreed",
        /// 422: the identity details do not match the institution's records.
        IdentityMismatch => "identity_mismatch",
        /// 422: the phone code is wrong.
        WrongCode => "wrong_code",
        /// 410: the phone code expired or was used up.
        CodeExpired => "code_expired",
        /// 429: too many codes were sent for this enrolment.
        TooManyCodes => "too_many_codes",
        /// 503: identity verification is unavailable.
        IdentityVerifierUnavailable => "identity_verifier_unavailable",
        /// 503: the code could not be sent.
        MessageSenderUnavailable => "message_sender_unavailable",
        /// 422: no security medium of this kind is registered.
        MediumNotRegistered => "medium_not_registered",
        /// 409: there is no open security-card challenge.
        NoOpenChallenge => "no_open_challenge",
        /// 422: the security medium's answer is wrong.
        WrongMediumAnswer => "wrong_medium_answer",
        /// 422: this one-time password was already used.
        OtpReplayed => "otp_replayed",
        /// 410: too many wrong answers; start again.
        MediumAttemptsExhausted => "medium_attempts_exhausted",
        /// 422: the new PIN is not accepted (trivial, or the birth date).
        WeakPin => "weak_pin",
        /// 422: the credential choice does not fit (PIN or CSR, issue or reissue).
        InvalidCredentialChoice => "invalid_credential_choice",
        /// 401: the access token is missing, malformed, forged or expired.
        InvalidToken => "invalid_token",
        /// 401: the refresh token is unknown, expired or revoked.
        InvalidRefreshToken => "invalid_refresh_token",
        /// 401: the refresh token was already used; the session was revoked.
        RefreshTokenReused => "refresh_token_reused",
        /// 409: the WebAuthn challenge is unknown, used or expired.
        WebauthnChallengeSpent => "webauthn_challenge_spent",
        /// 401: the passkey could not be verified.
        PasskeyRejected => "passkey_rejected",
        /// 422: no passkey is registered.
        NoPasskey => "no_passkey",
        /// 404: no such passkey.
        PasskeyNotFound => "passkey_not_found",
        /// 409: the device sign-in challenge is unknown, used, expired or another
        /// certificate's; request a new one.
        DeviceChallengeSpent => "device_challenge_spent",
        /// 401: not an active device-held certificate, or the signature over the challenge does
        /// not verify with its key.
        DeviceSignInFailed => "device_sign_in_failed",
        /// 404: no sign-in (by choosing) with this id.
        SignInNotFound => "sign_in_not_found",
        /// 410: the sign-in expired; identify again.
        SignInExpired => "sign_in_expired",
        /// 401: the selection ticket is unknown, spent, expired, or does not list this
        /// certificate; sign in by choosing again.
        InvalidTicket => "invalid_ticket",

        // Key custody.
        /// 401: the PIN does not unlock the key (or sign in).
        WrongPin => "wrong_pin",
        /// 423: the PIN is locked after too many wrong attempts; reset it (with a bound
        /// passkey) or reissue.
        PinLocked => "pin_locked",
        /// 409: the PIN cannot be reset (no passkey is bound to the key): reissuance is the way
        /// (the detail names the fee of a general-purpose certificate).
        ReissuanceRequired => "reissuance_required",
        /// 400: the owner id is malformed.
        InvalidOwner => "invalid_owner",
        /// 404: no such key.
        KeyNotFound => "key_not_found",
        /// 401: the passkey is not bound to the key.
        PasskeyNotBound => "passkey_not_bound",
        /// 409: the passkey is already bound to the key.
        PasskeyAlreadyBound => "passkey_already_bound",
        /// 401: no live activation; authorise again.
        ActivationNotFound => "activation_not_found",
        /// 401: the activation expired; authorise again.
        ActivationExpired => "activation_expired",
        /// 401: the activation's signatures are used up; authorise again.
        ActivationExhausted => "activation_exhausted",
        /// 503: too many activated keys on this node; retry.
        ActivationsFull => "activations_full",
        /// 400: the signature scheme or digest does not fit the key.
        UnsupportedSignatureScheme => "unsupported_signature_scheme",
        /// 500: stored key material failed its integrity check.
        KeyIntegrity => "key_integrity",
        /// 503: the key management service is unavailable; retry.
        KmsUnavailable => "kms_unavailable",

        // Certificates.
        /// 422: the certificate request breaks the profile.
        InvalidProfile => "invalid_profile",
        /// 422: the CSR's signature does not verify.
        CsrSignatureInvalid => "csr_signature_invalid",
        /// 422: the key is not accepted.
        WeakKey => "weak_key",
        /// 400: not a well-formed certificate, CSR or key.
        MalformedInput => "malformed_input",
        /// 409: renewal is not open yet.
        RenewalNotOpen => "renewal_not_open",
        /// 409: the certificate was already renewed.
        AlreadyRenewed => "already_renewed",
        /// 409: not allowed in the certificate's status.
        IllegalTransition => "illegal_transition",
        /// 409: the certificate changed concurrently; retry.
        ConcurrentChange => "concurrent_change",
        /// 422: the key source does not fit the certificate.
        InvalidKeySource => "invalid_key_source",
        /// 404: no such certificate.
        CertificateNotFound => "certificate_not_found",
        /// 503: the CA is not initialised.
        CaNotInitialized => "ca_not_initialized",
        /// 409: the issuing CA is revoked; nothing is issued, renewed or reissued under it.
        IssuingCaRevoked => "issuing_ca_revoked",
        /// 503: the CA's key could not sign; retry.
        CaUnavailable => "ca_unavailable",
        /// 422: the certificate does not chain to a configured trust anchor.
        UntrustedChain => "untrusted_chain",
        /// 422: the certificate is not valid now.
        CertificateNotValidNow => "certificate_not_valid_now",
        /// 422: not a personal signing certificate.
        NotASigningCertificate => "not_a_signing_certificate",
        /// 422: the certificate's policy is not one fincert recognises. No longer sent: an
        /// unknown policy now gets the restricted-use default.
        UnrecognizedPolicy => "unrecognized_policy",
        /// 422: the PKCS#12 file could not be opened.
        Pkcs12Unreadable => "pkcs12_unreadable",
        /// 422: the PKCS#12 file holds no private key with its certificate.
        Pkcs12NoKey => "pkcs12_no_key",
        /// 422: the private key is unsupported or does not match the certificate.
        UnsupportedKey => "unsupported_key",
        /// 409: this certificate is already registered.
        AlreadyRegistered => "already_registered",
        /// 422: the NPKI key file did not decrypt (wrong password or damaged file).
        KeyFileUnreadable => "key_file_unreadable",
        /// 422: the key file's cipher or KDF is not supported (SEED-CBC under PBKDF1/PBKDF2 is).
        UnsupportedKeyFileCipher => "unsupported_key_file_cipher",
        /// 422: the file asks for more key-derivation iterations than fincert allows.
        KdfTooCostly => "kdf_too_costly",
        /// 409: the request would charge a fee it did not confirm (`fee_confirmed_krw` missing
        /// or not the current fee, `GET /v1/pricing`); nothing was charged.
        FeeNotConfirmed => "fee_not_confirmed",
        /// 422: the certificate cannot renew itself (its key is on a device, or another CA
        /// issued it).
        AutoRenewalUnavailable => "auto_renewal_unavailable",

        // Remote signing.
        /// 400: the signature request (or verification) is malformed.
        InvalidSignatureRequest => "invalid_signature_request",
        /// 422: the display text holds a bidi control, another format character, a control
        /// character (but line feed) or a line/paragraph separator.
        DisplayTextNotAllowed => "display_text_not_allowed",
        /// 404: no such resource is visible to the caller.
        NotFound => "not_found",
        /// 404: no such (active) institution.
        InstitutionNotFound => "institution_not_found",
        /// 403: the institution is disabled.
        InstitutionDisabled => "institution_disabled",
        /// 403: the access token lacks the scope.
        InsufficientScope => "insufficient_scope",
        /// 403: the certificate's usage does not allow this institution.
        UsageNotPermitted => "usage_not_permitted",
        /// 409: the certificate is not active.
        CertificateNotUsable => "certificate_not_usable",
        /// 422: the certificate's key is on a device; fincert cannot sign with it.
        KeyOnDevice => "key_on_device",
        /// 422: a signature the holder's device submitted does not verify with the
        /// certificate's public key over what the request asks to be signed.
        DeviceSignatureInvalid => "device_signature_invalid",
        /// 422: a raw request for a device-kept certificate needs its content (a browser
        /// signs messages, not pre-computed digests).
        DeviceNeedsContent => "device_needs_content",
        /// 422: the certificate's key is in the cloud; approve with the PIN or a passkey.
        KeyNotOnDevice => "key_not_on_device",
        /// 404: no such copy package (wrong code, already fetched or expired).
        CopyNotFound => "copy_not_found",
        /// 422: the algorithm does not fit the certificate's key.
        AlgorithmMismatch => "algorithm_mismatch",
        /// 409: the request was already decided or expired.
        RequestNotPending => "request_not_pending",
        /// 409: the approval does not commit to this request's content.
        ApprovalMismatch => "approval_mismatch",
        /// 409: a live consent already exists.
        ConsentExists => "consent_exists",
    }
}

codes! {
    /// The `error` of an RFC 6749 §5.2 answer: the token endpoints' and the CSC API's.
    OAuthErrorCode {
        /// 400: the request is malformed (CSC: names the parameter at fault).
        InvalidRequest => "invalid_request",
        /// 401: client authentication missing or failed.
        InvalidClient => "invalid_client",
        /// 400: only `client_credentials` is supported.
        UnsupportedGrantType => "unsupported_grant_type",
        /// 400: a requested scope is unknown or not granted.
        InvalidScope => "invalid_scope",
        /// 429: too many token requests.
        SlowDown => "slow_down",
        /// 500: our fault.
        ServerError => "server_error",
        /// 429 or 503: retry later.
        TemporarilyUnavailable => "temporarily_unavailable",
        /// 401 (CSC): the access token is not valid.
        InvalidToken => "invalid_token",
        /// 400 (CSC v2): the authentication data (PIN) is invalid.
        InvalidAuthenticationData => "invalid_authentication_data",
        /// 401 (CSC): the access token lacks the scope; (authorize) the holder refused.
        AccessDenied => "access_denied",
        /// 400: the authorization code is unknown, expired, used, another client's, or its
        /// PKCE verifier or redirect URI does not match.
        InvalidGrant => "invalid_grant",
        /// 400 (authorize): only `response_type=code` is supported.
        UnsupportedResponseType => "unsupported_response_type",
        /// 400 (revoke): this kind of token cannot be revoked here.
        UnsupportedTokenType => "unsupported_token_type",
    }
}

/// An RFC 7807 problem document, as the server renders every error of the native API and the
/// client reads it (one type for both; fields in the order they are sent).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Problem {
    /// A URI naming the problem type: `urn:fincert:problem:<code>`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Short human-readable summary of the type.
    #[serde(default)]
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened in this instance.
    #[serde(default)]
    pub detail: String,
    /// Stable code.
    pub code: ErrorCode,
    /// The request id, to quote to support and find in the logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Extension member of `wrong_pin` told to the certificate's identified holder (signed
    /// in, or signing in with a selection ticket): wrong PINs left before the lock (0: the PIN
    /// is now locked). Absent everywhere else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u32>,
}

/// An RFC 6749 §5.2 error answer (`/oauth2/token`, and every CSC route).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OAuthErrorBody {
    /// The protocol's code.
    pub error: OAuthErrorCode,
    /// What happened (CSC: the specification's wording).
    #[serde(default)]
    pub error_description: String,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every known code has its own wire string, which round-trips through `parse` and serde;
    /// an unknown string is `Other` and is sent back as it came.
    #[test]
    fn codes_are_unique_and_round_trip() {
        fn check<C>(all: &[C], as_str: fn(&C) -> &str, parse: fn(&str) -> C)
        where
            C: PartialEq + std::fmt::Debug + Serialize + for<'de> Deserialize<'de>,
        {
            let names: BTreeSet<&str> = all.iter().map(as_str).collect();
            assert_eq!(names.len(), all.len(), "a wire string is used twice");
            for code in all {
                let s = as_str(code);
                assert!(
                    !s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{s}"
                );
                assert_eq!(&parse(s), code);
                let json = serde_json::to_string(code).unwrap();
                assert_eq!(json, format!("\"{s}\""));
                assert_eq!(&serde_json::from_str::<C>(&json).unwrap(), code);
            }
            let future = parse("added_later");
            assert_eq!(as_str(&future), "added_later");
            assert!(!all.contains(&future));
            assert_eq!(serde_json::to_string(&future).unwrap(), "\"added_later\"");
        }
        check(ErrorCode::ALL, ErrorCode::as_str, ErrorCode::parse);
        check(
            OAuthErrorCode::ALL,
            OAuthErrorCode::as_str,
            OAuthErrorCode::parse,
        );
        assert_eq!(
            ErrorCode::parse("added_later"),
            ErrorCode::Other("added_later".into())
        );
    }

    /// A problem from a newer server, with a code this client does not know, still parses.
    #[test]
    fn a_problem_with_an_unknown_code_parses() {
        let p: Problem = serde_json::from_str(
            r#"{"type":"urn:fincert:problem:added_later","title":"T","status":409,"detail":"d","code":"added_later"}"#,
        )
        .unwrap();
        assert_eq!(p.code, ErrorCode::Other("added_later".into()));
        assert_eq!(p.code, "added_later");
        let known: Problem = serde_json::from_str(
            r#"{"type":"urn:fincert:problem:wrong_pin","title":"Wrong PIN","status":401,"detail":"d","code":"wrong_pin","request_id":"r"}"#,
        )
        .unwrap();
        assert_eq!(known.code, ErrorCode::WrongPin);
        assert_eq!(
            serde_json::to_string(&known).unwrap(),
            r#"{"type":"urn:fincert:problem:wrong_pin","title":"Wrong PIN","status":401,"detail":"d","code":"wrong_pin","request_id":"r"}"#
        );
    }
}
