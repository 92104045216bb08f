//! The catalogue of audited actions. Each variant's stored string is part of the log's
//! content (and so of its hashes): never rename one, only add.

/// What happened. The stored string is stable: never rename a variant's string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Migrations were applied to the schema.
    SchemaMigrated,
    /// A custody key was generated and sealed.
    KeyCreated,
    /// A key was activated (PIN or passkey) for a bounded window.
    KeyActivated,
    /// A node opened a cluster authorization's activation record (CSC SAD) to sign with it.
    KeyActivationOpened,
    /// An activation attempt failed (wrong PIN, unbound passkey, integrity failure).
    KeyActivationFailed,
    /// A key's PIN was changed.
    PinChanged,
    /// A key's PIN locked after too many consecutive wrong attempts.
    PinLocked,
    /// A key's PIN slot was made anew through a bound passkey (PIN reset); the lock counter
    /// went back to 0.
    PinReset,
    /// A passkey got its own copy of a key's data key.
    PasskeyBound,
    /// A passkey's copy was removed.
    PasskeyUnbound,
    /// Wrapped data keys were moved to the current KMS key.
    KeysRewrapped,
    /// A new local KMS wrapping key was made current.
    KmsRotated,
    /// A slot moved to another KMS backend was bound again under the current backend's MAC
    /// key, at its holder's use (PIN or passkey) or by `kms rewrap` (service slots).
    SlotRebound,
    /// The CA hierarchy was created.
    CaInitialized,
    /// The root revoked the issuing CA (listed in the root's CRL, the ARL, from then on).
    IssuingCaRevoked,
    /// A certificate was issued.
    CertificateIssued,
    /// A certificate was renewed (new key and serial, same subject).
    CertificateRenewed,
    /// A certificate was reissued.
    CertificateReissued,
    /// A certificate was revoked.
    CertificateRevoked,
    /// A certificate was suspended (certificateHold).
    CertificateSuspended,
    /// A suspended certificate was resumed.
    CertificateResumed,
    /// A certificate passed its validity.
    CertificateExpired,
    /// A CRL was signed and published.
    CrlPublished,
    /// A certificate entered its renewal window; its holder is to be told.
    RenewalNoticeRecorded,
    /// A certificate issued by another CA was registered (public certificate or PKCS#12).
    ForeignCertificateRegistered,
    /// A user signed in (PIN, passkey or a device key's signature) and got a session.
    LoggedIn,
    /// A session ended (refresh family revoked).
    LoggedOut,
    /// A used refresh token was presented again; its family was revoked.
    RefreshTokenReused,
    /// A new token signing key took over.
    TokenKeyRotated,
    /// An enrolment started.
    EnrolmentStarted,
    /// Terms were agreed to in an enrolment.
    EnrolmentTermsAgreed,
    /// An applicant's identity was verified.
    EnrolmentIdentityVerified,
    /// An applicant's identity did not match.
    EnrolmentIdentityFailed,
    /// A phone code was sent.
    EnrolmentCodeSent,
    /// A wrong phone code was entered.
    EnrolmentCodeFailed,
    /// The phone step passed.
    EnrolmentPhoneVerified,
    /// A security-medium challenge was issued.
    EnrolmentMediumChallenged,
    /// A security-medium answer was wrong (or replayed).
    EnrolmentMediumFailed,
    /// The security-medium step passed.
    EnrolmentMediumVerified,
    /// An enrolment ended with a certificate.
    EnrolmentCompleted,
    /// A PIN reset asked for a passkey of a certificate's key (the passkey ceremony started).
    PinResetChallenged,
    /// A PIN reset was refused: no passkey is bound to the certificate's key (reissuance is
    /// the way), or the certificate cannot be used.
    PinResetRefused,
    /// A PIN reset ended with a new PIN.
    PinResetCompleted,
    /// A passkey was registered (a new device).
    PasskeyRegistered,
    /// A passkey was removed.
    PasskeyRemoved,
    /// A passkey sign-in failed verification.
    PasskeySignInFailed,
    /// A device sign-in was refused (spent challenge, unusable certificate, bad signature).
    DeviceSignInFailed,
    /// The holder left an encrypted copy of a device-kept certificate in the copy mailbox.
    DeviceCopyCreated,
    /// Another device fetched a copy package (once).
    DeviceCopyFetched,
    /// A copy package was asked for with an unknown, used or expired code.
    DeviceCopyRefused,
    /// An institution was registered by the operator.
    InstitutionRegistered,
    /// An institution's client secret was rotated.
    InstitutionSecretRotated,
    /// An institution's webhook secret was replaced (next key version, current KMS backend).
    InstitutionWebhookSecretRotated,
    /// The operator turned the validation material in an institution's webhooks on or off.
    InstitutionWebhookValidationInfoSet,
    /// An institution obtained an access token.
    InstitutionAuthenticated,
    /// An institution's client authentication failed.
    InstitutionAuthFailed,
    /// A user consented that an institution may request signatures with a certificate.
    ConsentGranted,
    /// A user withdrew a consent.
    ConsentWithdrawn,
    /// An institution created a signature request.
    SignatureRequested,
    /// A user approved a request and it was signed (details name the digests).
    SignatureCreated,
    /// A user rejected a request.
    SignatureRejected,
    /// An approval was refused (wrong PIN, altered content, spent challenge…).
    SignatureApprovalFailed,
    /// Someone identified themselves to sign in by choosing (details say whether the details
    /// named anyone; the answer did not).
    SignInIdentified,
    /// A sign-in phone code was made (and sent, when the details named someone).
    SignInCodeSent,
    /// A wrong, expired or used-up sign-in phone code was entered.
    SignInCodeFailed,
    /// The sign-in phone code was right: the certificates were listed and a selection ticket
    /// issued.
    SignInCodeVerified,
    /// A selection ticket was refused (unknown, spent, expired, or not for that certificate).
    SignInTicketRefused,
    /// A new audit checkpoint key was made (sealed) or adopted (KMS).
    AuditKeyCreated,
    /// A checkpoint of the chain head could not be signed or stored.
    AuditCheckpointFailed,
    /// A signed checkpoint could not be handed to a witness outside the database.
    AuditWitnessFailed,
    /// A month of the log was exported to an archive and removed from the live table
    /// (`fincert audit archive`).
    AuditArchived,
    /// A PIN sign-in named a certificate that is unknown or cannot sign in (no cloud key,
    /// not active): refused exactly like a wrong PIN.
    PinSignInRefused,
    /// The wrapping and HMAC keys were created on the PKCS#11 HSM (`fincert kms create-keys`).
    KmsKeysCreated,
    /// A certificate was renewed by its holder's use of it inside the renewal window (their
    /// automatic-renewal setting on).
    CertificateAutoRenewed,
    /// A holder turned a certificate's automatic renewal on or off.
    AutoRenewalSet,
    /// A CSC client asked for the holder's authorization (`oauth2/authorize`).
    CscOauthRequested,
    /// An `oauth2/authorize` request was refused before the holder saw it (client, redirect
    /// URI, PKCE, scope or parameters).
    CscOauthInvalid,
    /// The holder approved a CSC authorization; a code is out.
    CscOauthApproved,
    /// The holder refused a CSC authorization.
    CscOauthRefused,
    /// An authorization code was exchanged for a credential token.
    CscOauthExchanged,
    /// An authorization code exchange was refused (wrong verifier, redirect URI, expired).
    CscOauthExchangeFailed,
    /// An authorization code was presented again; the token it issued is revoked.
    CscOauthCodeReused,
    /// An access token or credential token was revoked (`oauth2/revoke`).
    CscOauthTokenRevoked,
    /// A redirect URI was registered for an institution.
    InstitutionRedirectUriAdded,
    /// A registered redirect URI was removed.
    InstitutionRedirectUriRemoved,
}

