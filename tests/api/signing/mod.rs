//! Remote signing end to end: institution onboarding and OAuth2 tokens, user consent, signature
//! requests approved with a PIN or a passkey (dynamic linking), raw and CMS outputs checked by
//! openssl (and the CMS at CAdES baseline B by pyHanko, PDFs at PAdES B-B and B-LT), webhooks,
//! login with certificate and verification, every refusal, and the validation material (chain,
//! OCSP, CRLs) that comes with a signature, in the result and (opted in) in webhooks.
//!
//! One file per story; this one holds the institution-side helpers they share and the engine
//! matrix (so the tests keep their names, `signing::<test>::{sqlite,postgres}`).

mod cades;
mod cli;
mod concurrency;
mod csc_async;
mod device;
mod display_text;
mod onboarding;
mod pades;
mod passkey_approval;
mod passkey_prf;
mod pin_approval;
mod receiver;
mod refusal_cases;
mod validation_material;
mod webhook_secret;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};
use cades::cms_outputs_are_cades_baseline_b;
use cli::cli_request_approve_and_verify;
use concurrency::{
    concurrent_signatures_commit_once_and_chain, the_undelivered_activation_is_audited,
};
use csc_async::csc_asynchronous_answers_are_polled_on_any_node;
use device::{
    a_device_kept_certificate_signs_on_the_device, the_copy_mailbox_gives_a_package_once,
};
use display_text::display_text_is_what_the_holder_signs;
use onboarding::onboarding_and_client_credentials;
use pades::{
    a_cms_with_signing_time_is_not_pades, a_pdf_signed_with_cms_pades_is_b_b_then_b_lt,
    a_pdf_signed_with_csc_v2_sign_hash_is_b_lt,
};
use passkey_approval::passkey_approval_is_bound_to_the_request;
use passkey_prf::a_prf_bound_passkey_alone_opens_its_copy_of_the_key;
use pin_approval::consent_request_pin_approval_outputs_and_webhook;
use refusal_cases::refusals;
use validation_material::{
    csc_v1_sign_hash_has_no_validation_info, csc_v2_sign_hash_returns_validation_info,
    native_result_carries_validation_material, webhooks_carry_validation_material_when_opted_in,
};
use webhook_secret::a_rotated_webhook_secret_signs_the_next_delivery;

/// `POST /oauth2/token` with a form body exactly as given (no encoding, no Basic header).
async fn token(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    app.client
        .post(app.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Creates a signature request as `inst`, with a fresh idempotency key.
async fn request(app: &TestApp, inst: &Inst, body: Value) -> reqwest::Response {
    let key = uuid::Uuid::new_v4().to_string();
    call(
        app,
        reqwest::Method::POST,
        "/v1/signature-requests",
        &inst.token,
        Some(body),
        Some(&key),
    )
    .await
}

/// Creates a signature request that must succeed (201); returns its view.
async fn created(app: &TestApp, inst: &Inst, body: Value) -> Value {
    let resp = request(app, inst, body).await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    resp.json().await.unwrap()
}

/// The holder approves `req` with `pin` and the request digest it was shown.
async fn approve_pin(app: &TestApp, h: &Holder, req: &Value, pin: &str) -> reqwest::Response {
    post(
        app,
        &format!("/v1/approvals/{}/approve", req["id"].as_str().unwrap()),
        &h.token,
        json!({"pin": pin, "request_digest": req["request_digest"]}),
    )
    .await
}

/// Decodes a base64 JSON string.
fn b64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

both_engines!(
    cms_outputs_are_cades_baseline_b,
    display_text_is_what_the_holder_signs,
    concurrent_signatures_commit_once_and_chain,
    the_undelivered_activation_is_audited,
    cli_request_approve_and_verify,
    onboarding_and_client_credentials,
    consent_request_pin_approval_outputs_and_webhook,
    passkey_approval_is_bound_to_the_request,
    refusals,
    native_result_carries_validation_material,
    csc_v2_sign_hash_returns_validation_info,
    csc_v1_sign_hash_has_no_validation_info,
    a_pdf_signed_with_cms_pades_is_b_b_then_b_lt,
    a_pdf_signed_with_csc_v2_sign_hash_is_b_lt,
    a_cms_with_signing_time_is_not_pades,
    webhooks_carry_validation_material_when_opted_in,
    a_device_kept_certificate_signs_on_the_device,
    the_copy_mailbox_gives_a_package_once,
    a_rotated_webhook_secret_signs_the_next_delivery,
    csc_asynchronous_answers_are_polled_on_any_node,
    a_prf_bound_passkey_alone_opens_its_copy_of_the_key,
);
