//! Security media (`security_media`): a customer's card or OTP generator (its secret only
//! KMS-wrapped), the open card challenge (single use) and the last OTP step used (no replay).

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::{
    domain::medium_kind::MediumKind,
    store::{
        StoreError,
        columns::text,
        sql::{all, exec, get, one, typed},
    },
};

/// A registered security medium as stored.
#[derive(Debug, Clone)]
pub struct MediumRow {
    /// Id.
    pub id: String,
    /// Card, HOTP, TOTP or mobile OTP.
    pub kind: MediumKind,
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
    kind: MediumKind,
    kms_key_id: &str,
    wrapped: &[u8],
    device: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO security_media (id, customer_number, kind, kms_key_id, wrapped_secret, last_step, device_id, created_at) VALUES ($1, $2, $3, $4, $5, -1, $6, $7)",
        vec![id.into(), customer.into(), text(&kind), kms_key_id.into(), wrapped.to_vec().into(), device.map(str::to_owned).into(), now.into()],
    )
    .await?;
    Ok(())
}

/// The kinds of medium `user_id`'s customer holds, each once, in the order cards, hardware OTP
/// (counter, then time based), mobile OTP.
pub async fn media_kinds_of_user<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
) -> Result<Vec<MediumKind>, StoreError> {
    let rows = all(
        conn,
        "SELECT DISTINCT m.kind FROM security_media m JOIN users u ON u.customer_number = m.customer_number WHERE u.id = $1",
        vec![user_id.into()],
    )
    .await?;
    let mut kinds = rows
        .iter()
        .map(|r| typed::<MediumKind>(r, "security_media", "kind"))
        .collect::<Result<Vec<_>, _>>()?;
    let rank = |k: &MediumKind| match k {
        MediumKind::Card => 0,
        MediumKind::Hotp => 1,
        MediumKind::Totp => 2,
        MediumKind::Motp => 3,
    };
    kinds.sort_by_key(rank);
    Ok(kinds)
}

/// The newest medium of `kind` registered to the customer of `user_id`.
pub async fn medium_of_user<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
    kind: MediumKind,
) -> Result<Option<MediumRow>, StoreError> {
    let row = one(
        conn,
        "SELECT m.id, m.kind, m.kms_key_id, m.wrapped_secret, m.last_step, m.challenge, m.previous_challenge, m.device_id FROM security_media m JOIN users u ON u.customer_number = m.customer_number WHERE u.id = $1 AND m.kind = $2 ORDER BY m.created_at DESC",
        vec![user_id.into(), text(&kind)],
    )
    .await?;
    let Some(r) = row else { return Ok(None) };
    const T: &str = "security_media";
    Ok(Some(MediumRow {
        id: get(&r, T, "id")?,
        kind: typed(&r, T, "kind")?,
        kms_key_id: get(&r, T, "kms_key_id")?,
        wrapped_secret: get(&r, T, "wrapped_secret")?,
        last_step: get(&r, T, "last_step")?,
        challenge: get(&r, T, "challenge")?,
        previous_challenge: get(&r, T, "previous_challenge")?,
        device_id: get(&r, T, "device_id")?,
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

/// A medium's wrapped secret, for `kms rewrap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedMedium {
    /// Id.
    pub id: String,
    /// Kind (part of the secret's encryption context).
    pub kind: MediumKind,
    /// The KMS key that wrapped the secret.
    pub kms_key_id: String,
    /// The wrapped secret.
    pub wrapped_secret: Vec<u8>,
}

/// Up to `limit` media whose secret is not wrapped under `kms_key_id`, after `after` in id
/// order.
pub async fn media_not_under<C: ConnectionTrait>(
    conn: &C,
    kms_key_id: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<WrappedMedium>, StoreError> {
    let rows = all(
        conn,
        "SELECT id, kind, kms_key_id, wrapped_secret FROM security_media WHERE kms_key_id <> $1 AND id > $2 ORDER BY id LIMIT $3",
        vec![
            kms_key_id.into(),
            after.unwrap_or("").into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    )
    .await?;
    const T: &str = "security_media";
    rows.iter()
        .map(|r| {
            Ok(WrappedMedium {
                id: get(r, T, "id")?,
                kind: typed(r, T, "kind")?,
                kms_key_id: get(r, T, "kms_key_id")?,
                wrapped_secret: get(r, T, "wrapped_secret")?,
            })
        })
        .collect()
}

/// Replaces a medium's wrapped secret if it is still `old`'s (compare-and-set); returns
/// whether it was replaced.
pub async fn replace_secret<C: ConnectionTrait>(
    conn: &C,
    old: &WrappedMedium,
    kms_key_id: &str,
    wrapped: &[u8],
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE security_media SET kms_key_id = $1, wrapped_secret = $2 WHERE id = $3 AND wrapped_secret = $4",
        vec![
            kms_key_id.into(),
            wrapped.to_vec().into(),
            old.id.as_str().into(),
            old.wrapped_secret.clone().into(),
        ],
    )
    .await?
        == 1)
}

/// Media secrets per KMS key id (`kms status`).
pub async fn count_by_kms_key<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<(String, u64)>, StoreError> {
    let rows = all(
        conn,
        "SELECT kms_key_id, COUNT(*) AS n FROM security_media GROUP BY kms_key_id ORDER BY kms_key_id",
        vec![],
    )
    .await?;
    const T: &str = "security_media";
    rows.iter()
        .map(|r| {
            let n: i64 = get(r, T, "n")?;
            Ok((get(r, T, "kms_key_id")?, u64::try_from(n).unwrap_or(0)))
        })
        .collect()
}
