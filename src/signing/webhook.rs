//! Webhook delivery: after a request is signed or rejected, its institution gets a POST with
//! the request as JSON, signed like every outbound call of fincert
//! (`X-Fincert-Timestamp`, `X-Fincert-Signature: v1=<hex HMAC-SHA256(secret, ts "." body)>`,
//! plus `X-Fincert-Delivery` for de-duplication). The secret is the institution's webhook
//! secret ([`super::institution::webhook_secret`]).
//!
//! Deliveries live in the database, so any node sends them: a node leases a due delivery with
//! a conditional update (one attempt at a time), posts it, and records the attempt in the log.
//! A non-2xx answer or a network failure is retried after `backoff × 2^(attempt-1)`; after
//! `webhook_max_attempts` the delivery is marked failed. The institution can always fetch
//! the result instead.
//!
//! **Validation material.** An institution the operator opted in
//! (`fincert institution webhook-validation-info <id> on`) gets, in each
//! `signature_request.signed` body, `request.result.validation_info`: the same object as
//! `GET /v1/signature-requests/{id}` (the signer's chain, an OCSP response for the signer, the
//! CA levels' CRLs). It is built at each attempt, never stored with the delivery: an attempt
//! comes after the signature's commit (the delivery row is written by it), so, as for the GET,
//! a revocation committed before the attempt is never answered `good`, and a retry carries
//! fresher material. Material that cannot be built (the OCSP responder's key unavailable)
//! fails the attempt, which is retried like any other. Off by default because of its size:
//! measured, a 3.7 KB body becomes 8.9 KB with the material of a fresh CA (RSA-2048 signer),
//! and the issuing CA's full CRL in it grows by ≈ 40 bytes per live revocation (≈ 55 in
//! base64), so ≈ 0.5 MB per event at 10,000 revoked certificates, where a receiver expects a
//! few KB (and an institution that fetches the result with GET already has it).
//!
//! The POST itself goes through a [`WebhookSender`] chosen when [`Signing`] is built (in
//! production [`HttpWebhookSender`]); everything above it (signing, leases, retries, the
//! delivery log) stays here.

use std::borrow::Cow;

use chrono::Duration;
use fincert_client::proto::institutions::WebhookEvent;

use super::{Signing, SigningError};
use crate::{
    domain::delivery_status::DeliveryStatus,
    outbound,
    store::{self, signing as db},
};

/// The event whose body may carry the validation material.
const SIGNED: &str = "signature_request.signed";

/// A delivery as its institution sees it: the wire type itself.
pub use fincert_client::proto::institutions::DeliveryView;

impl From<db::DeliveryRow> for DeliveryView {
    fn from(r: db::DeliveryRow) -> Self {
        Self {
            next_attempt_at: (r.status == DeliveryStatus::Pending).then_some(r.next_attempt_at),
            id: r.id,
            url: r.url,
            status: r.status.as_str().to_owned(),
            attempts: r.attempts,
            last_status: r.last_status,
            last_error: r.last_error,
            delivered_at: r.delivered_at,
        }
    }
}

/// Wait before attempt `next` (2, 3, …): `base × 2^(next-2)`, capped at a day.
pub fn backoff(base_secs: u32, next: u32) -> Duration {
    let exp = next.saturating_sub(2).min(16);
    let secs = i64::from(base_secs).saturating_mul(1_i64 << exp);
    Duration::seconds(secs.min(86_400))
}

/// How long a leased attempt keeps others away (longer than any request timeout).
const LEASE_SECS: i64 = 120;

impl Signing {
    /// Sends every delivery due now (at most `limit`); returns how many were attempted.
    pub async fn deliver_due(
        &self,
        conn: &sea_orm::DatabaseConnection,
        limit: u32,
    ) -> Result<usize, SigningError> {
        let now = self.clock.now();
        let mut attempted = 0;
        for d in db::due_deliveries(conn, now, limit).await? {
            if !db::lease_delivery(conn, &d.id, d.attempts, now + Duration::seconds(LEASE_SECS))
                .await?
            {
                continue;
            }
            attempted += 1;
            let attempt = d.attempts + 1;
            let outcome = self.post(conn, &d).await;
            let now = self.clock.now();
            let (code, error, delivered) = match outcome {
                Ok(code) if (200..300).contains(&code) => (Some(code), None, true),
                Ok(code) => (Some(code), Some(format!("answered {code}")), false),
                Err(e) => (None, Some(e), false),
            };
            let max = i32::try_from(self.settings.webhook_max_attempts).unwrap_or(i32::MAX);
            let (status, next) = if delivered {
                (DeliveryStatus::Delivered, now)
            } else if attempt >= max {
                (DeliveryStatus::Failed, now)
            } else {
                let wait = backoff(
                    self.settings.webhook_backoff_secs,
                    u32::try_from(attempt + 1).unwrap_or(u32::MAX),
                );
                (DeliveryStatus::Pending, now + wait)
            };
            if status != DeliveryStatus::Delivered {
                tracing::info!(delivery = %d.id, attempt, error = error.as_deref().unwrap_or(""), status = status.as_str(), "webhook attempt failed");
            }
            db::record_attempt(
                conn,
                &d.id,
                attempt,
                code,
                error.as_deref(),
                status,
                next,
                now,
            )
            .await?;
        }
        Ok(attempted)
    }

