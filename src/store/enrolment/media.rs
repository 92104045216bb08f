//! Security media (`security_media`): a customer's card or OTP generator (its secret only
//! KMS-wrapped), the open card challenge (single use) and the last OTP step used (no replay).

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::store::{
    StoreError,
    sql::{exec, one},
};

/// A registered security medium as stored.
#[derive(Debug, Clone)]
pub struct MediumRow {
    /// Id.
    pub id: String,
    /// `card`, `hotp`, `totp` or `motp`.
    pub kind: String,
    /// The KMS key that wrapped the secret.
    pub kms_key_id: String,
    /// The wrapped secret.
    pub wrapped_secret: Vec<u8>,
    /// Last OTP counter or time step used (-1: none).
    pub last_step: i64,
    /// The open card challenge (JSON), if any.
    pub challenge: Option<String>,
    /// The card challenge before it.
    pub previous_challenge: Option<String>,
    /// The device a mobile OTP is bound to.
    pub device_id: Option<String>,
}

/// Registers a medium for a customer (`device` for a mobile OTP).
#[allow(clippy::too_many_arguments)]
pub async fn insert_medium<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    customer: &str,
    kind: &str,
    kms_key_id: &str,
    wrapped: &[u8],
    device: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO security_media (id, customer_number, kind, kms_key_id, wrapped_secret, last_step, device_id, created_at) VALUES ($1, $2, $3, $4, $5, -1, $6, $7)",
        vec![id.into(), customer.into(), kind.into(), kms_key_id.into(), wrapped.to_vec().into(), device.map(str::to_owned).into(), now.into()],
    )
    .await?;
    Ok(())
}

/// The newest medium of `kind` registered to the customer of `user_id`.
pub async fn medium_of_user<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
    kind: &str,
) -> Result<Option<MediumRow>, StoreError> {
    let row = one(
        conn,
        "SELECT m.id, m.kind, m.kms_key_id, m.wrapped_secret, m.last_step, m.challenge, m.previous_challenge, m.device_id FROM security_media m JOIN users u ON u.customer_number = m.customer_number WHERE u.id = $1 AND m.kind = $2 ORDER BY m.created_at DESC",
        vec![user_id.into(), kind.into()],
    )
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(MediumRow {
        id: r.try_get("", "id")?,
        kind: r.try_get("", "kind")?,
        kms_key_id: r.try_get("", "kms_key_id")?,
        wrapped_secret: r.try_get("", "wrapped_secret")?,
        last_step: r.try_get("", "last_step")?,
        challenge: r.try_get("", "challenge")?,
        previous_challenge: r.try_get("", "previous_challenge")?,
        device_id: r.try_get("", "device_id")?,
    }))
}

/// Opens a new card challenge (the open one becomes the previous one).
pub async fn set_challenge<C: ConnectionTrait>(
    conn: &C,
    medium: &str,
    challenge: &str,
) -> Result<(), StoreError> {
    exec(conn, "UPDATE security_media SET previous_challenge = COALESCE(challenge, previous_challenge), challenge = $1 WHERE id = $2", vec![challenge.into(), medium.into()]).await?;
    Ok(())
}

/// Takes the open card challenge if it is still `challenge` (single use); returns whether.
pub async fn take_challenge<C: ConnectionTrait>(
    conn: &C,
    medium: &str,
    challenge: &str,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE security_media SET previous_challenge = challenge, challenge = NULL WHERE id = $1 AND challenge = $2",
        vec![medium.into(), challenge.into()],
    )
    .await?
        == 1)
}

/// Records an OTP counter/step as used, only if it is later than the last one (no replay, on
/// any node); returns whether it was.
pub async fn use_step<C: ConnectionTrait>(
    conn: &C,
    medium: &str,
    step: i64,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE security_media SET last_step = $1 WHERE id = $2 AND last_step < $1",
        vec![step.into(), medium.into()],
    )
    .await?
        == 1)
}
