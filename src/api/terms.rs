//! Terms documents a user must agree to before enrolment.

use actix_web::{HttpResponse, web};
use fincert_client::proto::{
    Items,
    terms::{Lang, TermsDocument, TermsQuery},
};

use super::wire;
use crate::{domain::terms, error::ApiError, state::AppState, store};

/// The current version of every terms document, in the language asked for (`?lang=`, Korean
/// by default) where the version has a text in it.
#[tracing::instrument(skip_all)]
pub async fn list_current(
    state: web::Data<AppState>,
    q: web::Query<TermsQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let lang = q.lang.unwrap_or(Lang::Ko).as_str();
    let docs = terms::current(store::terms::in_effect(&state.db, now).await?, now);
    let translations = store::terms::translations(&state.db, lang).await?;
    let docs = terms::in_language(docs, &translations, lang);
    let docs: Items<TermsDocument> = wire::items(docs);
    Ok(HttpResponse::Ok().json(docs))
}
