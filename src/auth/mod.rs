//! Authentication of people: the security media of enrolment (hardware/mobile OTP, security
//! card), the enrolment steps, sign-in (PIN, passkey, or a device key's signed challenge in
//! `device`), WebAuthn, tokens and rate limits. PIN checking lives in `custody` (a PIN is
//! checked by whether it opens the key, never against a stored value).

pub mod device;
pub mod device_copy;
pub mod enrolment;
pub mod identity;
pub mod login;
pub mod media;
pub mod messaging;
pub mod otp;
pub mod passkeys;
pub mod pin;
pub mod rate_limit;
pub mod security_card;
pub mod sign_in;
pub mod tokens;
