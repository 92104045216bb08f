//! Terms documents a user must agree to before enrolment.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::{domain::terms, error::ApiError, state::AppState, store};

/// The current version of every terms document.
#[tracing::instrument(skip_all)]
pub async fn list_current(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let docs = terms::current(store::terms::in_effect(&state.db, now).await?, now);
    Ok(HttpResponse::Ok().json(json!({ "items": docs })))
}
