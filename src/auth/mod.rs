//! Authentication of people: the security media of enrolment (hardware/mobile OTP, security
//! card) now; enrolment steps, WebAuthn, tokens and rate limits join here. PIN checking lives
//! in `custody` (a PIN is checked by whether it opens the key, never against a stored value).

pub mod device;
pub mod enrolment;
pub mod identity;
pub mod login;
pub mod media;
pub mod messaging;
pub mod otp;
pub mod passkeys;
pub mod rate_limit;
pub mod security_card;
pub mod tokens;
