//! Passkeys (`src/api/passkeys.rs`): registration by a signed-in holder (optionally bound to a
//! certificate's key, so the passkey can approve signatures), their management, and passkey
//! sign-in. Each ceremony starts with a [`Ceremony`] and finishes with the authenticator's
//! answer (WebAuthn types from `webauthn-rs-proto`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs_proto::{PublicKeyCredential, RegisterPublicKeyCredential};
use zeroize::Zeroizing;

use super::debug_without_secrets;

/// A started ceremony: its id and the options for `navigator.credentials` (`create` for a
/// registration, `get` for a sign-in or an approval).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ceremony<T> {
    /// Ceremony id (send it back with the answer).
    pub ceremony_id: String,
    /// The options.
    pub options: T,
    /// The WebAuthn `prf` extension's inputs for this ceremony (salts, base64url): put them in
    /// `options.publicKey.extensions.prf` as they are, and send the authenticator's output
    /// (`getClientExtensionResults().prf.results.first`) back as the answer's `prf`. Absent
    /// when no PRF is asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prf: Option<PrfInputs>,
}

/// The WebAuthn `prf` extension's inputs (base64url salts): `eval` when registering,
/// `evalByCredential` (credential id → salt) when authenticating with bound passkeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrfInputs {
    /// The salt to evaluate (registration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval: Option<PrfValues>,
    /// The salt of each credential whose slot needs its PRF (authentication).
    #[serde(
        rename = "evalByCredential",
        default,
        skip_serializing_if = "std::collections::BTreeMap::is_empty"
    )]
    pub eval_by_credential: std::collections::BTreeMap<String, PrfValues>,
}

/// One PRF evaluation's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrfValues {
    /// The salt, base64url.
    pub first: String,
}

/// A passkey as its holder sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyView {
    /// Id.
    pub id: String,
    /// The holder's name for it.
    pub name: String,
    /// Whether it opens a certificate's key (can approve signatures).
    pub bound_to_key: bool,
    /// Whether that copy of the key needs the authenticator's PRF output too (sole control:
    /// fincert cannot open it without the holder's device). `false` for an authenticator
    /// without PRF, or a passkey not bound to a key.
    #[serde(default)]
    pub sole_control: bool,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// Last sign-in with it.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Finishing a registration (`POST /v1/passkeys/register/finish`); `certificate_id` and `pin`
/// together also let the passkey approve signatures with that certificate.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterFinishBody {
    /// The ceremony `register/start` opened.
    pub ceremony_id: Uuid,
    /// The authenticator's new credential.
    pub credential: RegisterPublicKeyCredential,
    /// A name for it (1 to 64 characters; `passkey` when absent).
    #[serde(default)]
    pub name: Option<String>,
    /// The certificate whose key the passkey may open; with
    pub certificate_id: Option<Uuid>,
    /// that certificate's PIN.
    pub pin: Option<Zeroizing<String>>,
    /// The authenticator's PRF output over the ceremony's salt, base64url (32 bytes), when it
    /// gave one: the bound copy then needs it (sole control).
    #[serde(default)]
    pub prf: Option<Zeroizing<String>>,
}

debug_without_secrets!(RegisterFinishBody {
    ceremony_id,
    name,
    certificate_id
});

/// Starting a passkey sign-in (`POST /v1/auth/passkey/start`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInStartBody {
    /// The certificate to sign in with.
    pub certificate_id: Uuid,
    /// The selection ticket of sign-in by choosing (checked here, spent by `finish`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Zeroizing<String>>,
}

debug_without_secrets!(SignInStartBody { certificate_id });

/// Finishing a passkey sign-in (`POST /v1/auth/passkey/finish`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInFinishBody {
    /// The ceremony `start` opened.
    pub ceremony_id: Uuid,
    /// The WebAuthn assertion.
    pub credential: PublicKeyCredential,
    /// The selection ticket given to `start`, spent by the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Zeroizing<String>>,
}

debug_without_secrets!(SignInFinishBody { ceremony_id });
