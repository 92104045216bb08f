//! Remote-signing queries: institutions, consents, signature requests, webhook deliveries.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use super::{
    StoreError,
    sql::{all, exec, get, one},
};

/// An institution as stored.
#[derive(Debug, Clone)]
pub struct InstitutionRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Sector.
    pub sector: String,
    /// OAuth2 client id.
    pub client_id: String,
    /// SHA-256 of the client secret.
    pub secret_hash: Vec<u8>,
    /// SHA-256 of the previous secret, during its grace period.
    pub previous_secret_hash: Option<Vec<u8>>,
    /// End of that grace period.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// Version of the webhook signing key.
    pub webhook_key_version: i32,
    /// Scopes held, space-separated.
    pub scopes: String,
    /// `active` or `disabled`.
    pub status: String,
    /// Registered.
    pub created_at: DateTime<Utc>,
}

const INSTITUTION_COLS: &str = "id, name, sector, client_id, secret_hash, previous_secret_hash, previous_secret_until, webhook_key_version, scopes, status, created_at";

fn to_institution(r: &QueryResult) -> Result<InstitutionRow, StoreError> {
    const T: &str = "institutions";
    Ok(InstitutionRow {
        id: get(r, T, "id")?,
        name: get(r, T, "name")?,
        sector: get(r, T, "sector")?,
        client_id: get(r, T, "client_id")?,
        secret_hash: get(r, T, "secret_hash")?,
        previous_secret_hash: get(r, T, "previous_secret_hash")?,
        previous_secret_until: get(r, T, "previous_secret_until")?,
        webhook_key_version: get(r, T, "webhook_key_version")?,
        scopes: get(r, T, "scopes")?,
        status: get(r, T, "status")?,
        created_at: get(r, T, "created_at")?,
    })
}

/// Registers an institution.
pub async fn insert_institution<C: ConnectionTrait>(
    conn: &C,
    row: &InstitutionRow,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO institutions (id, name, sector, client_id, secret_hash, webhook_key_version, scopes, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        vec![
            row.id.clone().into(),
            row.name.clone().into(),
            row.sector.clone().into(),
            row.client_id.clone().into(),
            row.secret_hash.clone().into(),
            row.webhook_key_version.into(),
            row.scopes.clone().into(),
            row.status.clone().into(),
            row.created_at.into(),
        ],
    )
    .await?;
    Ok(())
}

/// An institution by its OAuth2 client id.
pub async fn institution_by_client_id<C: ConnectionTrait>(
    conn: &C,
    client_id: &str,
) -> Result<Option<InstitutionRow>, StoreError> {
    one(
        conn,
        &format!("SELECT {INSTITUTION_COLS} FROM institutions WHERE client_id = $1"),
        vec![client_id.into()],
    )
    .await?
    .as_ref()
    .map(to_institution)
    .transpose()
}

/// An institution by id.
pub async fn institution<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<InstitutionRow>, StoreError> {
    one(
        conn,
        &format!("SELECT {INSTITUTION_COLS} FROM institutions WHERE id = $1"),
        vec![id.into()],
    )
    .await?
    .as_ref()
    .map(to_institution)
    .transpose()
}

/// Every institution, by name.
pub async fn institutions<C: ConnectionTrait>(conn: &C) -> Result<Vec<InstitutionRow>, StoreError> {
    all(
        conn,
        &format!("SELECT {INSTITUTION_COLS} FROM institutions ORDER BY name, id"),
        vec![],
    )
    .await?
    .iter()
    .map(to_institution)
    .collect()
}

/// Replaces the client secret; the old one stays valid until `previous_until`.
pub async fn rotate_secret<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    new_hash: &[u8],
    previous_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE institutions SET previous_secret_hash = secret_hash, previous_secret_until = $1, secret_hash = $2, rotated_at = $3 WHERE id = $4",
        vec![previous_until.into(), new_hash.to_vec().into(), now.into(), id.into()],
    )
    .await?
        == 1)
}

/// A consent as stored.
#[derive(Debug, Clone)]
pub struct ConsentRow {
    /// Id.
    pub id: String,
    /// The institution.
    pub institution_id: String,
    /// The user.
    pub user_id: String,
    /// The user's reference at that institution.
    pub user_ref: String,
    /// The certificate.
    pub certificate_id: String,
    /// Given.
    pub created_at: DateTime<Utc>,
    /// Withdrawn.
    pub withdrawn_at: Option<DateTime<Utc>>,
}

