//! `Idempotency-Key` on creating POSTs from institutions: the first request with a key runs and
//! its response is stored; a retry with the same key and the same request gets that response
//! again (with `Idempotent-Replayed: true`) instead of a second resource; the same key with a
//! different request is refused. Keys live 24 hours, per caller.
//!
//! The work stores its answer under the key in its own transaction (the claim is handed to
//! it), so a request and the answer that names it commit together: a node that dies after the
//! claim leaves either both or neither, and an unfinished claim older than its lease (twice the
//! request timeout, which no request outlives) is taken over by the next retry.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use chrono::Duration;
use serde::Serialize;

use crate::{
    domain::idempotency::fingerprint,
    error::{ApiError, ErrorCode, Kind},
    state::AppState,
    store::idempotency::{self, Claim, Claimed},
};

/// Runs `work` at most once per (`scope`, key, request); answers with `status` and its JSON.
/// `work` gets the claim and the status, and must store its answer with them in its own
/// transaction (`store::idempotency::complete`).
pub async fn run<T, Fut>(
    state: &AppState,
    req: &HttpRequest,
    scope: &str,
    body: &[u8],
    status: StatusCode,
    work: impl FnOnce((Claimed, u16)) -> Fut,
) -> Result<HttpResponse, ApiError>
where
    T: Serialize,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let key = super::extract::idempotency_key(req)?;
    let print = fingerprint(req.method().as_str(), req.path(), body);
    let now = state.clock.now();
    // No request outlives its timeout: a claim twice that old has no work behind it.
    let lease = Duration::seconds(
        i64::try_from(state.settings.http.request_timeout_secs).unwrap_or(300) * 2,
    );
    match state
        .signing
        .claim_idempotency(crate::signing::commit::ClaimOf {
            scope: scope.to_owned(),
            key: key.clone(),
            fingerprint: print,
            at: now,
            ttl: Duration::hours(24),
            lease,
        })
        .await?
    {
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
    let claimed = Claimed {
        scope: scope.to_owned(),
        key,
        at: now,
    };
    match work((claimed.clone(), status.as_u16())).await {
        Ok(value) => {
            // The same bytes the work stored under the key.
            let json = serde_json::to_string(&value).map_err(|_| ApiError::Internal)?;
            Ok(HttpResponse::build(status)
                .content_type("application/json")
                .body(json))
        }
        Err(e) => {
            // Failed work is not remembered: a retry runs again.
            if let Err(release) = idempotency::release(&state.db, &claimed).await {
                tracing::warn!(error = %release, "idempotency key not released");
            }
            Err(e)
        }
    }
}
