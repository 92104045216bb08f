//! Signature requests (`signature_requests`): what an institution asked the user to sign, and
//! the single-use move out of `pending`.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use crate::{
    domain::{digest::Digest, owner::OwnerId},
    store::{
        StoreError,
        columns::{corrupt, json, text},
        sql::{all, exec, get, one, typed},
    },
};
use fincert_client::proto::institutions::{Algorithm, Format, Purpose, SignedResult, Status};

/// A signature request as stored.
#[derive(Debug, Clone)]
pub struct RequestRow {
    /// Id.
    pub id: Uuid,
    /// The institution asking.
    pub institution_id: String,
    /// The certificate's holder.
    pub user_id: OwnerId,
    /// The certificate.
    pub certificate_id: Uuid,
    /// Sign or login.
    pub purpose: Purpose,
    /// Shown to the user.
    pub display_text: String,
    /// The digests to sign (stored as a JSON array of base64 digests).
    pub digests: Vec<Digest>,
    /// The content, when sent.
    pub content: Option<Vec<u8>>,
    /// Signature algorithm.
    pub algorithm: Algorithm,
    /// Output format.
    pub format: Format,
    /// SHA-256 the approval commits to.
    pub canonical_digest: Vec<u8>,
    /// Stored status (the status in force also depends on `expires_at`).
    pub status: Status,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expires.
    pub expires_at: DateTime<Utc>,
    /// Approved or rejected.
    pub decided_at: Option<DateTime<Utc>>,
    /// The result once signed (stored as JSON).
    pub result: Option<SignedResult>,
    /// Webhook target.
    pub webhook_url: Option<String>,
}

const REQUEST_COLS: &str = "id, institution_id, user_id, certificate_id, purpose, display_text, digests, content, algorithm, format, canonical_digest, status, created_at, expires_at, decided_at, result, webhook_url";

const T: &str = "signature_requests";

/// The stored form of the digests: a JSON array of base64 strings.
fn digests_json(digests: &[Digest]) -> String {
    serde_json::Value::from(digests.iter().map(|d| d.to_b64()).collect::<Vec<_>>()).to_string()
}

fn digests_of(raw: &str) -> Result<Vec<Digest>, StoreError> {
    json::<Vec<String>>(T, "digests", raw)?
        .iter()
        .map(|d| Digest::parse_b64(d).map_err(|e| corrupt(T, "digests", e.to_string())))
        .collect()
}

fn to_request(r: &QueryResult) -> Result<RequestRow, StoreError> {
    Ok(RequestRow {
        id: typed(r, T, "id")?,
        institution_id: get(r, T, "institution_id")?,
        user_id: typed(r, T, "user_id")?,
        certificate_id: typed(r, T, "certificate_id")?,
        purpose: typed(r, T, "purpose")?,
        display_text: get(r, T, "display_text")?,
        digests: digests_of(&get::<String>(r, T, "digests")?)?,
        content: get(r, T, "content")?,
        algorithm: typed(r, T, "algorithm")?,
        format: typed(r, T, "format")?,
        canonical_digest: get(r, T, "canonical_digest")?,
        status: typed(r, T, "status")?,
        created_at: get(r, T, "created_at")?,
        expires_at: get(r, T, "expires_at")?,
        decided_at: get(r, T, "decided_at")?,
        result: get::<Option<String>>(r, T, "result")?
            .map(|j| json(T, "result", &j))
            .transpose()?,
        webhook_url: get(r, T, "webhook_url")?,
    })
}

/// Stores a new request.
pub async fn insert_request<C: ConnectionTrait>(
    conn: &C,
    row: &RequestRow,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO signature_requests (id, institution_id, user_id, certificate_id, purpose, display_text, digests, content, algorithm, format, canonical_digest, status, created_at, expires_at, webhook_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        vec![
            text(&row.id),
            row.institution_id.clone().into(),
            text(&row.user_id),
            text(&row.certificate_id),
            text(&row.purpose),
            row.display_text.clone().into(),
            digests_json(&row.digests).into(),
            row.content.clone().into(),
            text(&row.algorithm),
            text(&row.format),
            row.canonical_digest.clone().into(),
            text(&row.status),
            row.created_at.into(),
            row.expires_at.into(),
            row.webhook_url.clone().into(),
        ],
    )
    .await?;
    Ok(())
}

/// A request by id.
pub async fn request<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<RequestRow>, StoreError> {
    one(
        conn,
        &format!("SELECT {REQUEST_COLS} FROM signature_requests WHERE id = $1"),
        vec![id.into()],
    )
    .await?
    .as_ref()
    .map(to_request)
    .transpose()
}

/// A user's requests still pending at `now`, oldest first.
pub async fn pending_of_user<C: ConnectionTrait>(
    conn: &C,
    user: &str,
    now: DateTime<Utc>,
) -> Result<Vec<RequestRow>, StoreError> {
    all(
        conn,
        &format!(
            "SELECT {REQUEST_COLS} FROM signature_requests WHERE user_id = $1 AND status = $3 AND expires_at > $2 ORDER BY created_at, id LIMIT 100"
        ),
        vec![user.into(), now.into(), text(&Status::Pending)],
    )
    .await?
    .iter()
    .map(to_request)
    .collect()
}

/// Moves a request out of `pending` (single-use): true only for the one caller that wins,
/// and only while the request has not expired.
pub async fn decide<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    status: Status,
    result: Option<&SignedResult>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = result
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| corrupt(T, "result", e.to_string()))?;
    Ok(exec(
        conn,
        "UPDATE signature_requests SET status = $1, result = $2, decided_at = $3 WHERE id = $4 AND status = $5 AND expires_at > $3",
        vec![
            text(&status),
            result.into(),
            now.into(),
            text(&id),
            text(&Status::Pending),
        ],
    )
    .await?
        == 1)
}