const CONSENT_COLS: &str =
    "id, institution_id, user_id, user_ref, certificate_id, created_at, withdrawn_at";

fn to_consent(r: &QueryResult) -> Result<ConsentRow, StoreError> {
    const T: &str = "consents";
    Ok(ConsentRow {
        id: get(r, T, "id")?,
        institution_id: get(r, T, "institution_id")?,
        user_id: get(r, T, "user_id")?,
        user_ref: get(r, T, "user_ref")?,
        certificate_id: get(r, T, "certificate_id")?,
        created_at: get(r, T, "created_at")?,
        withdrawn_at: get(r, T, "withdrawn_at")?,
    })
}

/// Records a consent.
pub async fn insert_consent<C: ConnectionTrait>(
    conn: &C,
    row: &ConsentRow,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO consents (id, institution_id, user_id, user_ref, certificate_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            row.id.clone().into(),
            row.institution_id.clone().into(),
            row.user_id.clone().into(),
            row.user_ref.clone().into(),
            row.certificate_id.clone().into(),
            row.created_at.into(),
        ],
    )
    .await?;
    Ok(())
}

/// A user's consents, newest first (withdrawn ones included when `include_withdrawn`).
pub async fn consents_of_user<C: ConnectionTrait>(
    conn: &C,
    user: &str,
    include_withdrawn: bool,
) -> Result<Vec<ConsentRow>, StoreError> {
    let filter = if include_withdrawn {
        ""
    } else {
        " AND withdrawn_at IS NULL"
    };
    all(
        conn,
        &format!(
            "SELECT {CONSENT_COLS} FROM consents WHERE user_id = $1{filter} ORDER BY created_at DESC, id"
        ),
        vec![user.into()],
    )
    .await?
    .iter()
    .map(to_consent)
    .collect()
}

/// The live consents an institution holds, newest first.
pub async fn consents_of_institution<C: ConnectionTrait>(
    conn: &C,
    institution: &str,
) -> Result<Vec<ConsentRow>, StoreError> {
    all(
        conn,
        &format!(
            "SELECT {CONSENT_COLS} FROM consents WHERE institution_id = $1 AND withdrawn_at IS NULL ORDER BY created_at DESC, id"
        ),
        vec![institution.into()],
    )
    .await?
    .iter()
    .map(to_consent)
    .collect()
}

/// The live consent of `institution` for `certificate`, if any.
pub async fn live_consent<C: ConnectionTrait>(
    conn: &C,
    institution: &str,
    certificate: &str,
) -> Result<Option<ConsentRow>, StoreError> {
    one(
        conn,
        &format!(
            "SELECT {CONSENT_COLS} FROM consents WHERE institution_id = $1 AND certificate_id = $2 AND withdrawn_at IS NULL ORDER BY created_at DESC"
        ),
        vec![institution.into(), certificate.into()],
    )
    .await?
    .as_ref()
    .map(to_consent)
    .transpose()
}

/// The live consents of a user known to `institution` as `user_ref`, newest first.
pub async fn live_consents_by_ref<C: ConnectionTrait>(
    conn: &C,
    institution: &str,
    user_ref: &str,
) -> Result<Vec<ConsentRow>, StoreError> {
    all(
        conn,
        &format!(
            "SELECT {CONSENT_COLS} FROM consents WHERE institution_id = $1 AND user_ref = $2 AND withdrawn_at IS NULL ORDER BY created_at DESC, id"
        ),
        vec![institution.into(), user_ref.into()],
    )
    .await?
    .iter()
    .map(to_consent)
    .collect()
}

/// Withdraws a user's live consent; false if there is none with that id.
pub async fn withdraw_consent<C: ConnectionTrait>(
    conn: &C,
    user: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<ConsentRow>, StoreError> {
    let changed = exec(
        conn,
        "UPDATE consents SET withdrawn_at = $1 WHERE id = $2 AND user_id = $3 AND withdrawn_at IS NULL",
        vec![now.into(), id.into(), user.into()],
    )
    .await?;
    if changed != 1 {
        return Ok(None);
    }
    super::epochs::bump(conn).await?;
    one(
        conn,
        &format!("SELECT {CONSENT_COLS} FROM consents WHERE id = $1"),
        vec![id.into()],
    )
    .await?
    .as_ref()
    .map(to_consent)
    .transpose()
}

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
    /// `pending`, `delivered` or `failed`.
    pub status: String,
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
        status: get(r, T, "status")?,
        attempts: get(r, T, "attempts")?,
        next_attempt_at: get(r, T, "next_attempt_at")?,
        last_status: get(r, T, "last_status")?,
        last_error: get(r, T, "last_error")?,
        delivered_at: get(r, T, "delivered_at")?,
    })
}

