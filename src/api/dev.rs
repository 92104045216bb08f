//! Development aids, off unless configured: `GET /dev/outbox/{phone}` shows the newest message
//! the development sender "sent" to a phone (enrolment codes), for local use and browser tests.

use actix_web::{HttpResponse, web};
use fincert_client::proto::dev::OutboxMessage;

use crate::{
    error::{ApiError, ErrorCode, Kind},
    state::AppState,
};

/// `GET /dev/outbox/{phone}`.
pub async fn outbox(
    state: web::Data<AppState>,
    phone: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(outbox) = &state.dev_outbox else {
        return Err(ApiError::rule(
            Kind::NotFound,
            ErrorCode::DevOutboxDisabled,
            "Development outbox disabled",
            "the development outbox is not exposed (enrolment.expose_dev_outbox)",
        ));
    };
    let message = outbox.last_to(&phone).ok_or_else(|| {
        ApiError::rule(
            Kind::NotFound,
            ErrorCode::NoMessage,
            "No message",
            "no message was sent to this phone",
        )
    })?;
    Ok(HttpResponse::Ok().json(OutboxMessage {
        body: message.body,
        channel: message.channel,
        to: message.to,
    }))
}
