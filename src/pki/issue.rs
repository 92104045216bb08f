//! Issuing: a new certificate for a verified holder, its key (a cloud key sealed to a PIN, or
//! a device CSR), the profile's parameters, the issuing CA's signature, the fee, and the one
//! transaction that stores them (shared with renewal and reissue).

use chrono::{DateTime, Utc};
use rcgen::{CertificateParams, IsCa, KeyUsagePurpose, SerialNumber};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use super::{
    CertificateView, ISSUING, Pki, PkiError, enc,
    lifecycle::{CertStatus, LifecycleError, RevocationReason},
    profile::{self, CertKind, HolderName, Storage, Usage},
    signer::sign_with,
    urls,
    x509::{self, dn},
};
use crate::{
    audit::{Action, Actor, NewEvent},
    custody::{OwnerId, PreparedKey},
    domain::pin::Pin,
    store::{self, StoreError, pki::CertificateRow},
};

/// Where a new certificate's key comes from.
pub enum KeySource<'a> {
    /// fincert generates and seals it, bound to this PIN.
    Cloud(&'a Pin),
    /// The holder's device made it; this is its PKCS#10 request (DER or PEM).
    Device(&'a [u8]),
}

/// An issuance request (the caller has verified the holder's identity).
pub struct IssueRequest<'a> {
    /// The holder.
    pub owner: OwnerId,
    /// The holder's name, as in the subject.
    pub holder: HolderName,
    /// Financial or joint.
    pub kind: CertKind,
    /// Restricted-use or general-purpose.
    pub usage: Usage,
    /// The key.
    pub key: KeySource<'a>,
}

/// How a new certificate relates to the one it replaces.
#[derive(Clone, Copy)]
pub(super) enum Predecessor {
    Renewed,
    Reissued { revoke: bool },
}

