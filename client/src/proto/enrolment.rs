//! The issuance procedure (`src/api/enrolments.rs`): the four steps' bodies (terms, identity,
//! phone code and security medium, credential), the enrolment each step answers with, the
//! security-medium challenge, and what the last step issues.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    certificates::{CertKind, CertificateView, Usage},
    debug_without_secrets, names,
    oauth::TokenResponse,
};

/// What the enrolment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// A new certificate.
    Issue,
    /// A replacement (expiry, loss, lockout, forgotten PIN).
    Reissue,
    /// A new PIN for a certificate whose key a registered passkey can open (forgotten or
    /// locked PIN, no reissuance): starts at the identity step, ends at
    /// `POST /v1/enrolments/{id}/pin-reset`.
    #[serde(rename = "pin_reset")]
    PinReset,
}

/// The step an enrolment waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Agree to the current required terms.
    Terms,
    /// Name, birth date, mobile number, customer number.
    Identity,
    /// The one-time code sent by SMS or ARS.
    Phone,
    /// The security medium (card, hardware OTP, mobile OTP).
    Medium,
    /// Kind, usage, PIN or CSR; issuance.
    Credential,
    /// Done.
    Completed,
}

/// How a one-time code reaches the holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A text message.
    Sms,
    /// An automated call in which the holder keys in the code.
    Ars,
}

/// Kinds of security medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediumKind {
    /// Security card (30/35 cells).
    Card,
    /// Hardware OTP token, counter based (RFC 4226).
    Hotp,
    /// Hardware OTP token, time based (RFC 6238).
    Totp,
    /// Mobile OTP: TOTP in the app on the registered device.
    Motp,
}

/// Which half of a security-card cell is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Half {
    /// The first two digits.
    First,
    /// The last two digits.
    Last,
}

names!(Purpose { Issue => "issue", Reissue => "reissue", PinReset => "pin_reset" });
names!(Step {
    Terms => "terms",
    Identity => "identity",
    Phone => "phone",
    Medium => "medium",
    Credential => "credential",
    Completed => "completed",
});
names!(Channel { Sms => "sms", Ars => "ars" });
names!(MediumKind { Card => "card", Hotp => "hotp", Totp => "totp", Motp => "motp" });
names!(Half { First => "first", Last => "last" });

impl Step {
    /// The step after this one.
    pub fn next(self) -> Self {
        match self {
            Self::Terms => Self::Identity,
            Self::Identity => Self::Phone,
            Self::Phone => Self::Medium,
            Self::Medium => Self::Credential,
            Self::Credential | Self::Completed => Self::Completed,
        }
    }
}

/// An enrolment and the step it waits for: the answer of every step but the last. It never
/// carries a code or personal details (the phone number only masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentView {
    /// Id (a capability: keep it secret).
    pub id: String,
    /// Purpose.
    pub purpose: Purpose,
    /// The step it waits for.
    pub step: Step,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Where the code went (masked: `010-****-5678`), once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// Starting an enrolment (`POST /v1/enrolments`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// Issue or reissue.
    pub purpose: Purpose,
}

/// One terms document agreed to, by code and version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreedTerms {
    /// The document's code.
    pub code: String,
    /// The version shown.
    pub version: i32,
}

/// Step 1 (`POST /v1/enrolments/{id}/terms`): at most 20 documents.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermsBody {
    /// Every current required document (and any optional ones).
    pub agreed: Vec<AgreedTerms>,
}

/// Step 2 (`POST /v1/enrolments/{id}/identity`): checked against the institution's records.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityBody {
    /// The holder's name.
    pub name: String,
    /// `YYYY-MM-DD`, between 1900 and today.
    pub birth_date: String,
    /// Mobile number.
    pub phone: String,
    /// Customer (or account) number at the institution.
    pub customer_number: String,
}

debug_without_secrets!(IdentityBody {});

/// Step 3a (`POST /v1/enrolments/{id}/phone-code`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendCodeBody {
    /// SMS or ARS.
    pub channel: Channel,
}

/// Step 3b (`POST /v1/enrolments/{id}/phone-code/verify`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The 6-digit code.
    pub code: Zeroizing<String>,
}

debug_without_secrets!(CodeBody {});

/// Which medium to be challenged by (`GET /v1/enrolments/{id}/medium?kind=...`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediumQuery {
    /// The medium.
    pub kind: MediumKind,
}

/// Two security-card cells (numbered from 1) and which half of each to type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardChallenge {
    /// First cell and the half asked.
    pub a: (u8, Half),
    /// Second cell and the half asked.
    pub b: (u8, Half),
}

