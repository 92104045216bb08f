//! Service keys: the keys the service itself opens, with no PIN or passkey (the CA's, the OCSP
//! responder's, the token signer's). They have only a `service` slot; these functions refuse any
//! other slot, so a user's key can never be opened this way.

use sea_orm::DatabaseConnection;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    Custody, CustodyError, OwnerId, PreparedKey, Slot,
    keys::{KeyAlgorithm, SigningKey},
    sealed,
    slots::{Binding, sealed_aad},
};
use crate::store;

impl Custody {
    /// A key only the service opens (CA and OCSP responder keys), with its KMS work done.
    pub async fn prepare_service_key(
        &self,
        owner: &OwnerId,
        algorithm: KeyAlgorithm,
    ) -> Result<PreparedKey, CustodyError> {
        self.prepare(owner, algorithm, &Binding::Service, None)
            .await
    }

    /// Opens a prepared, not yet stored service key (a new CA key must sign before the
    /// transaction that stores it).
    pub async fn unseal_prepared(
        &self,
        prepared: &PreparedKey,
    ) -> Result<SigningKey, CustodyError> {
        let pkcs8 = self.prepared_service_pkcs8(prepared).await?;
        Ok(SigningKey::from_pkcs8(prepared.info.algorithm, &pkcs8)?)
    }

    /// The PKCS#8 of a prepared, not yet stored service key.
    pub async fn prepared_service_pkcs8(
        &self,
        prepared: &PreparedKey,
    ) -> Result<Zeroizing<Vec<u8>>, CustodyError> {
        if prepared.slot.slot != Slot::Service {
            return Err(CustodyError::Integrity);
        }
        let info = &prepared.info;
        let dk = self
            .unwrap_slot(&info.owner, info.id, &Binding::Service, &prepared.slot)
            .await?;
        Ok(sealed::open(
            &dk,
            &sealed_aad(&info.owner, info.id, info.algorithm),
            &prepared.sealed_private,
        )?)
    }

    /// The PKCS#8 of a service key (prepared, or stored), for libraries that take a key as
    /// bytes (the token signer). Service slots only; the bytes are zeroized on drop.
    pub async fn service_pkcs8(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
    ) -> Result<Zeroizing<Vec<u8>>, CustodyError> {
        let (row, algorithm) = self.load(db, owner, key_id).await?;
        let slot = store::custody::find_slot(db, &row.id, &Slot::Service.name())
            .await?
            .ok_or(CustodyError::Integrity)?;
        let dk = self
            .unwrap_slot(owner, key_id, &Binding::Service, &slot)
            .await?;
        Ok(sealed::open(
            &dk,
            &sealed_aad(owner, key_id, algorithm),
            &row.sealed_private,
        )?)
    }

    /// Opens a service key (CA, OCSP responder) for the life of the process.
    pub async fn open_service_key(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
    ) -> Result<SigningKey, CustodyError> {
        let (key, dk) = self.open_key(db, owner, key_id, &Binding::Service).await?;
        drop(dk);
        Ok(key)
    }
}
