//! The issuance procedure through the HTTP API: terms, identity, phone code (steps 1–3) in
//! `phone_steps.rs`, then the authentication medium and the new credential (step 4), for
//! issuance and reissuance, in `issuance.rs`; a device-held joint certificate delivered with
//! its chain, its holder signing in with the key, renewing and revoking, in `device.rs`. The
//! helpers they use and the engine matrix are here, so the tests keep their names
//! (`enrolment::<test>::{sqlite,postgres}`).

mod device;
mod issuance;
mod phone_steps;

use fincert_client::proto::enrolment::{EnrolmentView, Step};
use serde_json::json;

use crate::{both_engines, helpers::*};
use device::{
    bad_csrs_are_refused_and_the_step_stays_open,
    device_certificate_delivered_signed_in_renewed_and_revoked, device_sign_in_is_rate_limited,
};
use issuance::{
    a_general_purpose_issuance_needs_the_fee_confirmed, issuance_with_a_security_card,
    issuance_with_otp_media, reissuance_replaces_the_old_certificate,
};
use phone_steps::{codes_and_enrolments_expire, first_three_steps};

/// Runs steps 1–3 (the phone code by `channel`); returns the enrolment's base path.
async fn to_medium_step(app: &TestApp, purpose: &str, channel: &str) -> String {
    let base = start_enrolment(app, purpose).await;
    assert_eq!(
        post(
            app,
            &format!("{base}/identity"),
            ANON,
            identity("1987-03-14")
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        post(
            app,
            &format!("{base}/phone-code"),
            ANON,
            json!({"channel": channel})
        )
        .await
        .status(),
        202
    );
    let code = code_from(app);
    let resp = post(
        app,
        &format!("{base}/phone-code/verify"),
        ANON,
        json!({"code": code}),
    )
    .await;
    assert_eq!(
        resp.json::<EnrolmentView>().await.unwrap().step,
        Step::Medium
    );
    base
}

/// Completes step 4 with a cloud key and `pin`; returns the body.
async fn complete(
    app: &TestApp,
    base: &str,
    pin: &str,
    replaces: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({"kind": "financial", "usage": "restricted", "pin": pin});
    if let Some(r) = replaces {
        body["replaces"] = json!(r);
    }
    post(app, &format!("{base}/complete"), ANON, body).await
}

both_engines!(
    first_three_steps,
    codes_and_enrolments_expire,
    issuance_with_a_security_card,
    issuance_with_otp_media,
    reissuance_replaces_the_old_certificate,
    device_certificate_delivered_signed_in_renewed_and_revoked,
    device_sign_in_is_rate_limited,
    bad_csrs_are_refused_and_the_step_stays_open,
    a_general_purpose_issuance_needs_the_fee_confirmed,
);