/// Queues a delivery, due at `now`.
pub async fn insert_delivery<C: ConnectionTrait>(
    conn: &C,
    row: &DeliveryRow,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO webhook_deliveries (id, institution_id, request_id, url, body, status, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
        vec![
            row.id.clone().into(),
            row.institution_id.clone().into(),
            row.request_id.clone().into(),
            row.url.clone().into(),
            row.body.clone().into(),
            now.into(),
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
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT {limit}"
        ),
        vec![now.into()],
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
        "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1 WHERE id = $2 AND status = 'pending' AND attempts = $3",
        vec![lease_until.into(), id.into(), attempts.into()],
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
    new_status: &str,
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
    let delivered_at = (new_status == "delivered").then_some(now);
    exec(
        conn,
        "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, last_status = $3, last_error = $4, delivered_at = $5 WHERE id = $6",
        vec![
            new_status.into(),
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

/// A CSC SAD as stored.
#[derive(Debug, Clone)]
pub struct SadRow {
    /// SHA-256 of the SAD, hex.
    pub sad_hash: String,
    /// The institution it was issued to.
    pub institution_id: String,
    /// The credential (certificate).
    pub certificate_id: String,
    /// The certificate's holder.
    pub user_id: String,
    /// The custody activation it signs with (stable across `extendTransaction`).
    pub activation_id: String,
    /// JSON array of the base64 hashes it authorizes (each signs once).
    pub hashes: String,
    /// Signatures it authorized (its hashes; `csc_sad_signatures` holds those made).
    pub remaining: i32,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// The custody key it signs with (`None` on rows from before activation records).
    pub key_id: Option<String>,
    /// The activation record: the sealed, KMS-wrapped data key (see `custody::record`).
    pub record: Option<Vec<u8>>,
}

const SAD_COLS: &str = "sad_hash, institution_id, certificate_id, user_id, activation_id, hashes, remaining, expires_at, key_id, record";

fn to_sad(r: &QueryResult) -> Result<SadRow, StoreError> {
    const T: &str = "csc_sads";
    Ok(SadRow {
        sad_hash: get(r, T, "sad_hash")?,
        institution_id: get(r, T, "institution_id")?,
        certificate_id: get(r, T, "certificate_id")?,
        user_id: get(r, T, "user_id")?,
        activation_id: get(r, T, "activation_id")?,
        hashes: get(r, T, "hashes")?,
        remaining: get(r, T, "remaining")?,
        expires_at: get(r, T, "expires_at")?,
        key_id: get(r, T, "key_id")?,
        record: get(r, T, "record")?,
    })
}

/// Stores a SAD.
pub async fn insert_sad<C: ConnectionTrait>(
    conn: &C,
    row: &SadRow,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        &format!("INSERT INTO csc_sads ({SAD_COLS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
        vec![
            row.sad_hash.clone().into(),
            row.institution_id.clone().into(),
            row.certificate_id.clone().into(),
            row.user_id.clone().into(),
            row.activation_id.clone().into(),
            row.hashes.clone().into(),
            row.remaining.into(),
            row.expires_at.into(),
            row.key_id.clone().into(),
            row.record.clone().into(),
            now.into(),
        ],
    )
    .await?;
    Ok(())
}

/// A SAD by the hash of its value.
pub async fn sad<C: ConnectionTrait>(
    conn: &C,
    sad_hash: &str,
) -> Result<Option<SadRow>, StoreError> {
    one(
        conn,
        &format!("SELECT {SAD_COLS} FROM csc_sads WHERE sad_hash = $1"),
        vec![sad_hash.into()],
    )
    .await?
    .as_ref()
    .map(to_sad)
    .transpose()
}

/// One hash a SAD spends, with the signature made for it.
#[derive(Debug, Clone)]
pub struct SpendItem<'a> {
    /// The activation behind the SAD.
    pub activation: &'a str,
    /// SHA-256 of the SAD presented (a replaced SAD spends nothing).
    pub sad_hash: &'a str,
    /// The hash (base64).
    pub hash: &'a str,
    /// The signature made for it.
    pub signature: &'a [u8],
}

/// Stores each item's signature as its hash's only one, for items whose SAD is current and
/// live at `now`, in one statement. The primary key (activation, hash) decides between
/// concurrent spends on any number of nodes; returns the (activation, hash) pairs this call
/// stored. Items must be distinct by (activation, hash).
pub async fn spend_hashes<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    items: &[SpendItem<'_>],
) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
    if items.is_empty() {
        return Ok(Default::default());
    }
    let mut values = Vec::with_capacity(1 + items.len() * 4);
    values.push(now.into());
    let rows: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            values.push(it.activation.into());
            values.push(it.hash.into());
            values.push(it.signature.to_vec().into());
            values.push(it.sad_hash.into());
            let n = 2 + i * 4;
            format!("(${n}, ${}, ${}, ${})", n + 1, n + 2, n + 3)
        })
        .collect();
    let sql = format!(
        "INSERT INTO csc_sad_signatures (activation_id, hash, signature, created_at) \
         SELECT v.column1, v.column2, v.column3, $1 FROM (VALUES {}) AS v \
         JOIN csc_sads c ON c.activation_id = v.column1 AND c.sad_hash = v.column4 AND c.expires_at > $1 \
         WHERE true ON CONFLICT (activation_id, hash) DO NOTHING RETURNING activation_id, hash",
        rows.join(", ")
    );
    all(conn, &sql, values)
        .await?
        .iter()
        .map(|r| {
            Ok((
                get(r, "csc_sad_signatures", "activation_id")?,
                get(r, "csc_sad_signatures", "hash")?,
            ))
        })
        .collect()
}

