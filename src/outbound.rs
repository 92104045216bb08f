//! Signed JSON requests to partner systems (the institution's identity service, the telecom
//! gateway). Every request carries `X-Fincert-Timestamp` and
//! `X-Fincert-Signature: v1=<hex HMAC-SHA256(secret, timestamp "." body)>`, so the partner can
//! check it came from fincert and is fresh; every request has a timeout. Bodies may hold
//! personal data or one-time codes: they are never logged.

use std::time::Duration;

use aws_lc_rs::hmac;
use serde::{Serialize, de::DeserializeOwned};

use crate::config::Secret;

/// A partner endpoint.
#[derive(Clone)]
pub struct Partner {
    client: reqwest::Client,
    url: String,
    key: hmac::Key,
}

impl std::fmt::Debug for Partner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partner")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Signature header for `body` at `timestamp` under `secret` (what a partner recomputes).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("v1={}", hex::encode(ctx.sign().as_ref()))
}

/// An HTTP client for calls out of fincert: every request limited to `timeout`, redirects
/// never followed (a partner or webhook cannot send a signed body elsewhere).
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())
}

/// What a failed send is reported as (never the URL or body).
pub fn send_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".to_string()
    } else {
        "connection failed".to_string()
    }
}

impl Partner {
    /// A partner at `url`, requests signed with `secret`, each limited to `timeout`.
    pub fn new(url: &str, secret: &Secret, timeout: Duration) -> Result<Self, String> {
        let client = client(timeout)?;
        Ok(Self {
            client,
            url: url.to_owned(),
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes()),
        })
    }

    /// POSTs `body` signed at `timestamp`; a 2xx answer is decoded as `R`.
    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        body: &B,
        timestamp: i64,
    ) -> Result<R, String> {
        let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(&bytes);
        let sig = format!("v1={}", hex::encode(ctx.sign().as_ref()));
        let resp = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-fincert-timestamp", timestamp.to_string())
            .header("x-fincert-signature", sig)
            .body(bytes)
            .send()
            .await
            .map_err(|e| send_error(&e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("partner answered {}", status.as_u16()));
        }
        resp.json::<R>()
            .await
            .map_err(|_| "unreadable answer".to_string())
    }
}