impl Pki {
    /// The profile's certificate parameters for a holder.
    fn leaf_params(
        &self,
        spki: &[u8],
        kind: CertKind,
        usage: Usage,
        common_name: &str,
        not_before: DateTime<Utc>,
    ) -> Result<CertificateParams, PkiError> {
        let base = self.settings.public_base_url.as_str();
        let policy = profile::policy_oid(&self.settings.policy_arc, kind, usage)
            .ok_or_else(|| enc("policy OID"))?;
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(&self.settings.organization, common_name, Some("personal"));
        p.not_before = x509::to_offset(not_before);
        p.not_after = x509::to_offset(kind.not_after(not_before));
        p.serial_number = Some(SerialNumber::from_slice(&x509::random_serial()?));
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        p.use_authority_key_identifier_extension = true;
        p.key_identifier_method = x509::key_id_method(spki)?;
        p.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: vec![urls::crl(base)],
        }];
        p.custom_extensions.push(x509::policies_extension(policy)?);
        p.custom_extensions.push(x509::aia_extension(
            Some(&urls::ocsp(base)),
            &urls::ca(base, ISSUING),
        )?);
        Ok(p)
    }

    /// The public key to certify: a prepared cloud key, or a checked CSR.
    async fn key_for(
        &self,
        owner: &OwnerId,
        storage: Storage,
        key: &KeySource<'_>,
    ) -> Result<(Option<PreparedKey>, Vec<u8>), PkiError> {
        match (storage, key) {
            (Storage::Cloud, KeySource::Cloud(pin)) => {
                let prepared = self
                    .custody
                    .prepare_key(owner, self.user_algorithm, pin)
                    .await?;
                let spki = prepared.info.public_key_der.clone();
                Ok((Some(prepared), spki))
            }
            (Storage::Device, KeySource::Device(csr)) => {
                // An uploaded request: parsed and its signature checked off the async workers.
                let csr = csr.to_vec();
                let checked = self.run_heavy(move || x509::check_csr(&csr)).await??;
                Ok((None, checked.spki_der))
            }
            (Storage::Cloud, _) => Err(PkiError::KeySource("cloud storage needs a PIN, not a CSR")),
            (Storage::Device, _) => Err(PkiError::KeySource("device storage needs a CSR")),
        }
    }

    async fn sign_leaf(
        &self,
        params: CertificateParams,
        spki: Vec<u8>,
    ) -> Result<Vec<u8>, PkiError> {
        sign_with(&self.issuing.signer, &self.issuing.der, params, spki).await
    }

    fn fee_row(
        &self,
        owner: &OwnerId,
        cert_id: &str,
        usage: Usage,
        event: &str,
        now: DateTime<Utc>,
    ) -> Option<store::pki::FeeRow> {
        let amount = profile::fee_krw(usage, self.settings.general_purpose_fee_krw);
        (amount > 0).then(|| store::pki::FeeRow {
            id: Uuid::new_v4().to_string(),
            owner_id: owner.as_str().into(),
            certificate_id: cert_id.into(),
            event: event.into(),
            amount_krw: i32::try_from(amount).unwrap_or(i32::MAX),
            created_at: now,
        })
    }

    /// Issues a new certificate.
    #[tracing::instrument(skip_all, fields(owner = %req.owner.as_str(), kind = req.kind.as_str(), usage = req.usage.as_str()))]
    pub async fn issue(
        &self,
        db: &DatabaseConnection,
        req: IssueRequest<'_>,
    ) -> Result<CertificateView, PkiError> {
        let storage = match req.key {
            KeySource::Cloud(_) => Storage::Cloud,
            KeySource::Device(_) => Storage::Device,
        };
        profile::check_storage(req.kind, storage)?;
        let cn = profile::common_name(&req.holder, &x509::random_digits()?);
        self.create(
            db,
            &req.owner,
            req.kind,
            req.usage,
            storage,
            &cn,
            &req.key,
            None,
            Action::CertificateIssued,
            "issue",
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn create(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        kind: CertKind,
        usage: Usage,
        storage: Storage,
        common_name: &str,
        key: &KeySource<'_>,
        predecessor: Option<(&CertificateRow, Predecessor)>,
        action: Action,
        fee_event: &str,
    ) -> Result<CertificateView, PkiError> {
        // Fail closed: once the root revoked the issuing CA, nothing more is signed under it
        // (checked in the database: the revocation comes from another process, the CLI).
        if store::pki::authority(db, ISSUING)
            .await?
            .is_some_and(|a| a.revoked_at.is_some())
        {
            return Err(PkiError::IssuingCaRevoked);
        }
        let (prepared, spki) = self.key_for(owner, storage, key).await?;
        let now = self.clock.now();
        let params = self.leaf_params(&spki, kind, usage, common_name, now)?;
        let serial = params
            .serial_number
            .as_ref()
            .map(|s| hex::encode(s.to_bytes()))
            .unwrap_or_default();
        let not_after = kind.not_after(now);
        let der = self.sign_leaf(params, spki).await?;
        let id = Uuid::new_v4();
        let custody_key_id = prepared.as_ref().map(|p| p.info.id);
        let row = CertificateRow {
            id,
            owner_id: owner.clone(),
            kind,
            usage,
            storage,
            status: CertStatus::Active,
            serial_hex: serial.clone(),
            subject: common_name.into(),
            not_before: DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now),
            not_after: DateTime::from_timestamp(not_after.timestamp(), 0).unwrap_or(not_after),
            issuer_id: ISSUING.into(),
            custody_key_id,
            certificate_der: der,
            revoked_at: None,
            revocation_reason: None,
            replaces_id: predecessor.map(|(p, _)| p.id),
            renewed_by_id: None,
            created_at: now,
            updated_at: now,
            foreign_chain: None,
        };
        let fee = self.fee_row(owner, &id.to_string(), usage, fee_event, now);
        let mut events = vec![
            NewEvent::new(Actor::User(owner.as_str().into()), action)
                .subject(serial.clone())
                .details(json!({
                    "certificate": id.to_string(),
                    "kind": kind.as_str(),
                    "usage": usage.as_str(),
                    "storage": storage.as_str(),
                    "not_after": row.not_after.to_rfc3339(),
                    "fee_krw": fee.as_ref().map_or(0, |f| f.amount_krw),
                    "replaces": predecessor.map(|(p, _)| p.serial_hex.clone()),
                })),
        ];
        // A reissue that revokes its predecessor re-signs the predecessor's OCSP answer first.
        let presigned = match &predecessor {
            Some((old, Predecessor::Reissued { revoke: true })) => {
                let status = super::ocsp::SerialStatus::Revoked {
                    at: now,
                    reason: RevocationReason::Superseded.into(),
                };
                self.presign_change(&old.serial_hex, status, now).await
            }
            _ => None,
        };
        let supersedes = matches!(
            predecessor,
            Some((_, Predecessor::Reissued { revoke: true }))
        );
        let txn = db.begin().await.map_err(StoreError::from)?;
        if let Some(prepared) = prepared {
            self.custody.persist_key(&txn, prepared).await?;
        }
        if let Some((old, how)) = predecessor {
            match how {
                Predecessor::Renewed => {
                    if !store::pki::mark_renewed(&txn, old.id, row.id, now).await? {
                        return Err(LifecycleError::AlreadyRenewed.into());
                    }
                }
                Predecessor::Reissued { revoke } => {
                    if revoke {
                        let reason = RevocationReason::Superseded;
                        if !store::pki::transition(
                            &txn,
                            old.id,
                            old.status,
                            CertStatus::Revoked,
                            store::pki::Revocation::Set(now, reason.into()),
                            now,
                        )
                        .await?
                        {
                            return Err(PkiError::Concurrent);
                        }
                        self.record_status_change(&txn, presigned.clone()).await?;
                        events.push(
                            NewEvent::new(
                                Actor::User(owner.as_str().into()),
                                Action::CertificateRevoked,
                            )
                            .subject(old.serial_hex.clone())
                            .details(json!({"reason": "superseded", "by": serial})),
                        );
                    }
                }
            }
        }
        store::pki::insert_certificate(&txn, row.clone()).await?;
        if let Some(fee) = fee {
            store::pki::insert_fee(&txn, fee).await?;
        }
        store::audit::append_within(&txn, now, &events).await?;
        txn.commit().await.map_err(StoreError::from)?;
        if supersedes {
            // The predecessor's status changed: this node's OCSP cache follows at once.
            store::pki::count_committed_revocation_change();
        }
        Ok(self.view(row))
    }

    /// Fees charged to `owner`.
    pub async fn fees(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
    ) -> Result<Vec<store::pki::FeeRow>, PkiError> {
        Ok(store::pki::fees_of(db, owner.as_str()).await?)
    }
}