/// The stored signatures of `(activation, sad_hash, hash)` items whose SAD is current and
/// live at `now`, by (activation, hash).
pub async fn stored_signatures<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    items: &[(&str, &str, &str)],
) -> Result<std::collections::HashMap<(String, String), Vec<u8>>, StoreError> {
    if items.is_empty() {
        return Ok(Default::default());
    }
    let mut values = Vec::with_capacity(1 + items.len() * 3);
    values.push(now.into());
    let rows: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(i, (activation, sad_hash, hash))| {
            values.push((*activation).into());
            values.push((*hash).into());
            values.push((*sad_hash).into());
            let n = 2 + i * 3;
            format!("(${n}, ${}, ${})", n + 1, n + 2)
        })
        .collect();
    let sql = format!(
        "SELECT s.activation_id, s.hash, s.signature FROM csc_sad_signatures s \
         JOIN (VALUES {}) AS v ON s.activation_id = v.column1 AND s.hash = v.column2 \
         JOIN csc_sads c ON c.activation_id = s.activation_id AND c.sad_hash = v.column3 AND c.expires_at > $1",
        rows.join(", ")
    );
    all(conn, &sql, values)
        .await?
        .iter()
        .map(|r| {
            const T: &str = "csc_sad_signatures";
            Ok((
                (get(r, T, "activation_id")?, get(r, T, "hash")?),
                get(r, T, "signature")?,
            ))
        })
        .collect()
}

/// How many of an activation's hashes are signed.
pub async fn spent_count<C: ConnectionTrait>(
    conn: &C,
    activation: &str,
) -> Result<i64, StoreError> {
    let row = one(
        conn,
        "SELECT COUNT(*) AS n FROM csc_sad_signatures WHERE activation_id = $1",
        vec![activation.into()],
    )
    .await?;
    row.map_or(Ok(0), |r| get(&r, "csc_sad_signatures", "n"))
}

/// Replaces a SAD's value and its record (extendTransaction): the old one stops working.
pub async fn rekey_sad<C: ConnectionTrait>(
    conn: &C,
    old_hash: &str,
    new_hash: &str,
    record: &[u8],
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE csc_sads SET sad_hash = $1, record = $2 WHERE sad_hash = $3",
        vec![new_hash.into(), record.to_vec().into(), old_hash.into()],
    )
    .await?
        == 1)
}
