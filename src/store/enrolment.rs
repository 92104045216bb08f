//! Enrolment queries: users, enrolments and their single-use step transitions, consents, and
//! the development verifier's customers. Plain SQL through sea-orm's statement builder keeps
//! this file short; every statement is parameterised.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};

use super::{
    StoreError,
    sql::{exec, one, stmt},
};

/// An enrolment as stored.
#[derive(Debug, Clone)]
pub struct EnrolmentRow {
    /// Id.
    pub id: String,
    /// `issue` or `reissue`.
    pub purpose: String,
    /// The step it waits for.
    pub step: String,
    /// The user, once identified.
    pub user_id: Option<String>,
    /// The phone the code goes to, once identified.
    pub phone: Option<String>,
    /// KMS MAC of the current code.
    pub code_mac: Option<Vec<u8>>,
    /// When the current code expires.
    pub code_expires_at: Option<DateTime<Utc>>,
    /// Wrong codes entered.
    pub code_attempts: i32,
    /// Codes sent.
    pub code_sends: i32,
    /// When the enrolment expires.
    pub expires_at: DateTime<Utc>,
}

fn row_to_enrolment(r: &QueryResult) -> Result<EnrolmentRow, StoreError> {
    let g = |e: sea_orm::DbErr| StoreError::Corrupt {
        table: "enrolments",
        problem: e.to_string(),
    };
    Ok(EnrolmentRow {
        id: r.try_get("", "id").map_err(g)?,
        purpose: r.try_get("", "purpose").map_err(g)?,
        step: r.try_get("", "step").map_err(g)?,
        user_id: r.try_get("", "user_id").map_err(g)?,
        phone: r.try_get("", "phone").map_err(g)?,
        code_mac: r.try_get("", "code_mac").map_err(g)?,
        code_expires_at: r.try_get("", "code_expires_at").map_err(g)?,
        code_attempts: r.try_get("", "code_attempts").map_err(g)?,
        code_sends: r.try_get("", "code_sends").map_err(g)?,
        expires_at: r.try_get("", "expires_at").map_err(g)?,
    })
}

/// Creates an enrolment at the terms step.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    purpose: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO enrolments (id, purpose, step, code_attempts, code_sends, created_at, expires_at, updated_at) VALUES ($1, $2, 'terms', 0, 0, $3, $4, $3)",
        vec![id.into(), purpose.into(), now.into(), expires_at.into()],
    )
    .await?;
    Ok(())
}

/// An enrolment by id.
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<EnrolmentRow>, StoreError> {
    one(conn, "SELECT id, purpose, step, user_id, phone, code_mac, code_expires_at, code_attempts, code_sends, expires_at FROM enrolments WHERE id = $1", vec![id.into()])
        .await?
        .as_ref()
        .map(row_to_enrolment)
        .transpose()
}

/// Moves an enrolment from `from` to `to` if it is still at `from` (single use); returns
/// whether this call moved it.
pub async fn advance<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    from: &str,
    to: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE enrolments SET step = $1, updated_at = $2 WHERE id = $3 AND step = $4",
        vec![to.into(), now.into(), id.into(), from.into()],
    )
    .await?
        == 1)
}

/// Records who the enrolment is for (identity step).
pub async fn set_identity<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    user_id: &str,
    phone: &str,
) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE enrolments SET user_id = $1, phone = $2 WHERE id = $3",
        vec![user_id.into(), phone.into(), id.into()],
    )
    .await?;
    Ok(())
}

/// Stores a new code's MAC if fewer than `max_sends` were sent; returns whether it was stored.
pub async fn set_code<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    mac: &[u8],
    expires_at: DateTime<Utc>,
    max_sends: i32,
) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE enrolments SET code_mac = $1, code_expires_at = $2, code_attempts = 0, code_sends = code_sends + 1 WHERE id = $3 AND step = 'phone' AND code_sends < $4",
        vec![mac.to_vec().into(), expires_at.into(), id.into(), max_sends.into()],
    )
    .await?
        == 1)
}

/// Counts one code attempt if fewer than `max` were made; returns whether it may be checked.
pub async fn take_code_attempt<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    max: i32,
) -> Result<bool, StoreError> {
    Ok(exec(conn, "UPDATE enrolments SET code_attempts = code_attempts + 1 WHERE id = $1 AND step = 'phone' AND code_attempts < $2", vec![id.into(), max.into()]).await? == 1)
}

