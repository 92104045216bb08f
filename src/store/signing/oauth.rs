//! User-authorized CSC (`institution_redirect_uris`, `csc_oauth_grants`,
//! `revoked_access_tokens`): registered redirect URIs, authorization requests with their
//! single-use codes (stored as SHA-256 only), and revoked institution access tokens. Every
//! state change is one conditional update, so two nodes racing on one code decide once.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use crate::store::{
    StoreError,
    columns::json,
    sql::{all, exec, get, one, typed_opt},
};

/// Where an authorization request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantStatus {
    /// Asked, waiting for the holder.
    Pending,
    /// The holder refused.
    Refused,
    /// Approved: a code is out.
    Approved,
    /// The code was exchanged for a credential token.
    Exchanged,
    /// The code was presented again: what it issued is revoked.
    Reused,
}

impl GrantStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Refused => "refused",
            Self::Approved => "approved",
            Self::Exchanged => "exchanged",
            Self::Reused => "reused",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "refused" => Self::Refused,
            "approved" => Self::Approved,
            "exchanged" => Self::Exchanged,
            "reused" => Self::Reused,
            _ => return None,
        })
    }
}

/// What an authorization request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantScope {
    /// One credential, for named hashes (the approval activates the key).
    Credential,
    /// The CSC service on the holder's behalf (no credential, no activation).
    Service,
}

impl GrantScope {
    /// The stored text (and the OAuth scope).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credential => "credential",
            Self::Service => "service",
        }
    }
}

/// An authorization request as stored.
#[derive(Debug, Clone)]
pub struct GrantRow {
    /// What it asks for.
    pub scope: GrantScope,
    /// Its id (the portal's page names it).
    pub id: Uuid,
    /// The client (institution) that asked.
    pub institution_id: String,
    /// The registered redirect URI it named.
    pub redirect_uri: String,
    /// PKCE S256 challenge (base64url of SHA-256 of the verifier).
    pub code_challenge: String,
    /// The client's `state`, echoed.
    pub state: Option<String>,
    /// The credential (certificate id).
    pub certificate_id: String,
    /// Signatures asked for.
    pub num_signatures: i32,
    /// The base64 hashes it authorizes.
    pub hashes: Vec<String>,
    /// The client's description, shown to the holder.
    pub description: Option<String>,
    /// Where it stands.
    pub status: GrantStatus,
    /// Until when the holder may decide.
    pub expires_at: DateTime<Utc>,
    /// Until when the code may be exchanged (once approved).
    pub code_expires_at: Option<DateTime<Utc>>,
    /// The holder who approved.
    pub user_id: Option<String>,
    /// The activation the approval made.
    pub activation_id: Option<Uuid>,
    /// The custody key it activated.
    pub key_id: Option<Uuid>,
    /// The activation record, sealed under a key derived from the code.
    pub record: Option<Vec<u8>>,
    /// When that activation ends.
    pub activation_expires_at: Option<DateTime<Utc>>,
    /// The credential token (`csc_sads` row) the exchange issued.
    pub issued_sad_hash: Option<String>,
}

const COLS: &str = "id, scope, institution_id, redirect_uri, code_challenge, state, certificate_id, num_signatures, hashes, description, status, expires_at, code_expires_at, user_id, activation_id, key_id, record, activation_expires_at, issued_sad_hash";
const T: &str = "csc_oauth_grants";