impl Action {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SchemaMigrated => "schema.migrated",
            Self::KeyCreated => "key.created",
            Self::KeyActivated => "key.activated",
            Self::KeyActivationOpened => "key.activation_opened",
            Self::KeyActivationFailed => "key.activation_failed",
            Self::PinChanged => "key.pin_changed",
            Self::PinLocked => "key.pin_locked",
            Self::PinReset => "key.pin_reset",
            Self::PasskeyBound => "key.passkey_bound",
            Self::PasskeyUnbound => "key.passkey_unbound",
            Self::KeysRewrapped => "kms.rewrapped",
            Self::KmsRotated => "kms.rotated",
            Self::SlotRebound => "kms.slot_rebound",
            Self::CaInitialized => "ca.initialized",
            Self::IssuingCaRevoked => "ca.issuing_revoked",
            Self::CertificateIssued => "certificate.issued",
            Self::CertificateRenewed => "certificate.renewed",
            Self::CertificateReissued => "certificate.reissued",
            Self::CertificateRevoked => "certificate.revoked",
            Self::CertificateSuspended => "certificate.suspended",
            Self::CertificateResumed => "certificate.resumed",
            Self::CertificateExpired => "certificate.expired",
            Self::CrlPublished => "crl.published",
            Self::RenewalNoticeRecorded => "certificate.renewal_notice",
            Self::ForeignCertificateRegistered => "certificate.foreign_registered",
            Self::LoggedIn => "auth.login",
            Self::LoggedOut => "auth.logout",
            Self::RefreshTokenReused => "auth.refresh_reused",
            Self::TokenKeyRotated => "auth.token_key_rotated",
            Self::EnrolmentStarted => "enrolment.started",
            Self::EnrolmentTermsAgreed => "enrolment.terms_agreed",
            Self::EnrolmentIdentityVerified => "enrolment.identity_verified",
            Self::EnrolmentIdentityFailed => "enrolment.identity_failed",
            Self::EnrolmentCodeSent => "enrolment.code_sent",
            Self::EnrolmentCodeFailed => "enrolment.code_failed",
            Self::EnrolmentPhoneVerified => "enrolment.phone_verified",
            Self::EnrolmentMediumChallenged => "enrolment.medium_challenged",
            Self::EnrolmentMediumFailed => "enrolment.medium_failed",
            Self::EnrolmentMediumVerified => "enrolment.medium_verified",
            Self::EnrolmentCompleted => "enrolment.completed",
            Self::PinResetChallenged => "enrolment.pin_reset_challenged",
            Self::PinResetRefused => "enrolment.pin_reset_refused",
            Self::PinResetCompleted => "enrolment.pin_reset_completed",
            Self::PasskeyRegistered => "passkey.registered",
            Self::PasskeyRemoved => "passkey.removed",
            Self::PasskeySignInFailed => "passkey.sign_in_failed",
            Self::DeviceSignInFailed => "auth.device_sign_in_failed",
            Self::DeviceCopyCreated => "device_copy.created",
            Self::DeviceCopyFetched => "device_copy.fetched",
            Self::DeviceCopyRefused => "device_copy.refused",
            Self::InstitutionRegistered => "institution.registered",
            Self::InstitutionSecretRotated => "institution.secret_rotated",
            Self::InstitutionWebhookSecretRotated => "institution.webhook_secret_rotated",
            Self::InstitutionWebhookValidationInfoSet => "institution.webhook_validation_info_set",
            Self::InstitutionAuthenticated => "institution.authenticated",
            Self::InstitutionAuthFailed => "institution.auth_failed",
            Self::ConsentGranted => "consent.granted",
            Self::ConsentWithdrawn => "consent.withdrawn",
            Self::SignatureRequested => "signature.requested",
            Self::SignatureCreated => "signature.created",
            Self::SignatureRejected => "signature.rejected",
            Self::SignatureApprovalFailed => "signature.approval_failed",
            Self::SignInIdentified => "auth.sign_in_identified",
            Self::SignInCodeSent => "auth.sign_in_code_sent",
            Self::SignInCodeFailed => "auth.sign_in_code_failed",
            Self::SignInCodeVerified => "auth.sign_in_code_verified",
            Self::SignInTicketRefused => "auth.sign_in_ticket_refused",
            Self::AuditKeyCreated => "audit.key_created",
            Self::AuditCheckpointFailed => "audit.checkpoint_failed",
            Self::AuditWitnessFailed => "audit.witness_failed",
            Self::AuditArchived => "audit.archived",
            Self::PinSignInRefused => "auth.pin_sign_in_refused",
            Self::KmsKeysCreated => "kms.keys_created",
            Self::CertificateAutoRenewed => "certificate.auto_renewed",
            Self::AutoRenewalSet => "certificate.auto_renewal_set",
            Self::CscOauthRequested => "csc.oauth_requested",
            Self::CscOauthInvalid => "csc.oauth_invalid",
            Self::CscOauthApproved => "csc.oauth_approved",
            Self::CscOauthRefused => "csc.oauth_refused",
            Self::CscOauthExchanged => "csc.oauth_exchanged",
            Self::CscOauthExchangeFailed => "csc.oauth_exchange_failed",
            Self::CscOauthCodeReused => "csc.oauth_code_reused",
            Self::CscOauthTokenRevoked => "csc.oauth_token_revoked",
            Self::InstitutionRedirectUriAdded => "institution.redirect_uri_added",
            Self::InstitutionRedirectUriRemoved => "institution.redirect_uri_removed",
        }
    }
}
