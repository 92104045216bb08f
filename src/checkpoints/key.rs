//! The audit key: a P-256 key that signs checkpoints and nothing else. With `kms.backend =
//! "aws"` and `audit.aws_key_id` set it is an existing asymmetric key inside AWS KMS (adopted
//! after the same checks `ca init` makes; every checkpoint one `kms:Sign`, `MessageType=RAW`);
//! otherwise a custody-sealed service key (owner `svc:audit`), opened once into memory. Either
//! way it is a [`CaSigner`], the CA's signing abstraction.
//!
//! `audit verify` trusts only a key its backend still holds: for each `audit_keys` row it asks
//! KMS for the public key (`GetPublicKey`) or opens the sealed key through custody, and
//! refuses a row whose stored public key differs. A database owner can therefore neither add a
//! key of their own nor swap one.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::CheckpointError;
use crate::{
    audit::{Action, Actor, AuditPublicKey, Break, NewEvent, key_id_of},
    clock::SharedClock,
    config::{KmsBackend, Settings},
    custody::{Custody, OwnerId, keys::KeyAlgorithm, kms::aws::AwsKms},
    pki::signer::{CaSigner, aws::adopt_key},
    store::{self, StoreError, checkpoints::AuditKeyRow},
};

const OWNER: &str = "svc:audit";
const SEALED: &str = "sealed";
const KMS: &str = "kms";

/// The key that signs checkpoints on this node.
pub struct AuditKey {
    key_id: String,
    signer: Arc<CaSigner>,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("key_id", &self.key_id)
            .finish()
    }
}

fn owner() -> Result<OwnerId, CheckpointError> {
    OwnerId::parse(OWNER).map_err(|e| CheckpointError::Key(e.to_string()))
}

fn key_err(e: impl std::fmt::Display) -> CheckpointError {
    CheckpointError::Key(e.to_string())
}

impl AuditKey {
    /// Its id ([`key_id_of`] its public key).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs `message` (on a blocking thread: a KMS key's `Sign` blocks).
    pub async fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, CheckpointError> {
        self.signer
            .run_blocking(move |s| s.sign_message(&message))
            .await
            .map_err(key_err)?
            .map_err(key_err)
    }

    /// Opens the key the settings call for, making (sealed) or adopting (KMS) it, audited, the
    /// first time.
    pub async fn load_or_create(
        db: &DatabaseConnection,
        custody: &Arc<Custody>,
        settings: &Settings,
        clock: &SharedClock,
    ) -> Result<Self, CheckpointError> {
        let rows = store::checkpoints::keys(db).await?;
        let (row, signer) =
            if settings.kms.backend == KmsBackend::Aws && !settings.audit.aws_key_id.is_empty() {
                let kms = AwsKms::connect(&settings.kms)
                    .await
                    .map_err(key_err)?
                    .counted(custody.kms_metrics().cloned());
                let arn = adopt_key(
                    &kms,
                    &settings.audit.aws_key_id,
                    KeyAlgorithm::P256,
                    "audit.aws_key_id",
                )
                .await
                .map_err(key_err)?;
                let signer = CaSigner::kms(kms, arn.clone(), KeyAlgorithm::P256)
                    .await
                    .map_err(key_err)?;
                match rows.iter().find(|r| r.kms_key_id.as_deref() == Some(&arn)) {
                    Some(row) => (row.clone(), signer),
                    None => {
                        let row = AuditKeyRow {
                            key_id: key_id_of(signer.spki_der()),
                            key_kind: KMS.into(),
                            custody_key_id: None,
                            kms_key_id: Some(arn),
                            spki: signer.spki_der().to_vec(),
                            created_at: clock.now(),
                        };
                        let txn = db.begin().await.map_err(StoreError::from)?;
                        store::checkpoints::insert_key(&txn, &row).await?;
                        audit_created(&txn, &row, clock).await?;
                        txn.commit().await.map_err(StoreError::from)?;
                        (row, signer)
                    }
                }
            } else {
                match rows.iter().find(|r| r.key_kind == SEALED) {
                    Some(row) => {
                        let id = row
                            .custody_key_id
                            .ok_or_else(|| key_err("a sealed audit key names no custody key"))?;
                        let key = custody
                            .open_service_key(db, &owner()?, id)
                            .await
                            .map_err(key_err)?;
                        (row.clone(), CaSigner::sealed(key).map_err(key_err)?)
                    }
                    None => {
                        let prepared = custody
                            .prepare_service_key(&owner()?, KeyAlgorithm::P256)
                            .await
                            .map_err(key_err)?;
                        let signer = CaSigner::sealed(
                            custody.unseal_prepared(&prepared).await.map_err(key_err)?,
                        )
                        .map_err(key_err)?;
                        let row = AuditKeyRow {
                            key_id: key_id_of(signer.spki_der()),
                            key_kind: SEALED.into(),
                            custody_key_id: Some(prepared.info.id),
                            kms_key_id: None,
                            spki: signer.spki_der().to_vec(),
                            created_at: clock.now(),
                        };
                        let txn = db.begin().await.map_err(StoreError::from)?;
                        custody.persist_key(&txn, prepared).await.map_err(key_err)?;
                        store::checkpoints::insert_key(&txn, &row).await?;
                        audit_created(&txn, &row, clock).await?;
                        txn.commit().await.map_err(StoreError::from)?;
                        (row, signer)
                    }
                }
            };
        if signer.spki_der() != row.spki.as_slice() || key_id_of(&row.spki) != row.key_id {
            return Err(key_err(format!(
                "audit key {}: the stored public key is not the key's own",
                row.key_id
            )));
        }
        Ok(Self {
            key_id: row.key_id,
            signer: Arc::new(signer),
        })
    }
}

