//! Passkeys: registration and management by a signed-in user, and passkey sign-in.

use actix_web::{HttpResponse, web};
use fincert_client::proto::{
    Items,
    passkeys::{RegisterFinishBody, SignInFinishBody, SignInStartBody},
};
use uuid::Uuid;

use super::extract::User;
use crate::{auth::login, domain::pin::Pin, error::ApiError, state::AppState};

/// `POST /v1/passkeys/register/start`.
#[tracing::instrument(skip_all)]
pub async fn register_start(
    state: web::Data<AppState>,
    user: User,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(
        state
            .passkeys
            .start_registration(&state.db, &user.0)
            .await?,
    ))
}

/// `POST /v1/passkeys/register/finish`.
#[tracing::instrument(skip_all)]
pub async fn register_finish(
    state: web::Data<AppState>,
    user: User,
    body: web::Json<RegisterFinishBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = body.name.unwrap_or_else(|| "passkey".into());
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::InvalidJson(
            "a passkey name is 1 to 64 characters".into(),
        ));
    }
    let pin = body
        .pin
        .as_deref()
        .map(|p| Pin::parse(p))
        .transpose()
        .map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    let bind = match (body.certificate_id, &pin) {
        (Some(cert), Some(pin)) => {
            Some((state.pki.signing_key(&state.db, &user.0, cert).await?, pin))
        }
        (None, None) => None,
        _ => {
            return Err(ApiError::InvalidJson(
                "certificate_id and pin go together".into(),
            ));
        }
    };
    let view = state
        .passkeys
        .finish_registration(
            &state.db,
            &user.0,
            &body.ceremony_id.to_string(),
            &body.credential,
            body.prf.as_deref().map(String::as_str),
            bind,
            &name,
        )
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// `GET /v1/passkeys`.
pub async fn list(state: web::Data<AppState>, user: User) -> Result<HttpResponse, ApiError> {
    let items = Items::from(state.passkeys.list(&state.db, &user.0).await?);
    Ok(HttpResponse::Ok().json(items))
}

/// `DELETE /v1/passkeys/{id}`.
#[tracing::instrument(skip_all)]
pub async fn remove(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .passkeys
        .remove(&state.db, &user.0, &id.to_string())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /v1/auth/passkey/start`.
#[tracing::instrument(skip_all)]
pub async fn sign_in_start(
    state: web::Data<AppState>,
    body: web::Json<SignInStartBody>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(
        login::start_passkey(
            &state.db,
            &state.passkeys,
            &state.clock,
            body.certificate_id,
            body.ticket.as_ref().map(|t| login::Ticket {
                sign_ins: &state.sign_ins,
                ticket: t.as_str(),
            }),
        )
        .await?,
    ))
}

/// `POST /v1/auth/passkey/finish`.
#[tracing::instrument(skip_all)]
pub async fn sign_in_finish(
    state: web::Data<AppState>,
    body: web::Json<SignInFinishBody>,
) -> Result<HttpResponse, ApiError> {
    let pair = login::with_passkey(
        &state.db,
        &state.passkeys,
        &state.tokens,
        &state.clock,
        &body.ceremony_id.to_string(),
        &body.credential,
        body.ticket.as_ref().map(|t| login::Ticket {
            sign_ins: &state.sign_ins,
            ticket: t.as_str(),
        }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(pair))
}
