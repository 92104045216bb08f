//! Unlocking a key with a PIN or a passkey: opening its slot, deciding PIN attempts one at a
//! time with lockout, activating the key for a bounded window, checking a PIN for sign-in,
//! changing it, resetting it through a bound passkey, and reporting whether it is locked.
//!
//! PIN lockout, in the manner of kanidm's softlock. The counter lives per key in the database
//! (`pin_attempts`), so it holds on every node; `max` is `custody.max_pin_failures` (5):
//!
//! ```text
//!              right PIN ──► n = 0
//!              wrong PIN, n + 1 < max ──► n += 1
//!                  ┌──────────┐
//!                  │          ▼
//!   new key ──► ( Open: n failures ) ──wrong PIN, n + 1 = max──► ( Locked ) ◄──┐
//!                                       n = max, locked_at = now,    │         │ any PIN: refused,
//!                                       audit "key.pin_locked"       └─────────┘ "PIN locked"
//!                                                                                (audited, not counted)
//!
//!   Locked ends only through a PIN reset (`reset_pin_with_passkey`: a bound passkey's slot
//!   makes a new PIN slot and clears the counter, in one transaction) or with the key
//!   (reissuance makes a new key with a new counter). Nothing else touches the counter.
//!   KMS or database outage, in any state ──► nothing written: an outage is not a wrong PIN.
//! ```
//!
//! One attempt, step by step (`decide_pin`, then `pin_attempt`):
//!
//! ```text
//!    attempt ──► lock the key's counter ──► failures ≥ 5 or locked? ──yes──► refused: PIN locked (audited)
//!                     │ no
//!                     ▼
//!                 try the PIN (KMS) ──right──► failures = 0                      ┐
//!                     │ wrong ──► failures += 1; == 5 ? locked_at = now, "key.pin_locked" ├ commit, unlock
//!                     │ KMS/database outage ──► nothing written (an outage is not a wrong PIN)
//! ```
//!
//! - "Lock the key's counter" is this node's per-key lock and, on PostgreSQL, the counter's
//!   row lock held for the attempt's transaction: attempts on one key are decided one at a
//!   time across every node. Parallel right PINs all succeed (none is counted as a failure
//!   while in flight); parallel wrong PINs count exactly to the limit. Waiting for the lock is
//!   bounded by the database's `lock_timeout`.
//! - An integrity failure of the PIN slot counts like a wrong PIN: the caller cannot tell
//!   them apart, and neither may an attacker.
//! - A locked PIN stays locked until a PIN reset through a passkey bound to the key (after the
//!   holder's identity, phone and security medium are checked again) or a reissuance (a new
//!   key); passkey use, time and a right PIN do not unlock it.
//! - Passkeys have no counter: that the credential was really used is checked by WebAuthn
//!   before [`Custody::activate_with_passkey`] is called; a passkey that is not bound is
//!   audited as a failed activation.

use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    Custody, CustodyError, OwnerId,
    activation::ActivationInfo,
    keys::{KeyAlgorithm, KeyError, SigningKey},
    kms::DataKey,
    sealed,
    slots::{Binding, sealed_aad, slot_kind},
};
use crate::{
    audit::{Action, NewEvent},
    domain::pin::Pin,
    store::{self, StoreError},
};

/// The holder's secret that opens a key for [`Custody::activate_once`].
#[derive(Clone, Copy)]
pub enum Unlock<'a> {
    /// The PIN (decided one attempt at a time, with lockout).
    Pin(&'a Pin),
    /// A passkey whose WebAuthn assertion the caller has verified, with the PRF output its
    /// authenticator gave in that ceremony (if any).
    Passkey(&'a [u8], Option<&'a super::slots::Prf>),
}

