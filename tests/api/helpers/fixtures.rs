//! The people and institutions most tests start from: a cloud certificate (`cloud_cert`), a
//! signed-in certificate holder (`holder`), a registered institution with its token
//! (`institution`), and the holder's consent to it (`consent`). Signing in, the token grant and
//! the consent go through the typed client (`fincert_client`), as a customer's code would.
//!
//! A fixture panics when its own set-up fails; it never asserts what a test is about.

use fincert::{
    clock::Clock,
    custody::OwnerId,
    domain::pin::Pin,
    pki::{
        CertificateView, IssueRequest, KeySource,
        profile::{CertKind, HolderName, Usage},
    },
    signing::institution::{self, Sector},
};
use fincert_client::proto::consents::{ConsentBody, ConsentView};
use uuid::Uuid;

use super::{
    app::TestApp,
    http::{body, post},
};

/// The PIN every fixture certificate is issued with.
pub const PIN: &str = "482915";

pub fn owner(s: &str) -> OwnerId {
    OwnerId::parse(s).unwrap()
}

pub fn pin(s: &str) -> Pin {
    Pin::parse(s).unwrap()
}

/// A cloud certificate to issue: financial, general use, for 홍길동, its key sealed under
/// `PIN`, unless told otherwise.
pub struct CloudCert<'a> {
    owner: &'a str,
    holder: &'a str,
    kind: CertKind,
    usage: Usage,
    pin: &'a str,
}

/// A cloud certificate for `owner` (a user id); change what differs, then `issue` it.
pub fn cloud_cert(owner: &str) -> CloudCert<'_> {
    CloudCert {
        owner,
        holder: "홍길동",
        kind: CertKind::Financial,
        usage: Usage::General,
        pin: PIN,
    }
}

impl<'a> CloudCert<'a> {
    pub fn holder(self, holder: &'a str) -> Self {
        Self { holder, ..self }
    }

    pub fn kind(self, kind: CertKind) -> Self {
        Self { kind, ..self }
    }

    pub fn usage(self, usage: Usage) -> Self {
        Self { usage, ..self }
    }

    pub fn pin(self, pin: &'a str) -> Self {
        Self { pin, ..self }
    }

    /// Issues it through the app's CA.
    pub async fn issue(self, app: &TestApp) -> CertificateView {
        app.pki
            .issue(
                &app.db,
                IssueRequest {
                    owner: owner(self.owner),
                    holder: HolderName::parse(self.holder).unwrap(),
                    kind: self.kind,
                    usage: self.usage,
                    key: KeySource::Cloud(&pin(self.pin)),
                },
            )
            .await
            .unwrap()
    }
}

/// A user known to the service (홍길동, born 1987-03-14, phone 01012345678) with customer
/// number `customer`; returns their id.
pub async fn user(app: &TestApp, customer: &str) -> OwnerId {
    let user = fincert::store::enrolment::upsert_user(
        &app.db,
        customer,
        "홍길동",
        "1987-03-14",
        "01012345678",
        app.clock.now(),
    )
    .await
    .unwrap();
    OwnerId::parse(&user).unwrap()
}

/// The origin the test app's WebAuthn relying party expects.
pub const PASSKEY_ORIGIN: &str = "http://localhost:8080";

/// A software passkey (user verification on) registered through the API for the holder behind
/// `token`, bound to `certificate_id`'s key (its `PIN` opens it once).
pub async fn bound_passkey(
    app: &TestApp,
    token: &str,
    certificate_id: Uuid,
) -> webauthn_authenticator_rs::softpasskey::SoftPasskey {
    use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
    let mut phone = SoftPasskey::new(true);
    let started: serde_json::Value = super::post(
        app,
        "/v1/passkeys/register/start",
        token,
        serde_json::json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let options: webauthn_rs::prelude::CreationChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let origin = webauthn_rs::prelude::Url::parse(PASSKEY_ORIGIN).unwrap();
    let credential = phone.do_registration(origin, options).unwrap();
    let finish = serde_json::json!({
        "ceremony_id": started["ceremony_id"], "credential": credential, "name": "Galaxy",
        "certificate_id": certificate_id, "pin": PIN,
    });
    let resp = super::post(app, "/v1/passkeys/register/finish", token, finish).await;
    assert_eq!(resp.status(), 201, "passkey registration");
    phone
}

/// Signs in with `certificate_id` and `PIN` (typed client); returns the session's access token.
pub async fn sign_in(app: &TestApp, certificate_id: Uuid) -> String {
    let session = app
        .api
        .sign_in(certificate_id, PIN)
        .await
        .expect("the fixture's certificate signs in with its PIN");
    session.token().expect("a session token").to_owned()
}

/// A certificate holder: their certificate and a session.
pub struct Holder {
    pub owner: OwnerId,
    pub cert: CertificateView,
    /// The session's access token, for raw calls.
    pub token: String,
    /// The typed client, signed in as this holder.
    pub api: fincert_client::Client,
}

/// A user with customer number `customer`, a cloud certificate of `usage` under `PIN`, signed in.
pub async fn holder(app: &TestApp, customer: &str, usage: Usage) -> Holder {
    let owner = user(app, customer).await;
    let cert = cloud_cert(owner.as_str()).usage(usage).issue(app).await;
    let token = sign_in(app, cert.id).await;
    Holder {
        owner,
        cert,
        api: app.api.with_token(token.clone()),
        token,
    }
}

/// A registered institution and an access token for it.
pub struct Inst {
    pub id: String,
    pub client_id: String,
    pub secret: String,
    pub webhook_secret: String,
    /// Its access token (scopes `sign verify`), for raw calls.
    pub token: String,
    /// The typed client, carrying that token.
    pub api: fincert_client::Client,
}

/// Registers an institution (as the operator's CLI does), without a token.
pub async fn register_institution(
    app: &TestApp,
    name: &str,
    sector: Sector,
) -> institution::Credentials {
    institution::register(
        &app.db,
        app.custody.kms().as_ref(),
        app.clock.now(),
        name,
        sector,
    )
    .await
    .unwrap()
}

/// Registers an institution and gets it a token with every scope (typed client, HTTP Basic).
pub async fn institution(app: &TestApp, name: &str, sector: Sector) -> Inst {
    let creds = register_institution(app, name, sector).await;
    let client_id = creds.institution.client_id.clone();
    let secret = creds.client_secret.to_string();
    let token = app
        .api
        .client_credentials(&client_id, &secret, None)
        .await
        .expect("the institution gets a token");
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.scope.as_deref(), Some("sign verify"));
    Inst {
        id: creds.institution.id,
        client_id,
        secret,
        webhook_secret: creds.webhook_secret.to_string(),
        api: app.api.with_token(token.access_token.clone()),
        token: token.access_token,
    }
}

/// The holder registers their certificate with `inst` (typed client); returns the consent.
pub async fn consent(h: &Holder, inst: &Inst) -> ConsentView {
    h.api
        .consent(&ConsentBody {
            institution_id: Uuid::parse_str(&inst.id).unwrap(),
            certificate_id: h.cert.id,
        })
        .await
        .expect("the holder consents")
}

/// The same consent sent raw, for tests that check the answer itself (201, or a problem).
pub async fn consent_response(app: &TestApp, h: &Holder, inst: &Inst) -> reqwest::Response {
    let consent = ConsentBody {
        institution_id: Uuid::parse_str(&inst.id).unwrap(),
        certificate_id: h.cert.id,
    };
    post(app, "/v1/consents", &h.token, body(&consent)).await
}
