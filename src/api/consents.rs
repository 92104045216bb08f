//! The user side of institution registration: the directory of institutions, consents
//! ("register my certificate with institution X") and their withdrawal.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::extract::User;
use crate::{error::ApiError, state::AppState};

/// `GET /v1/institutions`: institutions a certificate can be registered with.
#[tracing::instrument(skip_all)]
pub async fn directory(state: web::Data<AppState>, _user: User) -> Result<HttpResponse, ApiError> {
    let items = state.signing.directory(&state.db).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

use fincert_client::proto::consents::ConsentBody;

/// `POST /v1/consents`: the signed-in holder lets an institution request signatures with one
/// of their certificates.
#[tracing::instrument(skip_all)]
pub async fn give(
    state: web::Data<AppState>,
    user: User,
    body: web::Json<ConsentBody>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .signing
        .consent(
            &state.db,
            &user.0,
            &body.institution_id.to_string(),
            body.certificate_id,
        )
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Listing options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    include_withdrawn: bool,
}

/// `GET /v1/consents`.
#[tracing::instrument(skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    user: User,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let items = state
        .signing
        .consents(&state.db, &user.0, query.include_withdrawn)
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

/// `DELETE /v1/consents/{id}`: the institution loses sight of the certificate at once.
#[tracing::instrument(skip_all)]
pub async fn withdraw(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .signing
        .withdraw(&state.db, &user.0, &id.to_string())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
