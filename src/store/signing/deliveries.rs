//! Webhook deliveries (`webhook_deliveries`, `webhook_attempts`): the queue of results owed to
//! institutions, leased one attempt at a time so no two nodes deliver the same one at once.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::{
    domain::delivery_status::DeliveryStatus,
    store::{
        StoreError,
        columns::text,
        sql::{all, exec, get, typed},
    },
};

/// A webhook delivery as stored.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    /// Id.
    pub id: String,
    /// The institution it goes to.
    pub institution_id: String,
    /// The request it reports.
    pub request_id: String,
    /// Target.
    pub url: String,
    /// JSON body.
    pub body: String,
    /// Pending, delivered or failed.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i32,
    /// When to try next.
    pub next_attempt_at: DateTime<Utc>,
    /// Last HTTP status.
    pub last_status: Option<i32>,
    /// Last error.
    pub last_error: Option<String>,
    /// When delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

const DELIVERY_COLS: &str = "id, institution_id, request_id, url, body, status, attempts, next_attempt_at, last_status, last_error, delivered_at";

fn to_delivery(r: &QueryResult) -> Result<DeliveryRow, StoreError> {
    const T: &str = "webhook_deliveries";
    Ok(DeliveryRow {
        id: get(r, T, "id")?,
        institution_id: get(r, T, "institution_id")?,
        request_id: get(r, T, "request_id")?,
        url: get(r, T, "url")?,
        body: get(r, T, "body")?,
        status: typed(r, T, "status")?,
        attempts: get(r, T, "attempts")?,
        next_attempt_at: get(r, T, "next_attempt_at")?,
        last_status: get(r, T, "last_status")?,
        last_error: get(r, T, "last_error")?,
        delivered_at: get(r, T, "delivered_at")?,
    })
}

/// Queues a delivery, due at `now` (pending, no attempts yet, whatever `row` says).
pub async fn insert_delivery<C: ConnectionTrait>(
    conn: &C,
    row: &DeliveryRow,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO webhook_deliveries (id, institution_id, request_id, url, body, status, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $7, 0, $6, $6)",
        vec![
            row.id.clone().into(),
            row.institution_id.clone().into(),
            row.request_id.clone().into(),
            row.url.clone().into(),
            row.body.clone().into(),
            now.into(),
            text(&DeliveryStatus::Pending),
        ],
    )
    .await?;
    Ok(())
}

/// Deliveries due at `now`, oldest first.
pub async fn due_deliveries<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<DeliveryRow>, StoreError> {
    all(
        conn,
        &format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE status = $2 AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT {limit}"
        ),
        vec![now.into(), text(&DeliveryStatus::Pending)],
    )
    .await?
    .iter()
    .map(to_delivery)
    .collect()
}

/// Takes a due delivery for one attempt (another node that raced for it gets false): pushes
/// its next attempt to `lease_until` so nobody else tries it meanwhile.
pub async fn lease_delivery<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    attempts: i32,
    lease_until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1 WHERE id = $2 AND status = $4 AND attempts = $3",
        vec![
            lease_until.into(),
            id.into(),
            attempts.into(),
            text(&DeliveryStatus::Pending),
        ],
    )
    .await?
        == 1)
}

/// Records the outcome of attempt number `attempt` and the delivery's new state.
#[allow(clippy::too_many_arguments)]
pub async fn record_attempt<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    attempt: i32,
    status_code: Option<i32>,
    error: Option<&str>,
    new_status: DeliveryStatus,
    next_attempt_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO webhook_attempts (id, delivery_id, attempt, at, status_code, error) VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            uuid::Uuid::new_v4().to_string().into(),
            id.into(),
            attempt.into(),
            now.into(),
            status_code.into(),
            error.map(str::to_owned).into(),
        ],
    )
    .await?;
    let delivered_at = (new_status == DeliveryStatus::Delivered).then_some(now);
    exec(
        conn,
        "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, last_status = $3, last_error = $4, delivered_at = $5 WHERE id = $6",
        vec![
            text(&new_status),
            next_attempt_at.into(),
            status_code.into(),
            error.map(str::to_owned).into(),
            delivered_at.into(),
            id.into(),
        ],
    )
    .await?;
    Ok(())
}

/// The deliveries of a request, with their attempts' log (newest delivery first).
pub async fn deliveries_of_request<C: ConnectionTrait>(
    conn: &C,
    request: &str,
) -> Result<Vec<DeliveryRow>, StoreError> {
    all(
        conn,
        &format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE request_id = $1 ORDER BY created_at DESC, id"
        ),
        vec![request.into()],
    )
    .await?
    .iter()
    .map(to_delivery)
    .collect()
}
