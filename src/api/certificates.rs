//! The signed-in user's certificates and their lifecycle (issuance and reissuance are the last
//! step of enrolment, which verifies identity first; they are not here).

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use fincert_client::proto::{
    Items,
    certificates::{
        AutoRenewalBody, AutoRenewalView, CertificateList, CertificateView, ChangePinBody, FeeView,
        HistoryQuery, Pricing, RenewBody, RevokeBody,
    },
};
use uuid::Uuid;

use super::{
    extract::{User, parse_pin},
    wire,
};
use crate::{
    domain::der_input,
    error::ApiError,
    pki::KeySource,
    signing::history::{self, Filter},
    state::AppState,
};

/// `GET /v1/certificates`: the user's certificates, newest first, with status in force and
/// whether renewal is open.
#[tracing::instrument(skip_all)]
pub async fn list(state: web::Data<AppState>, user: User) -> Result<HttpResponse, ApiError> {
    let items = state.pki.certificates(&state.db, &user.0).await?;
    let fees = state.pki.fees(&state.db, &user.0).await?;
    let charged: i64 = fees.iter().map(|f| i64::from(f.amount_krw)).sum();
    Ok(HttpResponse::Ok().json(CertificateList {
        fees_charged_krw: charged,
        items: items.into_iter().map(CertificateView::from).collect(),
    }))
}

/// `GET /v1/certificates/{id}`.
#[tracing::instrument(skip_all)]
pub async fn get(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let cert = state.pki.certificate(&state.db, &user.0, *id).await?;
    Ok(HttpResponse::Ok().json(CertificateView::from(cert)))
}

/// `POST /v1/certificates/{id}/revoke`.
#[tracing::instrument(skip_all)]
pub async fn revoke(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
    body: web::Json<RevokeBody>,
) -> Result<HttpResponse, ApiError> {
    let revoked = state
        .pki
        .revoke(&state.db, &user.0, *id, body.reason.into())
        .await?;
    Ok(HttpResponse::Ok().json(CertificateView::from(revoked)))
}

/// `POST /v1/certificates/{id}/suspend`.
#[tracing::instrument(skip_all)]
pub async fn suspend(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let suspended = state.pki.suspend(&state.db, &user.0, *id).await?;
    Ok(HttpResponse::Ok().json(CertificateView::from(suspended)))
}

/// `POST /v1/certificates/{id}/resume`.
#[tracing::instrument(skip_all)]
pub async fn resume(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let resumed = state.pki.resume(&state.db, &user.0, *id).await?;
    Ok(HttpResponse::Ok().json(CertificateView::from(resumed)))
}

/// `POST /v1/certificates/{id}/renew`: 201 with the new certificate (a general-purpose one only
/// with the current fee confirmed).
#[tracing::instrument(skip_all)]
pub async fn renew(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
    body: web::Json<RenewBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let fee = body.fee_confirmed_krw;
    let renewed = match (body.pin, body.csr) {
        (Some(pin), None) => {
            let pin = parse_pin(&pin)?;
            state
                .pki
                .renew_confirmed(&state.db, &user.0, *id, KeySource::Cloud(&pin), fee)
                .await?
        }
        (None, Some(csr)) => {
            let csr = decode_der_or_pem(&csr)?;
            state
                .pki
                .renew_confirmed(&state.db, &user.0, *id, KeySource::Device(&csr), fee)
                .await?
        }
        _ => {
            return Err(ApiError::InvalidJson(
                "give either pin (cloud key) or csr (device key)".into(),
            ));
        }
    };
    Ok(HttpResponse::Created().json(CertificateView::from(renewed)))
}

