//! Users (`users`) and the development verifier's customers (`dev_customers`): the user made
//! (once) from a verified customer number, and the profile read back from it.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::ConnectionTrait;

use crate::{
    domain::person::Phone,
    store::{
        StoreError,
        columns::corrupt,
        sql::{exec, get, one, typed},
    },
};

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
    .ok_or_else(|| corrupt("users", "id", "user vanished"))?;
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

/// How `users.birth_date` is written.
const BIRTH_DATE: &str = "%Y-%m-%d";

/// A user's `(name, birth_date)`.
pub async fn user_profile<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
) -> Result<Option<(String, NaiveDate)>, StoreError> {
    const T: &str = "users";
    let Some(r) = one(
        conn,
        "SELECT name, birth_date FROM users WHERE id = $1",
        vec![user_id.into()],
    )
    .await?
    else {
        return Ok(None);
    };
    let birth: String = get(&r, T, "birth_date")?;
    let birth = NaiveDate::parse_from_str(&birth, BIRTH_DATE)
        .map_err(|e| corrupt(T, "birth_date", e.to_string()))?;
    Ok(Some((get(&r, T, "name")?, birth)))
}

/// A user's phone number (where device announcements go).
pub async fn user_phone<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
) -> Result<Option<Phone>, StoreError> {
    one(
        conn,
        "SELECT phone FROM users WHERE id = $1",
        vec![user_id.into()],
    )
    .await?
    .map(|r| typed(&r, "users", "phone"))
    .transpose()
}