impl Custody {
    /// Opens the data key with `binding` and parses the private key, auditing the attempt.
    pub(super) async fn open_key(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        binding: &Binding<'_>,
    ) -> Result<(SigningKey, DataKey), CustodyError> {
        let (row, algorithm) = self.load(db, owner, key_id).await?;
        let slot_name = binding.slot().name();
        let slot = store::custody::find_slot(self.reads(db), &row.id, &slot_name).await?;
        let opened_row = slot.clone();
        // Everything that decides whether the secret is right, and nothing that touches the
        // database: for a PIN it runs under the key's lock (see the lockout diagram in the module doc).
        let unlock = async {
            let slot = slot.ok_or(match binding {
                Binding::Pin(_) => CustodyError::WrongPin { tries_left: None },
                Binding::Passkey(..) => CustodyError::PasskeyNotBound,
                Binding::Service => CustodyError::Integrity,
            })?;
            let dk = self.unwrap_slot(owner, key_id, binding, &slot).await?;
            let pkcs8 = sealed::open(
                &dk,
                &sealed_aad(owner, key_id, algorithm),
                &row.sealed_private,
            )?;
            Ok::<_, CustodyError>((pkcs8, dk))
        };
        let (pkcs8, dk) = match binding {
            Binding::Pin(_) => self.decide_pin(db, owner, key_id, &row.id, unlock).await?,
            _ => match unlock.await {
                Ok(opened) => opened,
                Err(e) => {
                    // Wrong secrets and integrity failures are security events; outages are
                    // not attempts (and the audit write would fail with them).
                    if matches!(e, CustodyError::PasskeyNotBound | CustodyError::Integrity) {
                        let event = NewEvent::new(owner.actor(), Action::KeyActivationFailed)
                            .subject(key_id.to_string())
                            .details(
                                json!({"slot": slot_kind(&slot_name), "reason": e.to_string()}),
                            );
                        self.audit(db, &[event]).await?;
                    }
                    return Err(e);
                }
            },
        };
        if let Some(opened) = &opened_row
            && let Some(binding) = binding.for_row(opened)
        {
            self.rebind_if_moved(db, owner, key_id, &binding, opened, &dk)
                .await;
        }
        let key = parse_off_workers(algorithm, pkcs8).await?;
        Ok((key, dk))
    }