/// `POST /v1/certificates/{id}/pin`: 204 once the new PIN replaces the current one (a wrong
/// current PIN is a PIN attempt and counts toward the lock).
#[tracing::instrument(skip_all)]
pub async fn change_pin(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
    body: web::Json<ChangePinBody>,
) -> Result<HttpResponse, ApiError> {
    let current = parse_pin(&body.current_pin)?;
    state
        .pins
        .change(&state.db, &state.pki, &user.0, *id, &current, &body.new_pin)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/certificates/{id}/history`: a page of the certificate's uses, newest first, as
/// JSON, or as CSV when the client accepts `text/csv` (and not JSON first).
#[tracing::instrument(skip_all)]
pub async fn history(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: User,
    id: web::Path<Uuid>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let shape = if wants_csv(&req) {
        Shape::Csv
    } else {
        Shape::Json
    };
    history_as(&state, &user, *id, &q, shape).await
}

/// `GET /v1/certificates/{id}/history.csv`: the same filters, up to 10,000 rows in one RFC 4180
/// file (cells defused against formula injection); `X-Next-Cursor` when more remain.
#[tracing::instrument(skip_all)]
pub async fn history_csv(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    history_as(&state, &user, *id, &q, Shape::Csv).await
}

/// How a history answer is written.
#[derive(Clone, Copy)]
enum Shape {
    /// A JSON page (20 rows by default, 100 at most).
    Json,
    /// An RFC 4180 file (up to 10,000 rows).
    Csv,
}

/// The one query path of both history routes: the filter checked with the shape's limits,
/// one page read, written as JSON or CSV.
async fn history_as(
    state: &AppState,
    user: &User,
    id: Uuid,
    q: &HistoryQuery,
    shape: Shape,
) -> Result<HttpResponse, ApiError> {
    let (default, max) = match shape {
        Shape::Json => (history::DEFAULT_LIMIT, history::MAX_LIMIT),
        Shape::Csv => (history::CSV_MAX_ROWS, history::CSV_MAX_ROWS),
    };
    let filter =
        Filter::parse(q, default, max).map_err(|e| ApiError::InvalidQuery(e.to_string()))?;
    let page = history::page(
        &state.db,
        &state.pki,
        &user.0,
        id,
        &filter,
        state.clock.now(),
    )
    .await?;
    if let Shape::Json = shape {
        return Ok(HttpResponse::Ok().json(page));
    }
    let body = history::to_csv(&page.items)?;
    let mut resp = HttpResponse::Ok();
    resp.content_type("text/csv; charset=utf-8; header=present")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"history-{id}.csv\""),
        ));
    if let Some(next) = page.next_cursor {
        resp.insert_header(("x-next-cursor", next));
    }
    Ok(resp.body(body))
}

/// Whether the client asks for CSV: `text/csv` listed, with no JSON before it.
fn wants_csv(req: &HttpRequest) -> bool {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let position = |m: &str| accept.find(m);
    match (position("text/csv"), position("application/json")) {
        (Some(csv), Some(json)) => csv < json,
        (Some(_), None) => true,
        _ => false,
    }
}

/// `GET /v1/certificates/{id}/auto-renewal`: the certificate's automatic-renewal setting.
#[tracing::instrument(skip_all)]
pub async fn auto_renewal(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let setting = state.pki.auto_renewal(&state.db, &user.0, *id).await?;
    Ok(HttpResponse::Ok().json(AutoRenewalView::from(setting)))
}

/// `PUT /v1/certificates/{id}/auto-renewal`: turns it on (a general-purpose certificate with
/// the current fee confirmed) or off.
#[tracing::instrument(skip_all)]
pub async fn set_auto_renewal(
    state: web::Data<AppState>,
    user: User,
    id: web::Path<Uuid>,
    body: web::Json<AutoRenewalBody>,
) -> Result<HttpResponse, ApiError> {
    let setting = state
        .pki
        .set_auto_renewal(
            &state.db,
            &user.0,
            *id,
            body.enabled,
            body.fee_confirmed_krw,
        )
        .await?;
    Ok(HttpResponse::Ok().json(AutoRenewalView::from(setting)))
}

/// `GET /v1/pricing` (public): the fees in force, from the service's settings.
#[tracing::instrument(skip_all)]
pub async fn pricing(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(Pricing {
            general_purpose_fee_krw: state.pki.general_purpose_fee_krw(),
            restricted_fee_krw: 0,
            renewal_window_days: state.pki.renewal_window_days(),
        })
}

/// `GET /v1/fees`: every charge, oldest first.
#[tracing::instrument(skip_all)]
pub async fn fees(state: web::Data<AppState>, user: User) -> Result<HttpResponse, ApiError> {
    let fees: Items<FeeView> = wire::items(state.pki.fees(&state.db, &user.0).await?);
    Ok(HttpResponse::Ok().json(fees))
}

/// PEM text as given, or base64 DER decoded.
pub fn decode_der_or_pem(input: &str) -> Result<Vec<u8>, ApiError> {
    der_input::bytes_from_text(input)
        .map_err(|_| ApiError::InvalidJson("not base64 DER or PEM".into()))
}
