//! `Idempotency-Key` on creating POSTs from institutions: the first request with a key runs and
//! its response is stored; a retry with the same key and the same request gets that response
//! again (with `Idempotent-Replayed: true`) instead of a second resource; the same key with a
//! different request is refused. Keys live 24 hours, per caller.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use chrono::Duration;
use serde::Serialize;

use crate::{
    domain::idempotency::fingerprint,
    error::{ApiError, ErrorCode, Kind},
    state::AppState,
    store::idempotency::{self, Claim},
};

/// Runs `work` at most once per (`scope`, key, request); answers with `status` and its JSON.
pub async fn run<T, Fut>(
    state: &AppState,
    req: &HttpRequest,
    scope: &str,
    body: &[u8],
    status: StatusCode,
    work: impl FnOnce() -> Fut,
) -> Result<HttpResponse, ApiError>
where
    T: Serialize,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let key = super::extract::idempotency_key(req)?;
    let print = fingerprint(req.method().as_str(), req.path(), body);
    let now = state.clock.now();
    match idempotency::claim(&state.db, scope, &key, &print, now, Duration::hours(24)).await? {
        Claim::Fresh => {}
        Claim::Replay { status, body } => {
            return Ok(
                HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                    .insert_header(("Idempotent-Replayed", "true"))
                    .content_type("application/json")
                    .body(body),
            );
        }
        Claim::InProgress => {
            return Err(ApiError::rule(
                Kind::Conflict,
                ErrorCode::IdempotencyInProgress,
                "Request in progress",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            ));
        }
        Claim::Mismatch => {
            return Err(ApiError::rule(
                Kind::Unprocessable,
                ErrorCode::IdempotencyKeyReused,
                "Idempotency-Key reused",
                "this Idempotency-Key was used with a different request",
            ));
        }
    }
    match work().await {
        Ok(value) => {
            let json = serde_json::to_string(&value).map_err(|_| ApiError::Internal)?;
            idempotency::complete(&state.db, scope, &key, status.as_u16(), &json).await?;
            Ok(HttpResponse::build(status)
                .content_type("application/json")
                .body(json))
        }
        Err(e) => {
            // Failed work is not remembered: a retry runs again.
            if let Err(release) = idempotency::release(&state.db, scope, &key).await {
                tracing::warn!(error = %release, "idempotency key not released");
            }
            Err(e)
        }
    }
}
