//! The kinds of security medium a customer may hold (security card, hardware OTP, mobile OTP):
//! the wire type itself, whose wire names are its stored names. What each one checks is in
//! `auth::media` and `auth::otp`.

pub use fincert_client::proto::enrolment::MediumKind;