/// Forgets the code (used, or too many attempts).
pub async fn clear_code<C: ConnectionTrait>(conn: &C, id: &str) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE enrolments SET code_mac = NULL, code_expires_at = NULL WHERE id = $1",
        vec![id.into()],
    )
    .await?;
    Ok(())
}

/// Records a consent.
pub async fn insert_consent<C: ConnectionTrait>(
    conn: &C,
    enrolment: &str,
    code: &str,
    version: i32,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO terms_consents (id, enrolment_id, code, version, agreed_at) VALUES ($1, $2, $3, $4, $5)",
        vec![uuid::Uuid::new_v4().to_string().into(), enrolment.into(), code.into(), version.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// Consents given in an enrolment: `(code, version)`.
pub async fn consents_of<C: ConnectionTrait>(
    conn: &C,
    enrolment: &str,
) -> Result<Vec<(String, i32)>, StoreError> {
    let backend = conn.get_database_backend();
    let rows = conn
        .query_all_raw(stmt(
            backend,
            "SELECT code, version FROM terms_consents WHERE enrolment_id = $1 ORDER BY code",
            vec![enrolment.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("", "code")?, r.try_get("", "version")?)))
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(StoreError::from)
}

/// The user with this customer number, created if new; returns the user id.
pub async fn upsert_user<C: ConnectionTrait>(
    conn: &C,
    customer: &str,
    name: &str,
    birth_date: &str,
    phone: &str,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    if let Some(r) = one(
        conn,
        "SELECT id FROM users WHERE customer_number = $1",
        vec![customer.into()],
    )
    .await?
    {
        return Ok(r.try_get("", "id")?);
    }
    let id = uuid::Uuid::new_v4().to_string();
    exec(
        conn,
        "INSERT INTO users (id, customer_number, name, birth_date, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (customer_number) DO NOTHING",
        vec![id.clone().into(), customer.into(), name.into(), birth_date.into(), phone.into(), now.into()],
    )
    .await?;
    let r = one(
        conn,
        "SELECT id FROM users WHERE customer_number = $1",
        vec![customer.into()],
    )
    .await?
    .ok_or(StoreError::Corrupt {
        table: "users",
        problem: "user vanished".into(),
    })?;
    Ok(r.try_get("", "id")?)
}

/// A development customer's `(name, birth_date, phone)`.
pub async fn dev_customer<C: ConnectionTrait>(
    conn: &C,
    customer: &str,
) -> Result<Option<(String, String, String)>, StoreError> {
    Ok(
        match one(
            conn,
            "SELECT name, birth_date, phone FROM dev_customers WHERE customer_number = $1",
            vec![customer.into()],
        )
        .await?
        {
            Some(r) => Some((
                r.try_get("", "name")?,
                r.try_get("", "birth_date")?,
                r.try_get("", "phone")?,
            )),
            None => None,
        },
    )
}

/// Loads (or replaces) a development customer.
pub async fn put_dev_customer<C: ConnectionTrait>(
    conn: &C,
    customer: &str,
    name: &str,
    birth_date: &str,
    phone: &str,
) -> Result<(), StoreError> {
    exec(
        conn,
        "DELETE FROM dev_customers WHERE customer_number = $1",
        vec![customer.into()],
    )
    .await?;
    exec(
        conn,
        "INSERT INTO dev_customers (customer_number, name, birth_date, phone) VALUES ($1, $2, $3, $4)",
        vec![customer.into(), name.into(), birth_date.into(), phone.into()],
    )
    .await?;
    Ok(())
}

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

/// Counts one medium attempt if fewer than `max`; returns whether it may be checked.
pub async fn take_medium_attempt<C: ConnectionTrait>(
    conn: &C,
    enrolment: &str,
    max: i32,
) -> Result<bool, StoreError> {
    Ok(exec(conn, "UPDATE enrolments SET medium_attempts = medium_attempts + 1 WHERE id = $1 AND step = 'medium' AND medium_attempts < $2", vec![enrolment.into(), max.into()]).await? == 1)
}

/// A user's `(name, birth_date)`.
pub async fn user_profile<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(
        match one(
            conn,
            "SELECT name, birth_date FROM users WHERE id = $1",
            vec![user_id.into()],
        )
        .await?
        {
            Some(r) => Some((r.try_get("", "name")?, r.try_get("", "birth_date")?)),
            None => None,
        },
    )
}

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct PasskeyRow {
    /// Id.
    pub id: String,
    /// The user.
    pub user_id: String,
    /// webauthn-rs's serialised `Passkey`.
    pub passkey: String,
    /// The user's name for it.
    pub name: String,
    /// The custody key it opens, if bound.
    pub custody_key_id: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last sign-in with it.
    pub last_used_at: Option<DateTime<Utc>>,
}

fn to_passkey(r: &QueryResult) -> Result<PasskeyRow, StoreError> {
    Ok(PasskeyRow {
        id: r.try_get("", "id")?,
        user_id: r.try_get("", "user_id")?,
        passkey: r.try_get("", "passkey")?,
        name: r.try_get("", "name")?,
        custody_key_id: r.try_get("", "custody_key_id")?,
        created_at: r.try_get("", "created_at")?,
        last_used_at: r.try_get("", "last_used_at")?,
    })
}

/// Stores a passkey.
#[allow(clippy::too_many_arguments)]
pub async fn insert_passkey<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    user: &str,
    credential_id: &str,
    passkey: &str,
    name: &str,
    custody_key_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO passkeys (id, user_id, credential_id, passkey, name, custody_key_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vec![id.into(), user.into(), credential_id.into(), passkey.into(), name.into(), custody_key_id.map(str::to_owned).into(), now.into()],
    )
    .await?;
    Ok(())
}