/// The media the customer holds (`GET /v1/enrolments/{id}/media`, step 3c): the ones to offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredMedia {
    /// Kinds held, each once: card, hotp, totp, motp in that order.
    pub kinds: Vec<MediumKind>,
}

/// A security-medium challenge (step 3c): the cells for a card, nothing for an OTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediumChallenge {
    /// The medium.
    pub kind: MediumKind,
    /// For a card: the two cells and which half of each to type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cells: Option<CardChallenge>,
}

/// Step 3d (`POST /v1/enrolments/{id}/medium`): the medium's answer.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediumBody {
    /// The medium.
    pub kind: MediumKind,
    /// 4 card digits or a 6-digit one-time password.
    pub answer: Zeroizing<String>,
    /// The device a mobile OTP app runs on.
    pub device_id: Option<String>,
}

debug_without_secrets!(MediumBody { kind, device_id });

/// Step 4 (`POST /v1/enrolments/{id}/complete`): the credential, and issuance.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    /// Financial or joint.
    pub kind: CertKind,
    /// Restricted-use or general-purpose.
    pub usage: Usage,
    /// The new PIN (cloud key); or
    pub pin: Option<Zeroizing<String>>,
    /// a PKCS#10 request, base64 DER or PEM (joint certificate kept on a device).
    pub csr: Option<String>,
    /// For reissuance: the certificate being replaced.
    pub replaces: Option<Uuid>,
    /// The fee the applicant agreed to (KRW) for a general-purpose certificate: it must be the
    /// current fee (`GET /v1/pricing`), else `409 fee_not_confirmed` and nothing is issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_confirmed_krw: Option<u32>,
}

debug_without_secrets!(CompleteBody {
    kind,
    usage,
    csr,
    replaces,
    fee_confirmed_krw
});

/// The last step of a PIN reset, part one (`POST /v1/enrolments/{id}/pin-reset/passkey`):
/// which certificate's PIN to reset. The answer is a WebAuthn ceremony offering only the
/// passkeys bound to that certificate's key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinResetStartBody {
    /// The certificate whose PIN is reset.
    pub certificate_id: Uuid,
}

/// The last step of a PIN reset, part two (`POST /v1/enrolments/{id}/pin-reset`): the
/// assertion of a passkey bound to the key, and the new PIN.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinResetBody {
    /// The ceremony `pin-reset/passkey` opened.
    pub ceremony_id: String,
    /// The WebAuthn assertion.
    pub credential: webauthn_rs_proto::PublicKeyCredential,
    /// The new PIN (6 digits, not trivial, not the birth date).
    pub new_pin: Zeroizing<String>,
    /// The authenticator's PRF output, base64url: required by a passkey bound with PRF.
    #[serde(default)]
    pub prf: Option<Zeroizing<String>>,
}

debug_without_secrets!(PinResetBody { ceremony_id });

/// A PIN reset done: the certificate whose PIN was replaced (its lock counter is back to 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinResetDone {
    /// The certificate.
    pub certificate_id: Uuid,
    /// The PIN was replaced.
    pub pin_reset: bool,
}

/// What the last step issues: the certificate (with its chain), and a session for its holder
/// (cloud keys; a device key's holder signs in with it, `POST /v1/auth/device`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Completed {
    /// The new certificate.
    pub certificate: CertificateView,
    /// A session for the new holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<TokenResponse>,
}

#[cfg(test)]
mod tests {
    use super::{super::names_round_trip_for, *};

    /// Each name (the wire name, which is also the stored name of purposes, steps and media)
    /// parses back to its value and is what serde writes; other spellings do not parse.
    #[test]
    fn names_round_trip() {
        names_round_trip_for(Purpose::ALL, Purpose::as_str, Purpose::parse);
        names_round_trip_for(Step::ALL, Step::as_str, Step::parse);
        names_round_trip_for(Channel::ALL, Channel::as_str, Channel::parse);
        names_round_trip_for(MediumKind::ALL, MediumKind::as_str, MediumKind::parse);
        names_round_trip_for(Half::ALL, Half::as_str, Half::parse);
        assert_eq!(Step::parse("medium"), Some(Step::Medium));
        assert_eq!(Step::parse("expired"), None);
        assert_eq!(Purpose::parse("renew"), None);
        assert_eq!(MediumKind::parse("otp"), None);
    }

    /// `next` walks every step once, in order, and stays at `Completed`.
    #[test]
    fn steps_follow_in_order() {
        let mut walked = vec![Step::Terms];
        while let Some(&s) = walked.last().filter(|s| **s != Step::Completed) {
            walked.push(s.next());
        }
        assert_eq!(walked, Step::ALL);
        assert_eq!(Step::Completed.next(), Step::Completed);
    }
}
