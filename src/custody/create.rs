//! Key creation: generating (or importing) a private key, sealing it under a fresh KMS data
//! key with its first slot, and storing it with its audit event. Every KMS call happens in
//! `prepare*`, before any transaction; [`Custody::persist_key`] only writes, on the caller's
//! transaction, so a key and the certificate made for it commit together.

use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    Custody, CustodyError, OwnerId,
    keys::{self, KeyAlgorithm, KeyError, SigningKey},
    kms::EncryptionContext,
    sealed,
    slots::{Binding, sealed_aad},
};
use crate::{
    audit::{Action, NewEvent},
    domain::pin::Pin,
    store::{
        self, StoreError,
        custody::{KeyRow, SlotRow},
    },
};

/// What is known about a custody key (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub id: Uuid,
    /// Owner.
    pub owner: OwnerId,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// SubjectPublicKeyInfo DER.
    pub public_key_der: Vec<u8>,
}

/// A key generated and sealed, every KMS call done, nothing stored yet.
pub struct PreparedKey {
    /// What the key is.
    pub info: KeyInfo,
    pub(super) sealed_private: Vec<u8>,
    pub(super) slot: SlotRow,
}

impl Custody {
    /// Generates a key for `owner`, sealed, with a PIN slot, and stores it with its audit event
    /// in one transaction. Nothing is stored unless every KMS call succeeded.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), algorithm = algorithm.as_str()))]
    pub async fn create_key(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        algorithm: KeyAlgorithm,
        pin: &Pin,
    ) -> Result<KeyInfo, CustodyError> {
        let prepared = self.prepare_key(owner, algorithm, pin).await?;
        let txn = db.begin().await.map_err(StoreError::from)?;
        let info = self.persist_key(&txn, prepared).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(info)
    }

    /// Generates and seals a key with a PIN slot, doing every KMS call, and writes nothing:
    /// the caller stores it with [`Custody::persist_key`] inside its own transaction (so a key
    /// and the certificate made for it commit together).
    pub async fn prepare_key(
        &self,
        owner: &OwnerId,
        algorithm: KeyAlgorithm,
        pin: &Pin,
    ) -> Result<PreparedKey, CustodyError> {
        self.prepare(owner, algorithm, &Binding::Pin(pin), None)
            .await
    }

    /// Seals an existing private key (PKCS#8, e.g. imported from PKCS#12) with a PIN slot.
    pub async fn prepare_imported_key(
        &self,
        owner: &OwnerId,
        algorithm: KeyAlgorithm,
        pkcs8: Zeroizing<Vec<u8>>,
        pin: &Pin,
    ) -> Result<PreparedKey, CustodyError> {
        self.prepare(owner, algorithm, &Binding::Pin(pin), Some(pkcs8))
            .await
    }

    pub(super) async fn prepare(
        &self,
        owner: &OwnerId,
        algorithm: KeyAlgorithm,
        binding: &Binding<'_>,
        existing: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<PreparedKey, CustodyError> {
        let key_id = Uuid::new_v4();
        let (pkcs8, public_key_der) = match existing {
            Some(pkcs8) => {
                let (pkcs8, public) = self
                    .heavy
                    .run(move || {
                        let public = SigningKey::from_pkcs8(algorithm, &pkcs8)?.public_key_der()?;
                        Ok::<_, KeyError>((pkcs8, public))
                    })
                    .await??;
                (pkcs8, public)
            }
            None => {
                let generated = self.heavy.run(move || keys::generate(algorithm)).await??;
                (generated.pkcs8, generated.public_key_der)
            }
        };
        let seal_ctx = EncryptionContext::new()
            .with("fincert:owner", owner.as_str())
            .with("fincert:key", key_id.to_string())
            .with("fincert:purpose", "seal");
        let dk = self
            .kms
            .generate_data_key(&seal_ctx)
            .await
            .map_err(CustodyError::Kms)?;
        let sealed_private = sealed::seal(&dk, &sealed_aad(owner, key_id, algorithm), &pkcs8)?;
        drop(pkcs8);
        let slot = self.wrap_slot(owner, key_id, binding, &dk).await?;
        drop(dk);
        Ok(PreparedKey {
            info: KeyInfo {
                id: key_id,
                owner: owner.clone(),
                algorithm,
                public_key_der,
            },
            sealed_private,
            slot,
        })
    }

    /// Stores a prepared key, its slot and its audit event on `conn` (the caller's transaction).
    pub async fn persist_key(
        &self,
        conn: &sea_orm::DatabaseTransaction,
        prepared: PreparedKey,
    ) -> Result<KeyInfo, CustodyError> {
        let now = self.clock.now();
        let info = prepared.info;
        let row = KeyRow {
            id: info.id.to_string(),
            owner_id: info.owner.as_str().to_owned(),
            algorithm: info.algorithm,
            public_key: info.public_key_der.clone(),
            sealed_private: prepared.sealed_private,
            created_at: now,
        };
        let event = NewEvent::new(info.owner.actor(), Action::KeyCreated)
            .subject(info.id.to_string())
            .details(json!({"algorithm": info.algorithm.as_str(), "kms": self.kms.backend(), "kms_key_id": prepared.slot.kms_key_id, "slot": prepared.slot.slot.name()}));
        store::custody::insert_key(conn, &row, &prepared.slot).await?;
        store::audit::append(conn, now, &[event]).await?;
        Ok(info)
    }
}
