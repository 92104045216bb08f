//! Fixtures of the issuance procedure: the development customer (홍길동, customer number
//! 110-123-456789, phone 010-1234-5678) as the identity verifier knows them, their identity
//! details, the current required terms, their OTP media, and an enrolment through step 1.

use fincert::{
    auth::media::{self, MediumKind},
    clock::Clock,
    domain::person::CustomerNumber,
};
use fincert_client::proto::{
    Items,
    enrolment::{AgreedTerms, EnrolmentView, TermsBody},
    terms::TermsDocument,
};
use serde_json::{Value, json};

use super::{
    app::TestApp,
    http::{ANON, body, post},
};

/// The development customer's OTP seed (RFC 4226's test secret).
pub const OTP_SECRET: &[u8] = b"12345678901234567890";

/// Makes the development customer known to the development identity verifier.
pub async fn dev_customer(app: &TestApp) {
    fincert::store::enrolment::put_dev_customer(
        &app.db,
        "110123456789",
        "홍길동",
        "1987-03-14",
        "010-1234-5678",
    )
    .await
    .unwrap();
}

pub fn customer_number() -> CustomerNumber {
    CustomerNumber::parse("110123456789").unwrap()
}

/// The development customer's identity details, with `birth` as their birth date.
pub fn identity(birth: &str) -> Value {
    json!({"name": "홍길동", "birth_date": birth, "phone": "010-1234-5678", "customer_number": "110-123-456789"})
}

/// Every current required terms document, as the client would send it.
pub async fn required_terms(app: &TestApp) -> TermsBody {
    let terms: Items<TermsDocument> = app.get("/v1/terms").await.json().await.unwrap();
    let agreed = terms
        .items
        .into_iter()
        .filter(|d| d.required)
        .map(|d| AgreedTerms {
            code: d.code,
            version: d.version,
        })
        .collect();
    TermsBody { agreed }
}

/// Starts an enrolment for `purpose` (`issue`, `reissue`) and agrees to the required terms
/// (step 1); returns its base path, `/v1/enrolments/<id>`.
pub async fn start_enrolment(app: &TestApp, purpose: &str) -> String {
    let e: EnrolmentView = post(app, "/v1/enrolments", ANON, json!({"purpose": purpose}))
        .await
        .json()
        .await
        .unwrap();
    let base = format!("/v1/enrolments/{}", e.id);
    post(
        app,
        &format!("{base}/terms"),
        ANON,
        body(&required_terms(app).await),
    )
    .await;
    base
}

/// The 6-digit code in the last message the development outbox sent to the customer's phone.
pub fn code_from(app: &TestApp) -> String {
    let msg = app
        .outbox
        .last_to("01012345678")
        .expect("a message was sent");
    msg.body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a 6-digit code")
        .to_string()
}

/// Registers an OTP medium of `kind` with `OTP_SECRET` for the development customer (a mobile
/// OTP is bound to `device`).
pub async fn register_otp(app: &TestApp, kind: MediumKind, device: Option<&str>) {
    media::register_otp(
        &app.db,
        app.custody.kms().as_ref(),
        &customer_number(),
        kind,
        OTP_SECRET,
        device,
        app.clock.now(),
    )
    .await
    .unwrap();
}