/// A user's passkeys, oldest first.
pub async fn passkeys_of<C: ConnectionTrait>(
    conn: &C,
    user: &str,
) -> Result<Vec<PasskeyRow>, StoreError> {
    let backend = conn.get_database_backend();
    let rows = conn
        .query_all_raw(stmt(backend, "SELECT id, user_id, passkey, name, custody_key_id, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY created_at, id", vec![user.into()]))
        .await?;
    rows.iter().map(to_passkey).collect()
}

/// Saves a passkey's updated state (counter, backup state) after a sign-in.
pub async fn update_passkey<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    passkey: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3",
        vec![passkey.into(), now.into(), id.into()],
    )
    .await?;
    Ok(())
}

/// Deletes a user's passkey; returns it if it existed.
pub async fn delete_passkey<C: ConnectionTrait>(
    conn: &C,
    user: &str,
    id: &str,
) -> Result<Option<PasskeyRow>, StoreError> {
    let found = passkeys_of(conn, user)
        .await?
        .into_iter()
        .find(|p| p.id == id);
    if found.is_some() {
        exec(
            conn,
            "DELETE FROM passkeys WHERE id = $1 AND user_id = $2",
            vec![id.into(), user.into()],
        )
        .await?;
    }
    Ok(found)
}

/// Stores a ceremony's state.
pub async fn insert_ceremony<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    user: &str,
    kind: &str,
    state: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO webauthn_ceremonies (id, user_id, kind, state, expires_at) VALUES ($1, $2, $3, $4, $5)",
        vec![id.into(), user.into(), kind.into(), state.into(), expires_at.into()],
    )
    .await?;
    Ok(())
}

/// Takes a ceremony once: marks it used if it is unused, unexpired and of `kind`; returns
/// `(user, state)` if this call took it.
pub async fn take_ceremony<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<Option<(String, String)>, StoreError> {
    let taken = exec(
        conn,
        "UPDATE webauthn_ceremonies SET used_at = $1 WHERE id = $2 AND kind = $3 AND used_at IS NULL AND expires_at > $1",
        vec![now.into(), id.into(), kind.into()],
    )
    .await?;
    if taken != 1 {
        return Ok(None);
    }
    Ok(
        match one(
            conn,
            "SELECT user_id, state FROM webauthn_ceremonies WHERE id = $1",
            vec![id.into()],
        )
        .await?
        {
            Some(r) => Some((r.try_get("", "user_id")?, r.try_get("", "state")?)),
            None => None,
        },
    )
}