fn to_grant(r: &QueryResult) -> Result<GrantRow, StoreError> {
    let status: String = get(r, T, "status")?;
    let id: String = get(r, T, "id")?;
    let scope: String = get(r, T, "scope")?;
    Ok(GrantRow {
        scope: match scope.as_str() {
            "credential" => GrantScope::Credential,
            "service" => GrantScope::Service,
            _ => return Err(crate::store::columns::corrupt(T, "scope", &scope)),
        },
        id: Uuid::parse_str(&id).map_err(|_| crate::store::columns::corrupt(T, "id", &id))?,
        institution_id: get(r, T, "institution_id")?,
        redirect_uri: get(r, T, "redirect_uri")?,
        code_challenge: get(r, T, "code_challenge")?,
        state: get(r, T, "state")?,
        certificate_id: get(r, T, "certificate_id")?,
        num_signatures: get(r, T, "num_signatures")?,
        hashes: json(T, "hashes", &get::<String>(r, T, "hashes")?)?,
        description: get(r, T, "description")?,
        status: GrantStatus::parse(&status)
            .ok_or_else(|| crate::store::columns::corrupt(T, "status", &status))?,
        expires_at: get(r, T, "expires_at")?,
        code_expires_at: get(r, T, "code_expires_at")?,
        user_id: get(r, T, "user_id")?,
        activation_id: typed_opt(r, T, "activation_id")?,
        key_id: typed_opt(r, T, "key_id")?,
        record: get(r, T, "record")?,
        activation_expires_at: get(r, T, "activation_expires_at")?,
        issued_sad_hash: get(r, T, "issued_sad_hash")?,
    })
}

/// Registers a redirect URI for an institution; `false` if it was registered already.
pub async fn insert_redirect_uri<C: ConnectionTrait>(
    conn: &C,
    institution_id: &str,
    uri: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "INSERT INTO institution_redirect_uris (institution_id, uri, created_at) VALUES ($1, $2, $3) ON CONFLICT (institution_id, uri) DO NOTHING",
        vec![institution_id.into(), uri.into(), now.into()],
    )
    .await?
        == 1)
}

/// Removes a registered redirect URI; `false` if it was not registered.
pub async fn delete_redirect_uri<C: ConnectionTrait>(
    conn: &C,
    institution_id: &str,
    uri: &str,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "DELETE FROM institution_redirect_uris WHERE institution_id = $1 AND uri = $2",
        vec![institution_id.into(), uri.into()],
    )
    .await?
        == 1)
}

/// An institution's registered redirect URIs, in order.
pub async fn redirect_uris<C: ConnectionTrait>(
    conn: &C,
    institution_id: &str,
) -> Result<Vec<String>, StoreError> {
    all(
        conn,
        "SELECT uri FROM institution_redirect_uris WHERE institution_id = $1 ORDER BY uri",
        vec![institution_id.into()],
    )
    .await?
    .iter()
    .map(|r| get(r, "institution_redirect_uris", "uri"))
    .collect()
}

/// Whether `uri` is exactly one of the institution's registered redirect URIs.
pub async fn redirect_uri_registered<C: ConnectionTrait>(
    conn: &C,
    institution_id: &str,
    uri: &str,
) -> Result<bool, StoreError> {
    Ok(one(
        conn,
        "SELECT uri FROM institution_redirect_uris WHERE institution_id = $1 AND uri = $2",
        vec![institution_id.into(), uri.into()],
    )
    .await?
    .is_some())
}

/// Stores a new (pending) authorization request.
pub async fn insert_grant<C: ConnectionTrait>(
    conn: &C,
    row: &GrantRow,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO csc_oauth_grants (id, institution_id, redirect_uri, code_challenge, state, certificate_id, num_signatures, hashes, description, status, expires_at, created_at, scope) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        vec![
            row.id.to_string().into(),
            row.institution_id.clone().into(),
            row.redirect_uri.clone().into(),
            row.code_challenge.clone().into(),
            row.state.clone().into(),
            row.certificate_id.clone().into(),
            row.num_signatures.into(),
            serde_json::Value::from(row.hashes.clone())
                .to_string()
                .into(),
            row.description.clone().into(),
            row.status.as_str().into(),
            row.expires_at.into(),
            now.into(),
            row.scope.as_str().into(),
        ],
    )
    .await?;
    Ok(())
}

