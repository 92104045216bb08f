//! The public audit evidence: signed checkpoints of the audit chain head and the keys that
//! verify them (no authentication: auditors and institutions keep copies).

use actix_web::{HttpResponse, web};
use fincert_client::proto::Items;
use serde::Deserialize;

use crate::{checkpoints, error::ApiError, state::AppState};

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

/// `GET /v1/audit/checkpoints` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointQuery {
    cursor: Option<String>,
    limit: Option<u64>,
}

/// Where a page starts: after the checkpoint a cursor names (0 without one).
fn parse(q: &CheckpointQuery) -> Result<(i64, u64), ApiError> {
    let after = match &q.cursor {
        None => 0,
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0 && c.len() <= 20)
            .ok_or_else(|| {
                ApiError::InvalidQuery("cursor: not a cursor this service gave out".into())
            })?,
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidQuery(format!("limit: 1 to {MAX_LIMIT}")));
    }
    Ok((after, limit))
}

/// `GET /v1/audit/checkpoints`: signed checkpoints, oldest first, cursor-paginated.
#[tracing::instrument(skip_all)]
pub async fn checkpoints(
    state: web::Data<AppState>,
    q: web::Query<CheckpointQuery>,
) -> Result<HttpResponse, ApiError> {
    let (after, limit) = parse(&q)?;
    let page = checkpoints::page(&state.db, after, limit).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /v1/audit/keys`: every audit public key, newest first.
#[tracing::instrument(skip_all)]
pub async fn keys(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = Items {
        items: checkpoints::public_keys(&state.db).await?,
    };
    Ok(HttpResponse::Ok().json(keys))
}
