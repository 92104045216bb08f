//! Custody queries: sealed keys and their slots.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use uuid::Uuid;

use super::{
    StoreError,
    columns::{corrupt, parse},
    entities::{custody_key as key, custody_key_slot as slot},
};
use crate::domain::{key_algorithm::KeyAlgorithm, owner::OwnerId, slot::Slot};

/// A sealed key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Key id (UUID text).
    pub id: String,
    /// Owner id.
    pub owner_id: String,
    /// Its algorithm.
    pub algorithm: KeyAlgorithm,
    /// SubjectPublicKeyInfo DER.
    pub public_key: Vec<u8>,
    /// Sealed PKCS#8.
    pub sealed_private: Vec<u8>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A slot as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRow {
    /// The key it opens.
    pub key_id: String,
    /// Which secret opens it (stored by name: `pin`, `passkey:<hash>`, `service`).
    pub slot: Slot,
    /// The KMS key that wrapped it.
    pub kms_key_id: String,
    /// The wrapped blob.
    pub wrapped: Vec<u8>,
    /// The backend whose MAC key derives the slot's inner key, when it is not the backend that
    /// wrapped it (a slot moved by `kms rewrap` across backends, not yet bound again).
    pub mac_backend: Option<String>,
    /// A passkey slot's PRF salt: its inner key needs the authenticator's PRF output over it.
    pub prf_salt: Option<Vec<u8>>,
}

impl SlotRow {
    /// The backend whose MAC key derives this slot's inner key.
    pub fn mac_source(&self) -> &str {
        self.mac_backend
            .as_deref()
            .unwrap_or_else(|| crate::custody::kms::backend_of(&self.kms_key_id))
    }
}

/// A slot with its key's owner: what `rewrap` needs to rebuild the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedSlot {
    /// The key's owner.
    pub owner_id: OwnerId,
    /// The key (the slot's `key_id`, as the context names it).
    pub key_id: Uuid,
    /// The slot.
    pub slot: SlotRow,
}

fn to_key(m: key::Model) -> Result<KeyRow, StoreError> {
    Ok(KeyRow {
        algorithm: parse("custody_keys", "algorithm", &m.algorithm)?,
        id: m.id,
        owner_id: m.owner_id,
        public_key: m.public_key,
        sealed_private: m.sealed_private,
        created_at: m.created_at,
    })
}

fn to_slot(m: slot::Model) -> Result<SlotRow, StoreError> {
    Ok(SlotRow {
        slot: Slot::parse(&m.slot).ok_or_else(|| {
            let shown: String = m.slot.chars().take(40).collect();
            corrupt(
                "custody_key_slots",
                "slot",
                format!("{shown:?} is not a slot name"),
            )
        })?,
        key_id: m.custody_key_id,
        kms_key_id: m.kms_key_id,
        wrapped: m.wrapped,
        mac_backend: m.mac_backend,
        prf_salt: m
            .prf_salt
            .map(|h| {
                hex::decode(&h)
                    .ok()
                    .filter(|s| s.len() == 32)
                    .ok_or_else(|| corrupt("custody_key_slots", "prf_salt", "not 32 hex bytes"))
            })
            .transpose()?,
    })
}

