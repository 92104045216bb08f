//! Registering a foreign certificate by its public certificate, storing a validated one (with
//! or without an imported key) and listing them. Each registration writes its row, key and
//! audit event in one transaction.

use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use super::ForeignView;
use crate::{
    audit::{Action, Actor, NewEvent},
    custody::{OwnerId, PreparedKey},
    domain::der_input::{self, PemRule},
    pki::{Pki, PkiError, foreign},
    store::{self, StoreError},
};

/// Reads a certificate registered by its public certificate (DER, or the first CERTIFICATE
/// block of PEM) and validates it (`foreign::validate`). Pure: the leaf's DER and its verdict.
pub fn read_public(
    certificate: &[u8],
    intermediates: &[Vec<u8>],
    anchors: &foreign::TrustAnchors,
    now: chrono::DateTime<chrono::Utc>,
    policy_arc: &str,
) -> Result<(Vec<u8>, foreign::Validated), foreign::ForeignError> {
    let leaf = der_input::der_from(certificate, PemRule::FirstLabelled(der_input::CERTIFICATE))
        .map_err(|_| foreign::ForeignError::Malformed)?;
    let validated = foreign::validate(&leaf, intermediates, anchors, now, policy_arc)?;
    Ok((leaf, validated))
}

impl Pki {
    /// Registers a certificate issued by another CA by its public certificate (DER or PEM) and
    /// optional intermediates: it must chain to a configured trust anchor, be valid now, be a
    /// personal signing certificate, and carry a recognised policy.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str()))]
    pub async fn register_foreign(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        certificate: &[u8],
        intermediates: &[Vec<u8>],
    ) -> Result<ForeignView, PkiError> {
        let (certificate, intermediates) = (certificate.to_vec(), intermediates.to_vec());
        let (anchors, now, arc) = (
            self.anchors.clone(),
            self.clock.now(),
            self.settings.policy_arc.clone(),
        );
        let (leaf, validated) = self
            .run_heavy(move || read_public(&certificate, &intermediates, &anchors, now, &arc))
            .await??;
        self.store_foreign(db, owner, leaf, validated, None, "public")
            .await
    }

    pub(super) async fn store_foreign(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        leaf: Vec<u8>,
        v: foreign::Validated,
        key: Option<PreparedKey>,
        source: &str,
    ) -> Result<ForeignView, PkiError> {
        if store::pki::foreign_exists(db, owner.as_str(), &v.issuer_dn, &v.serial_hex).await? {
            return Err(foreign::ForeignError::AlreadyRegistered.into());
        }
        let now = self.clock.now();
        let id = Uuid::new_v4();
        let custody_key_id = key.as_ref().map(|k| k.info.id);
        let row = store::pki::ForeignRow {
            id,
            owner_id: owner.as_str().into(),
            usage: v.usage,
            source: source.into(),
            issuer_dn: v.issuer_dn.clone(),
            serial_hex: v.serial_hex.clone(),
            subject: v.subject.clone(),
            not_before: v.not_before,
            not_after: v.not_after,
            certificate_der: leaf,
            chain_der: v.chain_der,
            custody_key_id,
            created_at: now,
        };
        let event = NewEvent::new(Actor::User(owner.as_str().into()), Action::ForeignCertificateRegistered)
            .subject(v.serial_hex.clone())
            .details(json!({"certificate": id.to_string(), "issuer": v.issuer_dn, "usage": v.usage.as_str(), "usage_from": if v.usage_recognised { "policy" } else { "default" }, "source": source}));
        let txn = db.begin().await.map_err(StoreError::from)?;
        if let Some(key) = key {
            self.custody.persist_key(&txn, key).await?;
        }
        store::pki::insert_foreign(&txn, row).await?;
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(ForeignView {
            id,
            usage: v.usage,
            source: source.into(),
            issuer: v.issuer_dn,
            serial: v.serial_hex,
            subject: v.subject,
            not_after: v.not_after,
            custody_key_id,
        })
    }

    /// Foreign certificates `owner` registered.
    pub async fn foreign_certificates(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
    ) -> Result<Vec<ForeignView>, PkiError> {
        Ok(store::pki::foreign_of(db, owner.as_str())
            .await?
            .into_iter()
            .map(|r| ForeignView {
                id: r.id,
                usage: r.usage,
                source: r.source,
                issuer: r.issuer_dn,
                serial: r.serial_hex,
                subject: r.subject,
                not_after: r.not_after,
                custody_key_id: r.custody_key_id,
            })
            .collect())
    }
}