async fn audit_created(
    txn: &sea_orm::DatabaseTransaction,
    row: &AuditKeyRow,
    clock: &SharedClock,
) -> Result<(), StoreError> {
    let event = NewEvent::new(Actor::System, Action::AuditKeyCreated)
        .subject(row.key_id.clone())
        .details(json!({"kind": row.key_kind, "kms_key_id": row.kms_key_id}));
    store::audit::append_within(txn, clock.now(), &[event]).await
}

/// The audit keys as the database states them, unconfirmed (for `audit verify` run where the
/// KMS is not reachable: it says so).
pub async fn stored_keys(db: &DatabaseConnection) -> Result<Vec<AuditPublicKey>, StoreError> {
    Ok(store::checkpoints::keys(db)
        .await?
        .into_iter()
        .map(|r| AuditPublicKey::new(r.spki))
        .collect())
}

/// The audit keys `audit verify` may trust: every `audit_keys` row whose public key its
/// backend (KMS or custody) confirms; `Err(Break::KeyMismatch)` for the first that it does
/// not. Needs the KMS the settings name.
pub async fn trusted_keys(
    db: &DatabaseConnection,
    settings: &Settings,
    custody: &Arc<Custody>,
) -> Result<Result<Vec<AuditPublicKey>, Break>, CheckpointError> {
    let rows = store::checkpoints::keys(db).await?;
    let mut aws: Option<AwsKms> = None;
    let mut out = Vec::new();
    for row in rows {
        let spki = match (row.key_kind.as_str(), &row.kms_key_id, row.custody_key_id) {
            (KMS, Some(arn), _) => {
                if aws.is_none() {
                    aws = Some(AwsKms::connect(&settings.kms).await.map_err(key_err)?);
                }
                match &aws {
                    Some(kms) => kms.public_key(arn).await.map_err(key_err)?,
                    None => return Err(key_err("AWS KMS is not configured")),
                }
            }
            (SEALED, _, Some(id)) => match custody.open_service_key(db, &owner()?, id).await {
                Ok(key) => key.public_key_der().map_err(key_err)?,
                Err(
                    e @ (crate::custody::CustodyError::Kms(_)
                    | crate::custody::CustodyError::Store(_)),
                ) => {
                    return Err(key_err(e));
                }
                // A sealed key this KMS cannot open (missing, or not sealed by it) is not one
                // the service made.
                Err(_) => {
                    return Ok(Err(Break::KeyMismatch { key_id: row.key_id }));
                }
            },
            _ => {
                return Ok(Err(Break::KeyMismatch { key_id: row.key_id }));
            }
        };
        if spki != row.spki || key_id_of(&spki) != row.key_id {
            return Ok(Err(Break::KeyMismatch { key_id: row.key_id }));
        }
        out.push(AuditPublicKey::new(spki));
    }
    Ok(Ok(out))
}
