//! Terms documents a user must agree to before enrolment.

use actix_web::{HttpResponse, web};
use fincert_client::proto::{Items, terms::TermsDocument};

use super::wire;
use crate::{domain::terms, error::ApiError, state::AppState, store};

/// The current version of every terms document.
#[tracing::instrument(skip_all)]
pub async fn list_current(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let docs = terms::current(store::terms::in_effect(&state.db, now).await?, now);
    let docs: Items<TermsDocument> = wire::items(docs);
    Ok(HttpResponse::Ok().json(docs))
}