    async fn post(
        &self,
        conn: &sea_orm::DatabaseConnection,
        d: &db::DeliveryRow,
    ) -> Result<i32, String> {
        let inst = db::institution(conn, &d.institution_id)
            .await
            .map_err(|_| "database unavailable".to_string())?
            .ok_or_else(|| "institution removed".to_string())?;
        let secret = super::institution::webhook_secret(self.custody.kms().as_ref(), &inst)
            .await
            .map_err(|_| "kms unavailable".to_string())?;
        let body = if inst.webhook_validation_info {
            Cow::Owned(self.with_validation_info(conn, &d.body).await?)
        } else {
            Cow::Borrowed(d.body.as_str())
        };
        let ts = self.clock.now().timestamp();
        let sig = outbound::signature(secret.as_bytes(), ts, body.as_bytes());
        let headers = [
            ("content-type", "application/json".to_string()),
            ("x-fincert-timestamp", ts.to_string()),
            ("x-fincert-signature", sig),
            ("x-fincert-delivery", d.id.clone()),
        ];
        let status = self.webhooks.deliver(&d.url, &headers, &body).await?;
        Ok(i32::from(status))
    }

    /// `body` (a stored [`WebhookEvent`]) with the signer's validation material built now, if
    /// it reports a signature; any other event unchanged, and so is an asynchronous CSC answer
    /// (which carries the material its call asked for). Why not, if it cannot be built.
    async fn with_validation_info(
        &self,
        conn: &sea_orm::DatabaseConnection,
        body: &str,
    ) -> Result<String, String> {
        let Ok(mut event) = serde_json::from_str::<WebhookEvent>(body) else {
            return match serde_json::from_str::<serde_json::Value>(body) {
                Ok(v) if v.get("responseID").is_some() => Ok(body.to_owned()),
                _ => Err("stored webhook body unreadable".to_string()),
            };
        };
        if event.event != SIGNED {
            return Ok(body.to_owned());
        }
        let Some(result) = event.request.result.as_mut() else {
            return Ok(body.to_owned());
        };
        let cert = store::pki::certificate_by_id(conn, &event.request.certificate_id)
            .await
            .map_err(|_| "database unavailable".to_string())?
            .ok_or_else(|| "signer certificate not found".to_string())?;
        let info = self
            .validation_info(
                conn,
                &cert.certificate_der,
                &cert.serial_hex,
                cert.foreign_chain.as_deref(),
            )
            .await
            .map_err(|_| "validation material unavailable".to_string())?;
        result.validation_info = Some(info);
        serde_json::to_string(&event).map_err(|_| "webhook body not serialised".to_string())
    }
}

/// Where webhook POSTs go: the one seam between delivery bookkeeping (leases, retries, the
/// log) and the network. It sends exactly what it is given: signing is done before.
#[async_trait::async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs `body` to `url` with `headers` (in order); the HTTP status answered, or why
    /// there was none (never the URL or the body).
    async fn deliver(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
    ) -> Result<u16, String>;
}

/// The production sender: a client from [`outbound::client`] (every request limited to the
/// webhook timeout, redirects never followed).
#[derive(Debug)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
}

impl HttpWebhookSender {
    /// A sender whose every request is limited to `timeout`.
    pub fn new(timeout: std::time::Duration) -> Result<Self, String> {
        Ok(Self {
            client: outbound::client(timeout)?,
        })
    }
}

#[async_trait::async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn deliver(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
    ) -> Result<u16, String> {
        let mut request = self.client.post(url);
        for (name, value) in headers {
            request = request.header(*name, value.clone());
        }
        let resp = request
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| outbound::send_error(&e))?;
        Ok(resp.status().as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(10, 2), Duration::seconds(10));
        assert_eq!(backoff(10, 3), Duration::seconds(20));
        assert_eq!(backoff(10, 5), Duration::seconds(80));
        assert_eq!(backoff(3600, 20), Duration::seconds(86_400));
    }
}
