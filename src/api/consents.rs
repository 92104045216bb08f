//! The user side of institution registration: the directory of institutions, consents
//! ("register my certificate with institution X") and their withdrawal.

use actix_web::{HttpResponse, web};
use fincert_client::proto::{
    Items,
    consents::{ConsentBody, ConsentsQuery},
};
use uuid::Uuid;

use super::extract::User;
use crate::{error::ApiError, state::AppState};

/// `GET /v1/institutions`: institutions a certificate can be registered with.
#[tracing::instrument(skip_all)]
pub async fn directory(state: web::Data<AppState>, _user: User) -> Result<HttpResponse, ApiError> {
    let items = state.signing.directory(&state.db).await?;
    Ok(HttpResponse::Ok().json(Items::from(items)))
}

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

/// `GET /v1/consents`.
#[tracing::instrument(skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    user: User,
    query: web::Query<ConsentsQuery>,
) -> Result<HttpResponse, ApiError> {
    let items = state
        .signing
        .consents(&state.db, &user.0, query.include_withdrawn)
        .await?;
    Ok(HttpResponse::Ok().json(Items::from(items)))
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