/// An authorization request by id.
pub async fn grant<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<GrantRow>, StoreError> {
    one(
        conn,
        &format!("SELECT {COLS} FROM csc_oauth_grants WHERE id = $1"),
        vec![id.to_string().into()],
    )
    .await?
    .as_ref()
    .map(to_grant)
    .transpose()
}

/// An authorization request by the SHA-256 (hex) of its code.
pub async fn grant_by_code<C: ConnectionTrait>(
    conn: &C,
    code_hash: &str,
) -> Result<Option<GrantRow>, StoreError> {
    one(
        conn,
        &format!("SELECT {COLS} FROM csc_oauth_grants WHERE code_hash = $1"),
        vec![code_hash.into()],
    )
    .await?
    .as_ref()
    .map(to_grant)
    .transpose()
}

/// What an approval stores with the request.
#[derive(Debug)]
pub struct Approval<'a> {
    /// SHA-256 (hex) of the code.
    pub code_hash: &'a str,
    /// Until when the code may be exchanged.
    pub code_expires_at: DateTime<Utc>,
    /// The approving holder.
    pub user_id: &'a str,
    /// The activation made.
    pub activation_id: Uuid,
    /// Its key.
    pub key_id: Uuid,
    /// Its record, sealed under the code.
    pub record: &'a [u8],
    /// When it ends.
    pub activation_expires_at: DateTime<Utc>,
}

/// Approves a pending, unexpired request (once): `false` if it was decided or expired.
pub async fn approve_grant<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    a: &Approval<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE csc_oauth_grants SET status = 'approved', code_hash = $1, code_expires_at = $2, user_id = $3, activation_id = $4, key_id = $5, record = $6, activation_expires_at = $7 WHERE id = $8 AND status = 'pending' AND expires_at > $9",
        vec![
            a.code_hash.into(),
            a.code_expires_at.into(),
            a.user_id.into(),
            a.activation_id.to_string().into(),
            a.key_id.to_string().into(),
            a.record.to_vec().into(),
            a.activation_expires_at.into(),
            id.to_string().into(),
            now.into(),
        ],
    )
    .await?
        == 1)
}

/// Allows a pending, unexpired service request (once) for `user_id` with the code
/// `code_hash`: `false` if it was decided or expired. No activation: a service token opens
/// nothing by itself.
pub async fn allow_service_grant<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    code_hash: &str,
    code_expires_at: DateTime<Utc>,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE csc_oauth_grants SET status = 'approved', code_hash = $1, code_expires_at = $2, user_id = $3 WHERE id = $4 AND scope = 'service' AND status = 'pending' AND expires_at > $5",
        vec![
            code_hash.into(),
            code_expires_at.into(),
            user_id.into(),
            id.to_string().into(),
            now.into(),
        ],
    )
    .await?
        == 1)
}

/// A live service token: the client it was issued to and the holder it acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTokenRow {
    /// The client (institution).
    pub institution_id: String,
    /// The holder.
    pub user_id: String,
    /// Until when it is good.
    pub expires_at: DateTime<Utc>,
}

/// Stores a service token (its SHA-256) issued from grant `grant_id`.
pub async fn insert_service_token<C: ConnectionTrait>(
    conn: &C,
    token_hash: &str,
    row: &ServiceTokenRow,
    grant_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO csc_service_tokens (token_hash, institution_id, user_id, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            token_hash.into(),
            row.institution_id.clone().into(),
            row.user_id.clone().into(),
            grant_id.to_string().into(),
            now.into(),
            row.expires_at.into(),
        ],
    )
    .await?;
    Ok(())
}