    /// Decides one PIN attempt of key `row_id` while holding the key's lock: this node's
    /// per-key lock, and on PostgreSQL the counter's row lock for the transaction, so attempts
    /// on one key are decided one at a time across the cluster. Parallel right PINs all
    /// succeed; parallel wrong PINs count exactly; an outage decides (and writes) nothing.
    async fn decide_pin<T>(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        row_id: &str,
        unlock: impl std::future::Future<Output = Result<T, CustodyError>>,
    ) -> Result<T, CustodyError> {
        let _one_at_a_time = self.pin_locks.lock(row_id).await;
        if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            let txn = db.begin().await.map_err(StoreError::from)?;
            let (result, decided) = self
                .pin_attempt(&txn, owner, key_id, row_id, unlock)
                .await?;
            if decided {
                txn.commit().await.map_err(StoreError::from)?;
            }
            result
        } else {
            self.pin_attempt(db, owner, key_id, row_id, unlock).await?.0
        }
    }

    /// One PIN attempt against the counter read (and locked) on `conn`; returns the outcome
    /// and whether it decided anything (to be committed).
    async fn pin_attempt<C, T>(
        &self,
        conn: &C,
        owner: &OwnerId,
        key_id: Uuid,
        row_id: &str,
        unlock: impl std::future::Future<Output = Result<T, CustodyError>>,
    ) -> Result<(Result<T, CustodyError>, bool), CustodyError>
    where
        C: sea_orm::ConnectionTrait + TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
    {
        let now = self.clock.now();
        // SQLite: the counter is read beside the writer (its one connection would make the
        // read wait for a group commit). The key's lock is held, and every attempt's write
        // commits before it is let go, so the read sees the last attempt's count; only a key
        // whose row is not made yet goes to the writer for it.
        let known = match (&self.readers, conn.get_database_backend()) {
            (Some(readers), sea_orm::DbBackend::Sqlite) => {
                store::custody::pin_row(readers, row_id).await?
            }
            _ => None,
        };
        let (failures, locked) = match known {
            Some(state) => state,
            None => store::custody::lock_pin_state(conn, row_id, now).await?,
        };
        if locked || failures >= self.max_pin_failures {
            let event = NewEvent::new(owner.actor(), Action::KeyActivationFailed)
                .subject(key_id.to_string())
                .details(json!({"slot": "pin", "reason": "PIN locked"}));
            // The commit a wrong PIN makes — its counter write (a no-op here: the row is
            // locked, and the update only touches unlocked rows) with the audit row — so that
            // a locked PIN costs what a wrong one does (#17, no oracles).
            let write = conn.begin().await.map_err(StoreError::from)?;
            store::custody::set_pin_failures(&write, row_id, failures, false, now).await?;
            store::audit::append_within(&write, now, &[event]).await?;
            write.commit().await.map_err(StoreError::from)?;
            return Ok((Err(CustodyError::PinLocked), true));
        }
        match unlock.await {
            Ok(opened) => {
                if failures > 0 {
                    store::custody::set_pin_failures(conn, row_id, 0, false, now).await?;
                }
                Ok((Ok(opened), true))
            }
            Err(e @ (CustodyError::WrongPin { .. } | CustodyError::Integrity)) => {
                let now = self.clock.now();
                let counted = failures + 1;
                let lock = counted >= self.max_pin_failures;
                let mut events = vec![
                    NewEvent::new(owner.actor(), Action::KeyActivationFailed)
                        .subject(key_id.to_string())
                        .details(
                            json!({"slot": "pin", "reason": e.to_string(), "failures": counted}),
                        ),
                ];
                if lock {
                    events.push(
                        NewEvent::new(owner.actor(), Action::PinLocked)
                            .subject(key_id.to_string())
                            .details(json!({"failures": counted})),
                    );
                }
                // The counter and its audit events in one commit (on PostgreSQL a savepoint
                // of the attempt's transaction): the write a decoy attempt mirrors.
                let write = conn.begin().await.map_err(StoreError::from)?;
                store::custody::set_pin_failures(&write, row_id, counted, lock, now).await?;
                store::audit::append_within(&write, now, &events).await?;
                write.commit().await.map_err(StoreError::from)?;
                let e = match e {
                    CustodyError::WrongPin { .. } => CustodyError::WrongPin {
                        tries_left: Some(
                            u32::try_from(self.max_pin_failures.saturating_sub(counted))
                                .unwrap_or(0),
                        ),
                    },
                    other => other,
                };
                Ok((Err(e), true))
            }
            // An outage decided nothing: nothing is counted.
            Err(e) => Ok((Err(e), false)),
        }
    }

    async fn activate(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        binding: &Binding<'_>,
        max_signatures: Option<u32>,
    ) -> Result<ActivationInfo, CustodyError> {
        let (info, event) = self
            .activate_unaudited(db, owner, key_id, binding, max_signatures)
            .await?;
        if let Err(e) = self.audit(db, &[event]).await {
            // Not audited, not usable: wipe it again.
            self.activations.remove(info.id);
            return Err(e);
        }
        Ok(info)
    }

    /// Opens the key and holds the activation; its `key.activated` event is the caller's to
    /// write before anything the activation produces leaves the service.
    async fn activate_unaudited(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        binding: &Binding<'_>,
        max_signatures: Option<u32>,
    ) -> Result<(ActivationInfo, NewEvent), CustodyError> {
        let (key, dk) = self.open_key(db, owner, key_id, binding).await?;
        drop(dk);
        let info = self.activations.insert(
            owner.as_str(),
            key_id,
            key,
            self.clock.now(),
            max_signatures,
        )?;
        let event = NewEvent::new(owner.actor(), Action::KeyActivated)
            .subject(key_id.to_string())
            .details(json!({
                "slot": slot_kind(&binding.slot().name()),
                "activation": info.id.to_string(),
                "expires_at": info.expires_at.to_rfc3339(),
                "max_signatures": info.remaining,
            }));
        Ok((info, event))
    }

    /// Activates a key for one use within the caller's request (a native approval): the
    /// `key.activated` event comes back unwritten, to be committed in the same transaction as
    /// what the activation produced, and the caller wipes the activation when done. Nothing
    /// the activation signs may leave unless that commit succeeds.
    pub async fn activate_once(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        unlock: Unlock<'_>,
        max_signatures: Option<u32>,
    ) -> Result<(ActivationInfo, NewEvent), CustodyError> {
        let binding = match unlock {
            Unlock::Pin(pin) => Binding::Pin(pin),
            Unlock::Passkey(id, prf) => Binding::Passkey(id, prf),
        };
        self.activate_unaudited(db, owner, key_id, &binding, max_signatures)
            .await
    }

    /// A key's algorithm and whether its PIN is locked (no secret is touched).
    pub async fn key_status(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
    ) -> Result<(KeyAlgorithm, bool), CustodyError> {
        let (row, algorithm) = self.load(db, owner, key_id).await?;
        let (_, locked) = store::custody::pin_state(self.reads(db), &row.id).await?;
        Ok((algorithm, locked))
    }

    /// Checks a PIN (with lockout and auditing) without activating the key: sign-in.
    pub async fn verify_pin(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        pin: &Pin,
    ) -> Result<(), CustodyError> {
        let (key, dk) = self.open_key(db, owner, key_id, &Binding::Pin(pin)).await?;
        drop((key, dk));
        Ok(())
    }

    /// Activates a key with its PIN for at most `max_signatures` (capped by configuration).
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), key = %key_id))]
    pub async fn activate_with_pin(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        pin: &Pin,
        max_signatures: Option<u32>,
    ) -> Result<ActivationInfo, CustodyError> {
        self.activate(db, owner, key_id, &Binding::Pin(pin), max_signatures)
            .await
    }

    /// Activates a key through a passkey's slot. The caller has verified the WebAuthn
    /// assertion of `credential_id`.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), key = %key_id))]
    pub async fn activate_with_passkey(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        credential_id: &[u8],
        max_signatures: Option<u32>,
    ) -> Result<ActivationInfo, CustodyError> {
        self.activate(
            db,
            owner,
            key_id,
            &Binding::Passkey(credential_id, None),
            max_signatures,
        )
        .await
    }

    /// Re-binds the PIN slot to `new` (the old PIN is required); the data key and sealed key
    /// stay the same, passkey slots are untouched.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), key = %key_id))]
    pub async fn change_pin(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        old: &Pin,
        new: &Pin,
    ) -> Result<(), CustodyError> {
        let (_key, dk) = self.open_key(db, owner, key_id, &Binding::Pin(old)).await?;
        let current = store::custody::find_slot(db, &key_id.to_string(), "pin")
            .await?
            .ok_or(CustodyError::WrongPin { tries_left: None })?;
        let fresh = self
            .wrap_slot(owner, key_id, &Binding::Pin(new), &dk)
            .await?;
        drop(dk);
        let now = self.clock.now();
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !store::custody::replace_slot(&txn, &current, &fresh, now).await? {
            // Changed concurrently: refuse rather than overwrite a PIN we did not check.
            return Err(CustodyError::WrongPin { tries_left: None });
        }
        store::audit::append(
            &txn,
            now,
            &[NewEvent::new(owner.actor(), Action::PinChanged).subject(key_id.to_string())],
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }
}

