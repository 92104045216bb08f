//! A small typed client for fincert's remote-signing API.
//!
//! ```no_run
//! # async fn run() -> Result<(), fincert_client::Error> {
//! use fincert_client::{Client, proto::institutions::NewRequestBody};
//! let bank = Client::new("https://fincert.example")?
//!     .institution("fc_0123", "fcs_secret", None)
//!     .await?;
//! let req = bank
//!     .create_request(
//!         &NewRequestBody {
//!             user_ref: Some("u_1234".into()),
//!             digests: Some(vec!["base64 SHA-256".into()]),
//!             display_text: "Transfer 10,000 KRW to Kim".into(),
//!             ..Default::default()
//!         },
//!         "order-42",
//!     )
//!     .await?;
//! println!("{}", req.id);
//! # Ok(()) }
//! ```
//!
//! The wire types in [`proto`] are the server's own: fincert reads and writes exactly these
//! structs, one module per resource, with the stable error codes ([`proto::ErrorCode`]).

// `unsafe_code` is forbidden and unwrap/expect/panic/todo are denied by `[workspace.lints]`
// (Cargo.toml); unit tests may use them.
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)
)]
#![deny(missing_docs)]

pub mod proto;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde::{Serialize, de::DeserializeOwned};
use uuid::Uuid;

use proto::{
    ErrorCode, Items, OAuthErrorBody, Problem,
    approvals::{ApprovalView, Approved, PinApproval},
    auth::{DeviceChallenge, DeviceChallengeBody, DeviceLoginBody, PinLoginBody},
    consents::{ConsentBody, ConsentView, InstitutionSummary},
    institutions::{Algorithm, LoginBody, NewRequestBody, RequestView, VerifyBody, VerifyReport},
    oauth::TokenResponse,
};

/// Client failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The base URL is not a URL.
    #[error("invalid base URL")]
    Url,
    /// The request could not be sent or the answer not read.
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The service refused: its problem document (an answer without one, e.g. a proxy's, as a
    /// problem of that status with the code `error`).
    #[error("{} {}: {}", .0.status, .0.code, .0.detail)]
    Api(Box<Problem>),
    /// The token endpoint refused (RFC 6749 §5.2).
    #[error("{status} {}: {}", .body.error, .body.error_description)]
    OAuth {
        /// HTTP status.
        status: u16,
        /// The error answer.
        body: OAuthErrorBody,
    },
}

