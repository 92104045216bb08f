//! Enrolment queries: users, enrolments and their single-use step transitions, consents, and
//! the development verifier's customers. Plain SQL through sea-orm's statement builder keeps
//! these files short; every statement is parameterised. One file per table group, each with
//! its row type and its queries:
//!
//! - `enrolments.rs`: `enrolments` (steps, the phone code, attempt counters);
//! - `consents.rs`: `terms_consents` (the terms an enrolment agreed to);
//! - `users.rs`: `users` and `dev_customers` (the development verifier's customers);
//! - `media.rs`: `security_media` (cards and OTP generators, challenges, used steps);
//! - `passkeys.rs`: `passkeys` and `webauthn_ceremonies`.
//!
//! Everything is re-exported here: callers write `store::enrolment::advance`, not the file.

mod consents;
mod enrolments;
mod media;
mod passkeys;
mod users;

pub use self::{
    consents::{consents_of, insert_consent},
    enrolments::{
        EnrolmentRow, advance, clear_code, get, insert, set_code, set_identity, take_code_attempt,
        take_medium_attempt,
    },
    media::{
        MediumRow, WrappedMedium, count_by_kms_key as media_by_kms_key, insert_medium,
        media_kinds_of_user, media_not_under, medium_of_user, replace_secret, set_challenge,
        take_challenge, use_step,
    },
    passkeys::{
        PasskeyRow, delete_passkey, insert_ceremony, insert_passkey, passkeys_of, take_ceremony,
        update_passkey, wipe_ceremony_state,
    },
    users::{dev_customer, put_dev_customer, upsert_user, user_phone, user_profile},
};