impl Custody {
    /// Makes the PIN slot anew from a passkey's slot (PIN reset: the caller has verified the
    /// holder's identity again and the WebAuthn assertion of `credential_id`). The passkey slot
    /// opens the data key (a passkey that is not bound is audited and refused); a new PIN slot
    /// is wrapped under `new` (KMS) before anything is written; then, in one transaction, the
    /// PIN slot is replaced (or made), the PIN failures and lock are cleared, and
    /// `key.pin_reset` is audited. A KMS or database failure leaves the old PIN and the lock
    /// as they were. This and a right PIN are the only ways the counter returns to 0, and
    /// this is the only way out of a lock short of a new key.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), key = %key_id))]
    pub async fn reset_pin_with_passkey(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        credential_id: &[u8],
        prf: Option<&super::slots::Prf>,
        new: &Pin,
    ) -> Result<(), CustodyError> {
        let (_key, dk) = self
            .open_key(db, owner, key_id, &Binding::Passkey(credential_id, prf))
            .await?;
        let fresh = self
            .wrap_slot(owner, key_id, &Binding::Pin(new), &dk)
            .await?;
        drop(dk);
        // Decided like a PIN attempt: one at a time per key on this node, and on PostgreSQL
        // the counter's row lock is taken by the update inside the transaction.
        let _one_at_a_time = self.pin_locks.lock(&fresh.key_id).await;
        let now = self.clock.now();
        let (failures, locked) = store::custody::pin_state(db, &fresh.key_id).await?;
        let txn = db.begin().await.map_err(StoreError::from)?;
        store::custody::put_slot(&txn, &fresh, now).await?;
        store::custody::clear_pin_lock(&txn, &fresh.key_id, now).await?;
        store::audit::append_within(
            &txn,
            now,
            &[NewEvent::new(owner.actor(), Action::PinReset)
                .subject(key_id.to_string())
                .details(json!({
                    "by": "passkey",
                    "failures_cleared": failures,
                    "was_locked": locked,
                }))],
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }
}

/// Parses a PKCS#8 key on the blocking pool: an RSA parse costs about as much as a signature
/// and must not hold up the async workers.
pub(super) async fn parse_off_workers(
    algorithm: KeyAlgorithm,
    pkcs8: Zeroizing<Vec<u8>>,
) -> Result<SigningKey, CustodyError> {
    Ok(
        tokio::task::spawn_blocking(move || SigningKey::from_pkcs8(algorithm, &pkcs8))
            .await
            .map_err(|_| KeyError::Parse("key"))??,
    )
}