/// A connection to one fincert service, optionally with an access token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client for the service at `base` (e.g. `https://fincert.example`).
    pub fn new(base: &str) -> Result<Self, Error> {
        reqwest::Url::parse(base).map_err(|_| Error::Url)?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: None,
        })
    }

    /// The same client with `token` as its bearer token.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The bearer token in use, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, Error> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp.json().await?);
        }
        let body = resp.bytes().await.unwrap_or_default();
        if let Ok(problem) = serde_json::from_slice::<Problem>(&body) {
            return Err(Error::Api(Box::new(problem)));
        }
        if let Ok(body) = serde_json::from_slice::<OAuthErrorBody>(&body) {
            return Err(Error::OAuth {
                status: status.as_u16(),
                body,
            });
        }
        Err(Error::Api(Box::new(Problem {
            kind: String::new(),
            title: String::new(),
            status: status.as_u16(),
            detail: String::new(),
            code: ErrorCode::Other("error".into()),
            request_id: None,
            tries_left: None,
        })))
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.send(self.http.get(self.url(path))).await
    }

    // ----- institutions -----

    /// Authenticates an institution (OAuth2 client credentials); returns a client carrying
    /// its access token.
    pub async fn institution(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<Self, Error> {
        let token = self
            .client_credentials(client_id, client_secret, scope)
            .await?;
        Ok(self.with_token(token.access_token))
    }

    /// The OAuth2 client-credentials grant itself (HTTP Basic): the token answer, with its
    /// type, lifetime and granted scopes.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, Error> {
        let basic = STANDARD.encode(format!("{client_id}:{client_secret}"));
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_form(v)))
            .collect::<Vec<_>>()
            .join("&");
        let req = self
            .http
            .post(self.url("/oauth2/token"))
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        Self {
            token: None,
            ..self.clone()
        }
        .send(req)
        .await
    }

    /// Creates a signature request; `idempotency_key` makes a retry safe.
    pub async fn create_request(
        &self,
        body: &NewRequestBody,
        idempotency_key: &str,
    ) -> Result<RequestView, Error> {
        let req = self
            .http
            .post(self.url("/v1/signature-requests"))
            .header("idempotency-key", idempotency_key)
            .json(body);
        self.send(req).await
    }

    /// Creates a login-with-certificate request.
    pub async fn create_login(
        &self,
        body: &LoginBody,
        idempotency_key: &str,
    ) -> Result<RequestView, Error> {
        let req = self
            .http
            .post(self.url("/v1/login-requests"))
            .header("idempotency-key", idempotency_key)
            .json(body);
        self.send(req).await
    }

    /// A request's status and, once signed, its result.
    pub async fn request(&self, id: Uuid) -> Result<RequestView, Error> {
        self.get(&format!("/v1/signature-requests/{id}")).await
    }

    /// Verifies a signature, its certificate chain and status.
    pub async fn verify(&self, body: &VerifyBody) -> Result<VerifyReport, Error> {
        self.post("/v1/verify", body).await
    }

    // ----- certificate holders -----

    /// Signs a holder in with a certificate and its PIN; returns a client carrying the
    /// session's access token.
    pub async fn sign_in(&self, certificate_id: Uuid, pin: &str) -> Result<Self, Error> {
        let body = PinLoginBody {
            certificate_id,
            pin: zeroize::Zeroizing::new(pin.to_owned()),
            ticket: None,
        };
        let session: TokenResponse = Self {
            token: None,
            ..self.clone()
        }
        .post("/v1/auth/pin", &body)
        .await?;
        Ok(self.with_token(session.access_token))
    }

    /// Signs the holder of a device-held certificate in by proof of possession: asks for a
    /// challenge, has `sign` sign its text (UTF-8) with the device key under `algorithm`, and
    /// answers; returns a client carrying the session's access token.
    pub async fn sign_in_with_device(
        &self,
        certificate_id: Uuid,
        algorithm: Algorithm,
        sign: impl FnOnce(&str) -> Vec<u8>,
    ) -> Result<Self, Error> {
        let anonymous = Self {
            token: None,
            ..self.clone()
        };
        let challenge: DeviceChallenge = anonymous
            .post(
                "/v1/auth/device/challenge",
                &DeviceChallengeBody { certificate_id },
            )
            .await?;
        let signature = STANDARD.encode(sign(&challenge.challenge));
        let body = DeviceLoginBody {
            certificate_id,
            challenge_id: challenge.challenge_id,
            challenge: challenge.challenge,
            algorithm,
            signature,
        };
        let session: TokenResponse = anonymous.post("/v1/auth/device", &body).await?;
        Ok(self.with_token(session.access_token))
    }

    /// Institutions a certificate can be registered with.
    pub async fn institutions(&self) -> Result<Vec<InstitutionSummary>, Error> {
        Ok(self.get::<Items<_>>("/v1/institutions").await?.items)
    }

    /// Registers a certificate with an institution.
    pub async fn consent(&self, body: &ConsentBody) -> Result<ConsentView, Error> {
        self.post("/v1/consents", body).await
    }

    /// Requests waiting for the holder.
    pub async fn pending(&self) -> Result<Vec<ApprovalView>, Error> {
        Ok(self.get::<Items<_>>("/v1/approvals").await?.items)
    }

    /// One request as the holder sees it.
    pub async fn approval(&self, id: Uuid) -> Result<ApprovalView, Error> {
        self.get(&format!("/v1/approvals/{id}")).await
    }

    /// Approves with the PIN; `request_digest` is the one the holder was shown. The answer
    /// carries `renewed` when the same PIN also renewed the certificate (automatic renewal).
    pub async fn approve(&self, id: Uuid, body: &PinApproval) -> Result<Approved, Error> {
        self.post(&format!("/v1/approvals/{id}/approve"), body)
            .await
    }

    /// Rejects a request.
    pub async fn reject(&self, id: Uuid) -> Result<RequestView, Error> {
        self.post(
            &format!("/v1/approvals/{id}/reject"),
            &serde_json::json!({}),
        )
        .await
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn encode_form(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_encoded() {
        assert_eq!(encode_form("sign verify"), "sign+verify");
        assert_eq!(encode_form("a&b=c"), "a%26b%3Dc");
    }

    #[test]
    fn pin_approvals_do_not_print_the_pin() {
        let a = PinApproval {
            pin: zeroize::Zeroizing::new("482915".into()),
            request_digest: "d".into(),
        };
        assert!(!format!("{a:?}").contains("482915"));
    }
}
