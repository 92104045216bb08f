//! Signature requests (`signature_requests`): what an institution asked the user to sign, and
//! the single-use move out of `pending`.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::store::{
    StoreError,
    sql::{all, exec, get, one},
};

/// A signature request as stored.
#[derive(Debug, Clone)]
pub struct RequestRow {
    /// Id.
    pub id: String,
    /// The institution asking.
    pub institution_id: String,
    /// The certificate's holder.
    pub user_id: String,
    /// The certificate.
    pub certificate_id: String,
    /// `sign` or `login`.
    pub purpose: String,
    /// Shown to the user.
    pub display_text: String,
    /// JSON array of base64 digests.
    pub digests: String,
    /// The content, when sent.
    pub content: Option<Vec<u8>>,
    /// Algorithm name.
    pub algorithm: String,
    /// Format name.
    pub format: String,
    /// SHA-256 the approval commits to.
    pub canonical_digest: Vec<u8>,
    /// Stored status.
    pub status: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expires.
    pub expires_at: DateTime<Utc>,
    /// Approved or rejected.
    pub decided_at: Option<DateTime<Utc>>,
    /// JSON result once signed.
    pub result: Option<String>,
    /// Webhook target.
    pub webhook_url: Option<String>,
}

const REQUEST_COLS: &str = "id, institution_id, user_id, certificate_id, purpose, display_text, digests, content, algorithm, format, canonical_digest, status, created_at, expires_at, decided_at, result, webhook_url";

fn to_request(r: &QueryResult) -> Result<RequestRow, StoreError> {
    const T: &str = "signature_requests";
    Ok(RequestRow {
        id: get(r, T, "id")?,
        institution_id: get(r, T, "institution_id")?,
        user_id: get(r, T, "user_id")?,
        certificate_id: get(r, T, "certificate_id")?,
        purpose: get(r, T, "purpose")?,
        display_text: get(r, T, "display_text")?,
        digests: get(r, T, "digests")?,
        content: get(r, T, "content")?,
        algorithm: get(r, T, "algorithm")?,
        format: get(r, T, "format")?,
        canonical_digest: get(r, T, "canonical_digest")?,
        status: get(r, T, "status")?,
        created_at: get(r, T, "created_at")?,
        expires_at: get(r, T, "expires_at")?,
        decided_at: get(r, T, "decided_at")?,
        result: get(r, T, "result")?,
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
            row.id.clone().into(),
            row.institution_id.clone().into(),
            row.user_id.clone().into(),
            row.certificate_id.clone().into(),
            row.purpose.clone().into(),
            row.display_text.clone().into(),
            row.digests.clone().into(),
            row.content.clone().into(),
            row.algorithm.clone().into(),
            row.format.clone().into(),
            row.canonical_digest.clone().into(),
            row.status.clone().into(),
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
            "SELECT {REQUEST_COLS} FROM signature_requests WHERE user_id = $1 AND status = 'pending' AND expires_at > $2 ORDER BY created_at, id LIMIT 100"
        ),
        vec![user.into(), now.into()],
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
    id: &str,
    status: &str,
    result: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE signature_requests SET status = $1, result = $2, decided_at = $3 WHERE id = $4 AND status = 'pending' AND expires_at > $3",
        vec![status.into(), result.map(str::to_owned).into(), now.into(), id.into()],
    )
    .await?
        == 1)
}
