//! Passkeys (`passkeys`) and WebAuthn ceremonies (`webauthn_ceremonies`): a user's stored
//! credentials, and the state of a registration or sign-in between its two requests (taken once).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

use crate::{
    domain::owner::OwnerId,
    store::{
        StoreError,
        columns::{corrupt, json, text_opt},
        sql::{all, exec, get, one, typed, typed_opt},
    },
};

const T: &str = "passkeys";

/// The stored form of a passkey: webauthn-rs's serialisation.
fn passkey_json(passkey: &Passkey) -> Result<String, StoreError> {
    serde_json::to_string(passkey).map_err(|e| corrupt(T, "passkey", e.to_string()))
}

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct PasskeyRow {
    /// Id.
    pub id: String,
    /// The user.
    pub user_id: String,
    /// The credential (stored as webauthn-rs's serialised `Passkey`).
    pub passkey: Passkey,
    /// The user's name for it.
    pub name: String,
    /// The custody key it opens, if bound.
    pub custody_key_id: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last sign-in with it.
    pub last_used_at: Option<DateTime<Utc>>,
}

fn to_passkey(r: &QueryResult) -> Result<PasskeyRow, StoreError> {
    Ok(PasskeyRow {
        id: get(r, T, "id")?,
        user_id: get(r, T, "user_id")?,
        passkey: json(T, "passkey", &get::<String>(r, T, "passkey")?)?,
        name: get(r, T, "name")?,
        custody_key_id: typed_opt(r, T, "custody_key_id")?,
        created_at: get(r, T, "created_at")?,
        last_used_at: get(r, T, "last_used_at")?,
    })
}

/// Stores a passkey.
#[allow(clippy::too_many_arguments)]
pub async fn insert_passkey<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    user: &str,
    credential_id: &str,
    passkey: &Passkey,
    name: &str,
    custody_key_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO passkeys (id, user_id, credential_id, passkey, name, custody_key_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vec![id.into(), user.into(), credential_id.into(), passkey_json(passkey)?.into(), name.into(), text_opt(custody_key_id.as_ref()), now.into()],
    )
    .await?;
    Ok(())
}

/// A user's passkeys, oldest first.
pub async fn passkeys_of<C: ConnectionTrait>(
    conn: &C,
    user: &str,
) -> Result<Vec<PasskeyRow>, StoreError> {
    all(conn, "SELECT id, user_id, passkey, name, custody_key_id, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY created_at, id", vec![user.into()])
        .await?
        .iter()
        .map(to_passkey)
        .collect()
}

/// Saves a passkey's updated state (counter, backup state) after a sign-in.
pub async fn update_passkey<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    passkey: &Passkey,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3",
        vec![passkey_json(passkey)?.into(), now.into(), id.into()],
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

/// Empties a taken ceremony's state (a device copy package, once fetched).
pub async fn wipe_ceremony_state<C: ConnectionTrait>(conn: &C, id: &str) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE webauthn_ceremonies SET state = '' WHERE id = $1",
        vec![id.into()],
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
) -> Result<Option<(OwnerId, String)>, StoreError> {
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
            Some(r) => {
                const C: &str = "webauthn_ceremonies";
                Some((typed(&r, C, "user_id")?, get(&r, C, "state")?))
            }
            None => None,
        },
    )
}