/// The service token with SHA-256 `token_hash`, if it is live at `now`.
pub async fn service_token<C: ConnectionTrait>(
    conn: &C,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<ServiceTokenRow>, StoreError> {
    const S: &str = "csc_service_tokens";
    one(
        conn,
        "SELECT institution_id, user_id, expires_at FROM csc_service_tokens WHERE token_hash = $1 AND expires_at > $2",
        vec![token_hash.into(), now.into()],
    )
    .await?
    .map(|r| {
        Ok(ServiceTokenRow {
            institution_id: get(&r, S, "institution_id")?,
            user_id: get(&r, S, "user_id")?,
            expires_at: get(&r, S, "expires_at")?,
        })
    })
    .transpose()
}

/// Deletes a service token (revoked): `false` if it was gone.
pub async fn delete_service_token<C: ConnectionTrait>(
    conn: &C,
    token_hash: &str,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "DELETE FROM csc_service_tokens WHERE token_hash = $1",
        vec![token_hash.into()],
    )
    .await?
        == 1)
}

/// Refuses a pending request (once): `false` if it was decided already.
pub async fn refuse_grant<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE csc_oauth_grants SET status = 'refused' WHERE id = $1 AND status = 'pending'",
        vec![id.to_string().into()],
    )
    .await?
        == 1)
}

/// Consumes an approved code (once across the cluster): `false` if it was consumed before.
/// The record sealed under the code is dropped with it.
pub async fn consume_code<C: ConnectionTrait>(
    conn: &C,
    code_hash: &str,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE csc_oauth_grants SET status = 'exchanged', record = NULL WHERE code_hash = $1 AND status = 'approved'",
        vec![code_hash.into()],
    )
    .await?
        == 1)
}

/// Names the credential token an exchange issued.
pub async fn set_issued<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    sad_hash: &str,
) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE csc_oauth_grants SET issued_sad_hash = $1 WHERE id = $2",
        vec![sad_hash.into(), id.to_string().into()],
    )
    .await?;
    Ok(())
}

/// Marks an exchanged code as reused (once): `true` the first time.
pub async fn mark_reused<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE csc_oauth_grants SET status = 'reused' WHERE id = $1 AND status = 'exchanged'",
        vec![id.to_string().into()],
    )
    .await?
        == 1)
}

/// Records a revoked institution access token until `expires_at`.
pub async fn revoke_access_token<C: ConnectionTrait>(
    conn: &C,
    jti: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        vec![jti.into(), expires_at.into()],
    )
    .await?;
    Ok(())
}

/// Whether an institution access token was revoked.
pub async fn access_token_revoked<C: ConnectionTrait>(
    conn: &C,
    jti: &str,
) -> Result<bool, StoreError> {
    Ok(one(
        conn,
        "SELECT jti FROM revoked_access_tokens WHERE jti = $1",
        vec![jti.into()],
    )
    .await?
    .is_some())
}

/// Deletes a CSC SAD (a revoked credential token): nothing more spends under it on any node,
/// since every spend is conditional on its row. `false` if it was gone.
pub async fn delete_sad<C: ConnectionTrait>(conn: &C, sad_hash: &str) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "DELETE FROM csc_sads WHERE sad_hash = $1",
        vec![sad_hash.into()],
    )
    .await?
        == 1)
}

/// Deletes authorization requests past their decision time whose activation (if any) has
/// ended too — a code presented after that is simply unknown, and what it issued has
/// expired — and revoked access tokens past their expiry (and the verifier's leeway).
/// Idempotent; any node may run it. Returns the rows deleted.
pub async fn purge_expired_grants<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let grants = exec(
        conn,
        "DELETE FROM csc_oauth_grants WHERE expires_at < $1 AND (activation_expires_at IS NULL OR activation_expires_at < $1)",
        vec![now.into()],
    )
    .await?;
    let tokens = exec(
        conn,
        "DELETE FROM revoked_access_tokens WHERE expires_at < $1",
        vec![(now - chrono::Duration::seconds(120)).into()],
    )
    .await?;
    let service = exec(
        conn,
        "DELETE FROM csc_service_tokens WHERE expires_at < $1",
        vec![now.into()],
    )
    .await?;
    Ok(grants + tokens + service)
}
