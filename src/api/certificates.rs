//! The signed-in user's certificates.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::auth::User;
use crate::{error::ApiError, startup::AppState};

/// `GET /v1/certificates`: the user's certificates, newest first, with status in force and
/// whether renewal is open.
#[tracing::instrument(skip_all)]
pub async fn list(state: web::Data<AppState>, user: User) -> Result<HttpResponse, ApiError> {
    let items = state.pki.certificates(&state.db, &user.0).await?;
    let fees = state.pki.fees(&state.db, &user.0).await?;
    let charged: i64 = fees.iter().map(|f| i64::from(f.amount_krw)).sum();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "fees_charged_krw": charged })))
}