/// Inserts a key and its first slot.
pub async fn insert_key<C: ConnectionTrait>(
    conn: &C,
    row: &KeyRow,
    first: &SlotRow,
) -> Result<(), StoreError> {
    key::Entity::insert(key::ActiveModel {
        id: Set(row.id.clone()),
        owner_id: Set(row.owner_id.clone()),
        algorithm: Set(row.algorithm.as_str().to_owned()),
        public_key: Set(row.public_key.clone()),
        sealed_private: Set(row.sealed_private.clone()),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(conn)
    .await?;
    insert_slot(conn, first, row.created_at).await
}

/// Inserts a slot.
pub async fn insert_slot<C: ConnectionTrait>(
    conn: &C,
    row: &SlotRow,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    slot::Entity::insert(slot::ActiveModel {
        custody_key_id: Set(row.key_id.clone()),
        slot: Set(row.slot.name()),
        kms_key_id: Set(row.kms_key_id.clone()),
        wrapped: Set(row.wrapped.clone()),
        mac_backend: Set(row.mac_backend.clone()),
        prf_salt: Set(row.prf_salt.as_deref().map(hex::encode)),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The key `id` if it belongs to `owner`.
pub async fn find_key<C: ConnectionTrait>(
    conn: &C,
    owner: &str,
    id: &str,
) -> Result<Option<KeyRow>, StoreError> {
    key::Entity::find_by_id(id.to_owned())
        .filter(key::Column::OwnerId.eq(owner))
        .one(conn)
        .await?
        .map(to_key)
        .transpose()
}

/// One slot of a key.
pub async fn find_slot<C: ConnectionTrait>(
    conn: &C,
    key_id: &str,
    slot_name: &str,
) -> Result<Option<SlotRow>, StoreError> {
    slot::Entity::find_by_id((key_id.to_owned(), slot_name.to_owned()))
        .one(conn)
        .await?
        .map(to_slot)
        .transpose()
}

/// Every slot of a key.
pub async fn slots_of<C: ConnectionTrait>(
    conn: &C,
    key_id: &str,
) -> Result<Vec<SlotRow>, StoreError> {
    slot::Entity::find()
        .filter(slot::Column::CustodyKeyId.eq(key_id))
        .order_by_asc(slot::Column::Slot)
        .all(conn)
        .await?
        .into_iter()
        .map(to_slot)
        .collect()
}

/// Replaces a slot's blob (and MAC backend) with `new`'s if it is still the one the caller
/// read (compare-and-set on the old blob); returns whether it was replaced.
pub async fn replace_slot<C: ConnectionTrait>(
    conn: &C,
    old: &SlotRow,
    new: &SlotRow,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = slot::Entity::update_many()
        .col_expr(slot::Column::KmsKeyId, Expr::value(new.kms_key_id.as_str()))
        .col_expr(slot::Column::Wrapped, Expr::value(new.wrapped.clone()))
        .col_expr(
            slot::Column::MacBackend,
            Expr::value(new.mac_backend.clone()),
        )
        .col_expr(
            slot::Column::PrfSalt,
            Expr::value(new.prf_salt.as_deref().map(hex::encode)),
        )
        .col_expr(slot::Column::UpdatedAt, Expr::value(now))
        .filter(slot::Column::CustodyKeyId.eq(old.key_id.as_str()))
        .filter(slot::Column::Slot.eq(old.slot.name()))
        .filter(slot::Column::Wrapped.eq(old.wrapped.clone()))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Puts `row` in place of the key's slot of the same name, whatever blob it held (or inserts
/// it when there is none): a PIN reset, which cannot have read the old PIN's slot open.
pub async fn put_slot<C: ConnectionTrait>(
    conn: &C,
    row: &SlotRow,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let res = slot::Entity::update_many()
        .col_expr(slot::Column::KmsKeyId, Expr::value(row.kms_key_id.as_str()))
        .col_expr(slot::Column::Wrapped, Expr::value(row.wrapped.clone()))
        .col_expr(
            slot::Column::MacBackend,
            Expr::value(row.mac_backend.clone()),
        )
        .col_expr(
            slot::Column::PrfSalt,
            Expr::value(row.prf_salt.as_deref().map(hex::encode)),
        )
        .col_expr(slot::Column::UpdatedAt, Expr::value(now))
        .filter(slot::Column::CustodyKeyId.eq(row.key_id.as_str()))
        .filter(slot::Column::Slot.eq(row.slot.name()))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        insert_slot(conn, row, now).await?;
    }
    Ok(())
}

/// Deletes a slot; returns whether it existed.
pub async fn delete_slot<C: ConnectionTrait>(
    conn: &C,
    key_id: &str,
    slot_name: &str,
) -> Result<bool, StoreError> {
    let res = slot::Entity::delete_many()
        .filter(slot::Column::CustodyKeyId.eq(key_id))
        .filter(slot::Column::Slot.eq(slot_name))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Up to `limit` slots not wrapped under `kms_key_id`, after `(key_id, slot)` in key order,
/// with their keys' owners.
pub async fn slots_not_under<C: ConnectionTrait>(
    conn: &C,
    kms_key_id: &str,
    after: Option<(&str, &str)>,
    limit: u64,
) -> Result<Vec<OwnedSlot>, StoreError> {
    let mut query = slot::Entity::find().filter(slot::Column::KmsKeyId.ne(kms_key_id));
    if let Some((k, s)) = after {
        query = query.filter(
            Condition::any().add(slot::Column::CustodyKeyId.gt(k)).add(
                Condition::all()
                    .add(slot::Column::CustodyKeyId.eq(k))
                    .add(slot::Column::Slot.gt(s)),
            ),
        );
    }
    let slots = query
        .order_by_asc(slot::Column::CustodyKeyId)
        .order_by_asc(slot::Column::Slot)
        .limit(limit)
        .all(conn)
        .await?;
    let mut out = Vec::with_capacity(slots.len());
    for s in slots {
        let owner = key::Entity::find_by_id(s.custody_key_id.clone())
            .one(conn)
            .await?
            .map(|k| k.owner_id)
            .ok_or_else(|| corrupt("custody_key_slots", "custody_key_id", "slot without a key"))?;
        out.push(OwnedSlot {
            owner_id: parse("custody_keys", "owner_id", &owner)?,
            key_id: parse("custody_key_slots", "custody_key_id", &s.custody_key_id)?,
            slot: to_slot(s)?,
        });
    }
    Ok(out)
}

/// Slot counts per KMS key id.
pub async fn count_by_kms_key<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<(String, u64)>, StoreError> {
    let ids: Vec<String> = slot::Entity::find()
        .select_only()
        .column(slot::Column::KmsKeyId)
        .distinct()
        .into_tuple()
        .all(conn)
        .await?;
    let mut out = Vec::new();
    for id in ids {
        let n = slot::Entity::find()
            .filter(slot::Column::KmsKeyId.eq(id.as_str()))
            .count(conn)
            .await?;
        out.push((id, n));
    }
    out.sort();
    Ok(out)
}

/// Number of custody keys (tests and status).
pub async fn count_keys<C: ConnectionTrait>(conn: &C) -> Result<u64, StoreError> {
    Ok(key::Entity::find().count(conn).await?)
}

/// Makes the PIN counters of `key_ids` that are missing, at zero (one statement; existing
/// ones are left as they are).
pub async fn ensure_pin_counters<C: ConnectionTrait>(
    conn: &C,
    key_ids: &[String],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use super::sql::exec;
    if key_ids.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..key_ids.len())
        .map(|i| format!("(${}, 0, NULL, ${})", 2 * i + 1, 2 * i + 2))
        .collect();
    let sql = format!(
        "INSERT INTO pin_attempts (custody_key_id, failures, locked_at, updated_at) VALUES {} ON CONFLICT (custody_key_id) DO NOTHING",
        rows.join(", ")
    );
    let values = key_ids
        .iter()
        .flat_map(|id| [id.as_str().into(), now.into()])
        .collect();
    exec(conn, &sql, values).await?;
    Ok(())
}

/// Reads the PIN counter of `key_id` (creating it at zero), taking its row lock for the rest
/// of the transaction on PostgreSQL (`FOR UPDATE`): the attempts of one key are then decided
/// one at a time on every node. SQLite has one node and one writer; there the caller's
/// per-key lock on that node does the same. Returns (consecutive failures, locked).
pub async fn lock_pin_state<C: ConnectionTrait>(
    conn: &C,
    key_id: &str,
    now: DateTime<Utc>,
) -> Result<(i32, bool), StoreError> {
    use super::sql::{exec, get, one};
    let select = if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        "SELECT failures, locked_at FROM pin_attempts WHERE custody_key_id = $1 FOR UPDATE"
    } else {
        "SELECT failures, locked_at FROM pin_attempts WHERE custody_key_id = $1"
    };
    for _ in 0..2 {
        if let Some(r) = one(conn, select, vec![key_id.into()]).await? {
            let failures: i32 = get(&r, "pin_attempts", "failures")?;
            let locked: Option<DateTime<Utc>> = get(&r, "pin_attempts", "locked_at")?;
            return Ok((failures, locked.is_some()));
        }
        exec(
            conn,
            "INSERT INTO pin_attempts (custody_key_id, failures, locked_at, updated_at) VALUES ($1, 0, NULL, $2) ON CONFLICT (custody_key_id) DO NOTHING",
            vec![key_id.into(), now.into()],
        )
        .await?;
    }
    Err(corrupt(
        "pin_attempts",
        "custody_key_id",
        "the counter row could not be created",
    ))
}

/// Writes the decided PIN counter of `key_id`; `locked` marks the PIN locked from `now`.
pub async fn set_pin_failures<C: ConnectionTrait>(
    conn: &C,
    key_id: &str,
    failures: i32,
    locked: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use super::entities::pin_attempt as pa;
    let mut update = pa::Entity::update_many()
        .col_expr(pa::Column::Failures, Expr::value(failures))
        .col_expr(pa::Column::UpdatedAt, Expr::value(now));
    if locked {
        update = update.col_expr(pa::Column::LockedAt, Expr::value(now));
    }
    update
        .filter(pa::Column::CustodyKeyId.eq(key_id))
        .filter(pa::Column::LockedAt.is_null())
        .exec(conn)
        .await?;
    if locked {
        // Cached signing checks on every node must see the lock within a second.
        super::epochs::bump(conn).await?;
    }
    Ok(())
}

/// Clears a key's PIN failures and lock (a PIN reset: the only way out of a lock besides a
/// new key), and bumps the cache epoch so every node's cached signing checks see it.
pub async fn clear_pin_lock<C: ConnectionTrait>(
    conn: &C,
    key_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use super::entities::pin_attempt as pa;
    pa::Entity::update_many()
        .col_expr(pa::Column::Failures, Expr::value(0))
        .col_expr(
            pa::Column::LockedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(pa::Column::UpdatedAt, Expr::value(now))
        .filter(pa::Column::CustodyKeyId.eq(key_id))
        .exec(conn)
        .await?;
    super::epochs::bump(conn).await?;
    Ok(())
}

/// A key's PIN counter (failures, locked), if its row exists (`lock_pin_state` makes it).
pub async fn pin_row<C: ConnectionTrait>(
    conn: &C,
    key_id: &str,
) -> Result<Option<(i32, bool)>, StoreError> {
    use super::entities::pin_attempt as pa;
    Ok(pa::Entity::find_by_id(key_id.to_owned())
        .one(conn)
        .await?
        .map(|r| (r.failures, r.locked_at.is_some())))
}

/// Consecutive failures counted for `key_id`, and whether the PIN is locked.
pub async fn pin_state<C: ConnectionTrait>(
    conn: &C,
    key_id: &str,
) -> Result<(i32, bool), StoreError> {
    use super::entities::pin_attempt as pa;
    Ok(pa::Entity::find_by_id(key_id.to_owned())
        .one(conn)
        .await?
        .map_or((0, false), |r| (r.failures, r.locked_at.is_some())))
}

/// Slots whose inner key derives from another backend's MAC key than `current`'s (moved by
/// `kms rewrap` across backends, not yet bound again), per backend.
pub async fn slots_bound_by_other_mac<C: ConnectionTrait>(
    conn: &C,
    current: &str,
) -> Result<Vec<(String, u64)>, StoreError> {
    // Few distinct (wrapping key, MAC backend) pairs, however many slots.
    let rows: Vec<(String, Option<String>, i64)> = slot::Entity::find()
        .select_only()
        .column(slot::Column::KmsKeyId)
        .column(slot::Column::MacBackend)
        .column_as(slot::Column::Slot.count(), "n")
        .group_by(slot::Column::KmsKeyId)
        .group_by(slot::Column::MacBackend)
        .into_tuple()
        .all(conn)
        .await?;
    let mut out: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for (kms_key_id, mac, n) in rows {
        let backend =
            mac.unwrap_or_else(|| crate::custody::kms::backend_of(&kms_key_id).to_owned());
        if backend != current {
            *out.entry(backend).or_default() += u64::try_from(n).unwrap_or(0);
        }
    }
    Ok(out.into_iter().collect())
}
