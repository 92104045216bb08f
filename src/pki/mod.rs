//! The certificate authority: CA hierarchy, certificate profiles, the certificate lifecycle
//! (issue, renew, reissue, revoke, suspend, resume, expire), fees, CRL and OCSP. No HTTP here.
//!
//! Every operation does its slow or fallible outside work first (KMS, key generation, signing)
//! and then writes its rows, fee and audit event in one transaction. Status publication reads
//! the database: OCSP answers from live status; the CRL is re-signed after every status change
//! and whenever the stored one nears its nextUpdate.

pub mod foreign;
pub mod lifecycle;
pub mod ocsp;
pub mod profile;
pub mod signer;
pub mod x509;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use der::{Decode, Encode};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose, RevokedCertParams,
    SerialNumber,
};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use self::{
    lifecycle::{CertStatus, LifecycleError, RevocationReason},
    profile::{CertKind, HolderName, ProfileError, Storage, Usage},
    signer::{CaSigner, SignerError},
    x509::X509Error,
};
use crate::{
    audit::{Action, Actor, NewEvent},
    clock::SharedClock,
    config::{KmsBackend, PkiSettings, Settings},
    custody::{Custody, CustodyError, OwnerId, PreparedKey, keys::KeyAlgorithm, kms::aws::AwsKms},
    domain::pin::Pin,
    store::{self, StoreError, pki::CertificateRow},
};

/// PKI failures.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The request does not fit a profile.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A CSR or certificate given to us was refused.
    #[error(transparent)]
    Input(#[from] X509Error),
    /// The lifecycle does not allow this now.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// No such certificate for this owner.
    #[error("no such certificate")]
    NotFound,
    /// The CA has not been set up (`fincert ca init`).
    #[error("the CA is not initialised; run `fincert ca init`")]
    NotInitialized,
    /// `ca init` on an initialised CA.
    #[error("the CA is already initialised")]
    AlreadyInitialized,
    /// The certificate changed concurrently; nothing was done.
    #[error("the certificate changed concurrently; retry")]
    Concurrent,
    /// The storage choice needs another key source (CSR for device, PIN for cloud).
    #[error("{0}")]
    KeySource(&'static str),
    /// Key custody failed.
    #[error(transparent)]
    Custody(#[from] CustodyError),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A CA key could not sign (KMS down).
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// A foreign certificate or PKCS#12 file was refused.
    #[error(transparent)]
    Foreign(#[from] foreign::ForeignError),
    /// Encoding failed (a bug).
    #[error("encoding failed: {0}")]
    Encoding(String),
}

fn enc(e: impl std::fmt::Display) -> PkiError {
    PkiError::Encoding(e.to_string())
}

/// One authority: its signer and certificate.
struct Authority {
    signer: Arc<CaSigner>,
    der: Vec<u8>,
    cert: x509_cert::Certificate,
}

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

/// A certificate as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateView {
    /// Id.
    pub id: Uuid,
    /// Kind.
    pub kind: CertKind,
    /// Usage.
    pub usage: Usage,
    /// Storage.
    pub storage: Storage,
    /// Status in force now.
    pub status: CertStatus,
    /// Serial (hex).
    pub serial: String,
    /// Subject common name.
    pub subject: String,
    /// Validity start.
    pub not_before: DateTime<Utc>,
    /// Validity end.
    pub not_after: DateTime<Utc>,
    /// Whether renewal is open now.
    pub renewal_open: bool,
    /// Seconds until `not_after` by the service clock (0 once past): what a countdown starts
    /// from, whatever the viewer's clock says.
    pub expires_in_secs: i64,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Custody key (cloud storage).
    #[serde(skip)]
    pub custody_key_id: Option<Uuid>,
    /// The certificate, DER.
    #[serde(skip)]
    pub der: Vec<u8>,
}

/// The certificate authority service.
pub struct Pki {
    root: Authority,
    issuing: Authority,
    responder: Authority,
    issuer_hashes: ocsp::IssuerHashes,
    settings: PkiSettings,
    user_algorithm: KeyAlgorithm,
    anchors: foreign::TrustAnchors,
    custody: Arc<Custody>,
    clock: SharedClock,
}

/// A registered foreign certificate as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ForeignView {
    /// Id.
    pub id: Uuid,
    /// Recognised usage.
    pub usage: Usage,
    /// `public` (certificate only) or `pkcs12` (key imported into custody).
    pub source: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial (hex).
    pub serial: String,
    /// Subject DN.
    pub subject: String,
    /// Validity end.
    pub not_after: DateTime<Utc>,
    /// Custody key (PKCS#12 imports).
    #[serde(skip)]
    pub custody_key_id: Option<Uuid>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("issuing", &self.issuing.signer)
            .finish_non_exhaustive()
    }
}

const ROOT: &str = "root";
const ISSUING: &str = "issuing";
const RESPONDER: &str = "ocsp";

fn dn(country_org: &str, common_name: &str, ou: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "KR");
    dn.push(DnType::OrganizationName, country_org);
    if let Some(ou) = ou {
        dn.push(DnType::OrganizationalUnitName, ou);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn parse_cert(der: &[u8]) -> Result<x509_cert::Certificate, PkiError> {
    x509_cert::Certificate::from_der(der).map_err(enc)
}

fn algorithm(name: &str) -> KeyAlgorithm {
    KeyAlgorithm::parse(name).unwrap_or(KeyAlgorithm::Rsa2048)
}

/// Public URLs of the published CA material.
pub mod urls {
    /// CA certificate (DER).
    pub fn ca(base: &str, name: &str) -> String {
        format!("{base}/pki/ca/{name}.crt")
    }
    /// The issuing CA's CRL (DER).
    pub fn crl(base: &str) -> String {
        format!("{base}/pki/crl/issuing.crl")
    }
    /// The OCSP responder.
    pub fn ocsp(base: &str) -> String {
        format!("{base}/pki/ocsp")
    }
}

impl Pki {
    /// Loads the CA, creating a development hierarchy first when none exists and
    /// `pki.auto_init` is on.
    pub async fn load_or_init(
        db: &DatabaseConnection,
        custody: Arc<Custody>,
        settings: &Settings,
        clock: SharedClock,
    ) -> Result<Self, PkiError> {
        if store::pki::authorities(db).await?.is_empty() {
            if !settings.pki.auto_init {
                return Err(PkiError::NotInitialized);
            }
            Self::init(db, &custody, settings, &clock).await?;
        }
        Self::load(db, custody, settings, clock).await
    }

    /// Creates the root CA, the issuing CA and the OCSP responder. Root and issuing keys are
    /// KMS asymmetric keys with the AWS backend, sealed service keys with the local one; the
    /// responder's key is always sealed (it signs every OCSP answer).
    pub async fn init(
        db: &DatabaseConnection,
        custody: &Arc<Custody>,
        settings: &Settings,
        clock: &SharedClock,
    ) -> Result<(), PkiError> {
        if !store::pki::authorities(db).await?.is_empty() {
            return Err(PkiError::AlreadyInitialized);
        }
        let pki = &settings.pki;
        let alg = algorithm(&pki.ca_algorithm);
        let now = clock.now();
        let base = pki.public_base_url.as_str();

        let mut prepared: Vec<PreparedKey> = Vec::new();
        let mut rows = Vec::new();
        let aws = aws_kms_if(settings.kms.backend == KmsBackend::Aws, settings).await?;
        // Root and issuing keys.
        let mut signers = Vec::new();
        for id in [ROOT, ISSUING] {
            let (signer, custody_key_id, kms_key_id) = match &aws {
                Some(aws) => {
                    let key_id = create_kms_signing_key(aws, alg, id).await?;
                    (
                        CaSigner::kms(aws.clone(), key_id.clone(), alg).await?,
                        None,
                        Some(key_id),
                    )
                }
                None => {
                    let owner = OwnerId::parse(&format!("ca:{id}")).map_err(PkiError::Custody)?;
                    let key = custody.prepare_service_key(&owner, alg).await?;
                    let signer =
                        CaSigner::sealed(key_from_prepared(custody, &key, db, &owner).await?)?;
                    let key_id = key.info.id.to_string();
                    prepared.push(key);
                    (signer, Some(key_id), None)
                }
            };
            signers.push((id, Arc::new(signer), custody_key_id, kms_key_id));
        }
        let owner = OwnerId::parse("ca:ocsp").map_err(PkiError::Custody)?;
        let responder_key = custody.prepare_service_key(&owner, alg).await?;
        let responder_signer = Arc::new(CaSigner::sealed(
            key_from_prepared(custody, &responder_key, db, &owner).await?,
        )?);
        let responder_key_id = responder_key.info.id.to_string();
        prepared.push(responder_key);

        let org = pki.organization.clone();
        let root_signer = signers[0].1.clone();
        let issuing_signer = signers[1].1.clone();
        let nb = x509::to_offset(now);

        // Root: self-signed, 20 years, may sign one level of CAs.
        let mut root = CertificateParams::default();
        root.distinguished_name = dn(&org, &format!("{org} Root CA"), None);
        root.not_before = nb;
        root.not_after = x509::to_offset(now + Duration::days(365 * 20));
        root.serial_number = Some(SerialNumber::from_slice(&x509::random_serial()?));
        root.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
        root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let root_der = root_signer
            .run_blocking(move |s| root.self_signed(s).map(|c| c.der().to_vec()))
            .await?
            .map_err(enc)?;

        // Issuing CA: 10 years, signs end-entity certificates, CRLs and the responder.
        let mut issuing = CertificateParams::default();
        issuing.distinguished_name = dn(&org, &format!("{org} Issuing CA 1"), None);
        issuing.not_before = nb;
        issuing.not_after = x509::to_offset(now + Duration::days(365 * 10));
        issuing.serial_number = Some(SerialNumber::from_slice(&x509::random_serial()?));
        issuing.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        issuing.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        issuing.use_authority_key_identifier_extension = true;
        issuing
            .custom_extensions
            .push(x509::aia_extension(None, &urls::ca(base, ROOT))?);
        let issuing_der = sign_with(
            &root_signer,
            &root_der,
            issuing,
            issuing_signer.spki_der().to_vec(),
        )
        .await?;

        // Delegated OCSP responder: 1 year (re-made by `ca init`-time tooling later), OCSPSigning.
        let mut responder = CertificateParams::default();
        responder.distinguished_name = dn(&org, &format!("{org} OCSP Responder"), None);
        responder.not_before = nb;
        responder.not_after = x509::to_offset(now + Duration::days(365 * 3));
        responder.serial_number = Some(SerialNumber::from_slice(&x509::random_serial()?));
        responder.is_ca = IsCa::ExplicitNoCa;
        responder.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        responder.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
        responder.use_authority_key_identifier_extension = true;
        responder
            .custom_extensions
            .push(x509::ocsp_nocheck_extension());
        let responder_der = sign_with(
            &issuing_signer,
            &issuing_der,
            responder,
            responder_signer.spki_der().to_vec(),
        )
        .await?;

        for ((id, _, custody_key_id, kms_key_id), der) in
            signers.into_iter().zip([root_der, issuing_der])
        {
            rows.push(store::pki::AuthorityRow {
                id: id.into(),
                algorithm: alg.as_str().into(),
                key_kind: if kms_key_id.is_some() {
                    "kms".into()
                } else {
                    "sealed".into()
                },
                custody_key_id,
                kms_key_id,
                certificate_der: der,
                created_at: now,
            });
        }
        rows.push(store::pki::AuthorityRow {
            id: RESPONDER.into(),
            algorithm: alg.as_str().into(),
            key_kind: "sealed".into(),
            custody_key_id: Some(responder_key_id),
            kms_key_id: None,
            certificate_der: responder_der,
            created_at: now,
        });
        let txn = db.begin().await.map_err(StoreError::from)?;
        for key in prepared {
            custody.persist_key(&txn, key).await?;
        }
        for row in rows {
            store::pki::insert_authority(&txn, row).await?;
        }
        let event = NewEvent::new(Actor::System, Action::CaInitialized).details(
            json!({"algorithm": alg.as_str(), "kms": settings.kms.backend == KmsBackend::Aws}),
        );
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        tracing::info!(algorithm = alg.as_str(), "CA initialised");
        Ok(())
    }

    /// Loads the CA hierarchy and opens its keys.
    pub async fn load(
        db: &DatabaseConnection,
        custody: Arc<Custody>,
        settings: &Settings,
        clock: SharedClock,
    ) -> Result<Self, PkiError> {
        let rows = store::pki::authorities(db).await?;
        let find = |id: &str| {
            rows.iter()
                .find(|r| r.id == id)
                .cloned()
                .ok_or(PkiError::NotInitialized)
        };
        let aws = aws_kms_if(rows.iter().any(|r| r.key_kind == "kms"), settings).await?;
        let mut open = Vec::new();
        for id in [ROOT, ISSUING, RESPONDER] {
            let row = find(id)?;
            let alg = algorithm(&row.algorithm);
            let signer = match (&row.kms_key_id, &row.custody_key_id, &aws) {
                (Some(kms_key), _, Some(aws)) => {
                    CaSigner::kms(aws.clone(), kms_key.clone(), alg).await?
                }
                (_, Some(key_id), _) => {
                    let owner = OwnerId::parse(&format!("ca:{id}")).map_err(PkiError::Custody)?;
                    let key_id = Uuid::parse_str(key_id).map_err(enc)?;
                    CaSigner::sealed(custody.open_service_key(db, &owner, key_id).await?)?
                }
                _ => return Err(PkiError::NotInitialized),
            };
            let cert = parse_cert(&row.certificate_der)?;
            open.push(Authority {
                signer: Arc::new(signer),
                der: row.certificate_der,
                cert,
            });
        }
        let responder = open.pop().ok_or(PkiError::NotInitialized)?;
        let issuing = open.pop().ok_or(PkiError::NotInitialized)?;
        let root = open.pop().ok_or(PkiError::NotInitialized)?;
        let issuer_hashes = ocsp::IssuerHashes::of(&issuing.cert).map_err(enc)?;
        let anchors = foreign::TrustAnchors::load_dir(&settings.trust_anchors_path())
            .map_err(PkiError::Encoding)?;
        if !anchors.is_empty() {
            tracing::info!(
                count = anchors.len(),
                "trust anchors for foreign certificates loaded"
            );
        }
        Ok(Self {
            root,
            issuing,
            responder,
            issuer_hashes,
            settings: settings.pki.clone(),
            user_algorithm: algorithm(&settings.pki.user_key_algorithm),
            anchors,
            custody,
            clock,
        })
    }

    /// The chain above the certificates this CA issues: the issuing CA, then the root (DER).
    pub fn chain_of(&self, _leaf: &[u8]) -> Vec<Vec<u8>> {
        vec![self.issuing.der.clone(), self.root.der.clone()]
    }

    /// A published CA certificate by name (`root`, `issuing`, `ocsp`).
    pub fn ca_certificate(&self, name: &str) -> Option<&[u8]> {
        match name {
            ROOT => Some(&self.root.der),
            ISSUING => Some(&self.issuing.der),
            RESPONDER => Some(&self.responder.der),
            _ => None,
        }
    }

    /// The profile's certificate parameters for a holder.
    fn leaf_params(
        &self,
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
        p.key_identifier_method = KeyIdMethod::Sha256;
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
            (Storage::Device, KeySource::Device(csr)) => Ok((None, x509::check_csr(csr)?.spki_der)),
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
        req.kind.check_storage(storage)?;
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
    async fn create(
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
        let (prepared, spki) = self.key_for(owner, storage, key).await?;
        let now = self.clock.now();
        let params = self.leaf_params(kind, usage, common_name, now)?;
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
            id: id.to_string(),
            owner_id: owner.as_str().into(),
            kind: kind.as_str().into(),
            usage: usage.as_str().into(),
            storage: storage.as_str().into(),
            status: CertStatus::Active.as_str().into(),
            serial_hex: serial.clone(),
            subject: common_name.into(),
            not_before: DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now),
            not_after: DateTime::from_timestamp(not_after.timestamp(), 0).unwrap_or(not_after),
            issuer_id: ISSUING.into(),
            custody_key_id: custody_key_id.map(|k| k.to_string()),
            certificate_der: der,
            revoked_at: None,
            revocation_reason: None,
            replaces_id: predecessor.map(|(p, _)| p.id.clone()),
            renewed_by_id: None,
            created_at: now,
            updated_at: now,
        };
        let fee = self.fee_row(owner, &row.id, usage, fee_event, now);
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
        let txn = db.begin().await.map_err(StoreError::from)?;
        if let Some(prepared) = prepared {
            self.custody.persist_key(&txn, prepared).await?;
        }
        let mut revoked_predecessor = false;
        if let Some((old, how)) = predecessor {
            match how {
                Predecessor::Renewed => {
                    if !store::pki::mark_renewed(&txn, &old.id, &row.id, now).await? {
                        return Err(LifecycleError::AlreadyRenewed.into());
                    }
                }
                Predecessor::Reissued { revoke } => {
                    if revoke {
                        let reason = RevocationReason::Superseded;
                        if !store::pki::transition(
                            &txn,
                            &old.id,
                            &old.status,
                            "revoked",
                            store::pki::Revocation::Set(now, i32::from(reason.code())),
                            now,
                        )
                        .await?
                        {
                            return Err(PkiError::Concurrent);
                        }
                        revoked_predecessor = true;
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
        store::audit::append(&txn, now, &events).await?;
        txn.commit().await.map_err(StoreError::from)?;
        if revoked_predecessor {
            self.publish_crl_logged(db).await;
        }
        Ok(self.view(row))
    }

    fn view(&self, row: CertificateRow) -> CertificateView {
        let now = self.clock.now();
        let status = CertStatus::parse(&row.status)
            .unwrap_or(CertStatus::Revoked)
            .at(row.not_after, now);
        let renewal_open = lifecycle::check_renew(
            status,
            row.not_after,
            now,
            self.settings.renewal_window_days,
            row.renewed_by_id.is_some(),
        )
        .is_ok();
        let issuer = x509_parser::parse_x509_certificate(&row.certificate_der)
            .map(|(_, c)| c.issuer().to_string())
            .unwrap_or_default();
        CertificateView {
            expires_in_secs: (row.not_after - now).num_seconds().max(0),
            issuer,
            id: Uuid::parse_str(&row.id).unwrap_or_default(),
            kind: CertKind::parse(&row.kind).unwrap_or(CertKind::Financial),
            usage: Usage::parse(&row.usage).unwrap_or(Usage::Restricted),
            storage: Storage::parse(&row.storage).unwrap_or(Storage::Cloud),
            status,
            serial: row.serial_hex,
            subject: row.subject,
            not_before: row.not_before,
            not_after: row.not_after,
            renewal_open,
            custody_key_id: row.custody_key_id.and_then(|k| Uuid::parse_str(&k).ok()),
            der: row.certificate_der,
        }
    }

    async fn find(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<CertificateRow, PkiError> {
        store::pki::certificate_of(db, owner.as_str(), &id.to_string())
            .await?
            .ok_or(PkiError::NotFound)
    }

    /// A certificate of `owner`.
    pub async fn certificate(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<CertificateView, PkiError> {
        Ok(self.view(self.find(db, owner, id).await?))
    }

    /// Every certificate of `owner`, newest first.
    pub async fn certificates(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
    ) -> Result<Vec<CertificateView>, PkiError> {
        Ok(store::pki::certificates_of(db, owner.as_str())
            .await?
            .into_iter()
            .map(|r| self.view(r))
            .collect())
    }

    /// Renews: only when at most the renewal window remains; a new key (the same PIN, which
    /// must open the current key) or a new CSR, a new serial, the same subject. The old
    /// certificate stays valid until it expires.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), certificate = %id))]
    pub async fn renew(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        key: KeySource<'_>,
    ) -> Result<CertificateView, PkiError> {
        let old = self.find(db, owner, id).await?;
        let status = CertStatus::parse(&old.status).ok_or(PkiError::NotFound)?;
        lifecycle::check_renew(
            status,
            old.not_after,
            self.clock.now(),
            self.settings.renewal_window_days,
            old.renewed_by_id.is_some(),
        )?;
        let storage = Storage::parse(&old.storage).ok_or(PkiError::NotFound)?;
        if let (KeySource::Cloud(pin), Some(key_id)) = (&key, &old.custody_key_id) {
            // The PIN must open the current key: that is the holder's authentication.
            let key_id = Uuid::parse_str(key_id).map_err(enc)?;
            let act = self
                .custody
                .activate_with_pin(db, owner, key_id, pin, Some(1))
                .await?;
            self.custody.activations().remove(act.id);
        }
        let kind = CertKind::parse(&old.kind).ok_or(PkiError::NotFound)?;
        let usage = Usage::parse(&old.usage).ok_or(PkiError::NotFound)?;
        let subject = old.subject.clone();
        self.create(
            db,
            owner,
            kind,
            usage,
            storage,
            &subject,
            &key,
            Some((&old, Predecessor::Renewed)),
            Action::CertificateRenewed,
            "renew",
        )
        .await
    }

    /// Reissues (after expiry, loss, lockout or a forgotten PIN; the caller has verified the
    /// holder's identity again): a new key and certificate; a live old one is revoked as
    /// superseded in the same transaction.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str(), certificate = %id))]
    pub async fn reissue(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        key: KeySource<'_>,
    ) -> Result<CertificateView, PkiError> {
        let old = self.find(db, owner, id).await?;
        let status = CertStatus::parse(&old.status).ok_or(PkiError::NotFound)?;
        let revoke = lifecycle::reissue_revokes(status, old.not_after, self.clock.now());
        let kind = CertKind::parse(&old.kind).ok_or(PkiError::NotFound)?;
        let usage = Usage::parse(&old.usage).ok_or(PkiError::NotFound)?;
        let storage = match key {
            KeySource::Cloud(_) => Storage::Cloud,
            KeySource::Device(_) => Storage::Device,
        };
        kind.check_storage(storage)?;
        let subject = old.subject.clone();
        self.create(
            db,
            owner,
            kind,
            usage,
            storage,
            &subject,
            &key,
            Some((&old, Predecessor::Reissued { revoke })),
            Action::CertificateReissued,
            "reissue",
        )
        .await
    }

    async fn change_status(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        change: StatusChange,
    ) -> Result<CertificateView, PkiError> {
        let StatusChange {
            check,
            to,
            mark,
            action,
            details,
        } = change;
        let row = self.find(db, owner, id).await?;
        let now = self.clock.now();
        let status = CertStatus::parse(&row.status).ok_or(PkiError::NotFound)?;
        check(status, row.not_after, now)?;
        let revocation = match mark {
            Mark::Revoked(code) => store::pki::Revocation::Set(now, code),
            Mark::Cleared => store::pki::Revocation::Clear,
        };
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !store::pki::transition(&txn, &row.id, &row.status, to.as_str(), revocation, now).await?
        {
            return Err(PkiError::Concurrent);
        }
        let event = NewEvent::new(Actor::User(owner.as_str().into()), action)
            .subject(row.serial_hex.clone())
            .details(details);
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.publish_crl_logged(db).await;
        self.certificate(db, owner, id).await
    }

    /// Revokes for good (RFC 5280 reason).
    pub async fn revoke(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        reason: RevocationReason,
    ) -> Result<CertificateView, PkiError> {
        let change = StatusChange {
            check: lifecycle::check_revoke,
            to: CertStatus::Revoked,
            mark: Mark::Revoked(i32::from(reason.code())),
            action: Action::CertificateRevoked,
            details: json!({"reason": reason}),
        };
        self.change_status(db, owner, id, change).await
    }

    /// Suspends (certificateHold on CRL and OCSP).
    pub async fn suspend(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<CertificateView, PkiError> {
        let change = StatusChange {
            check: lifecycle::check_suspend,
            to: CertStatus::Suspended,
            mark: Mark::Revoked(6),
            action: Action::CertificateSuspended,
            details: json!({}),
        };
        self.change_status(db, owner, id, change).await
    }

    /// Resumes a suspended certificate.
    pub async fn resume(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<CertificateView, PkiError> {
        let change = StatusChange {
            check: lifecycle::check_resume,
            to: CertStatus::Active,
            mark: Mark::Cleared,
            action: Action::CertificateResumed,
            details: json!({}),
        };
        self.change_status(db, owner, id, change).await
    }

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
        let leaf = der_or_pem(certificate).ok_or(foreign::ForeignError::Malformed)?;
        let validated = foreign::validate(
            &leaf,
            intermediates,
            &self.anchors,
            self.clock.now(),
            &self.settings.policy_arc,
        )?;
        self.store_foreign(db, owner, leaf, validated, None, "public")
            .await
    }

    /// Imports a PKCS#12 file into the cloud keystore: the key is re-sealed under KMS bound to
    /// `pin`; the file and its password are used in memory only and never stored.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str()))]
    pub async fn import_pkcs12(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        p12: &[u8],
        password: &str,
        pin: &Pin,
    ) -> Result<ForeignView, PkiError> {
        // The PKCS#12 KDFs and the key parse are CPU work (a file may ask for millions of
        // iterations): the blocking pool does them, never an async worker.
        let (p12, password) = (p12.to_vec(), zeroize::Zeroizing::new(password.to_owned()));
        let (contents, algorithm, spki) = tokio::task::spawn_blocking(move || {
            let contents = foreign::open_pkcs12(&p12, &password)?;
            let (algorithm, spki) = [KeyAlgorithm::Rsa2048, KeyAlgorithm::P256]
                .into_iter()
                .find_map(|alg| {
                    let key =
                        crate::custody::keys::SigningKey::from_pkcs8(alg, &contents.pkcs8).ok()?;
                    Some((alg, key.public_key_der().ok()?))
                })
                .ok_or(foreign::ForeignError::KeyMismatch)?;
            Ok::<_, foreign::ForeignError>((contents, algorithm, spki))
        })
        .await
        .map_err(|_| foreign::ForeignError::Pkcs12Unreadable)??;
        let position = contents
            .certs
            .iter()
            .position(|c| {
                x509_parser::parse_x509_certificate(c)
                    .is_ok_and(|(_, cert)| cert.public_key().raw == spki.as_slice())
            })
            .ok_or(foreign::ForeignError::KeyMismatch)?;
        let leaf = contents.certs[position].clone();
        let others: Vec<Vec<u8>> = contents
            .certs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != position)
            .map(|(_, c)| c.clone())
            .collect();
        let validated = foreign::validate(
            &leaf,
            &others,
            &self.anchors,
            self.clock.now(),
            &self.settings.policy_arc,
        )?;
        if store::pki::foreign_exists(
            db,
            owner.as_str(),
            &validated.issuer_dn,
            &validated.serial_hex,
        )
        .await?
        {
            return Err(foreign::ForeignError::AlreadyRegistered.into());
        }
        let prepared = self
            .custody
            .prepare_imported_key(owner, algorithm, contents.pkcs8, pin)
            .await?;
        self.store_foreign(db, owner, leaf, validated, Some(prepared), "pkcs12")
            .await
    }

    async fn store_foreign(
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
            id: id.to_string(),
            owner_id: owner.as_str().into(),
            usage: v.usage.as_str().into(),
            source: source.into(),
            issuer_dn: v.issuer_dn.clone(),
            serial_hex: v.serial_hex.clone(),
            subject: v.subject.clone(),
            not_before: v.not_before,
            not_after: v.not_after,
            certificate_der: leaf,
            chain_der: v.chain_der,
            custody_key_id: custody_key_id.map(|k| k.to_string()),
            created_at: now,
        };
        let event = NewEvent::new(Actor::User(owner.as_str().into()), Action::ForeignCertificateRegistered)
            .subject(v.serial_hex.clone())
            .details(json!({"certificate": id.to_string(), "issuer": v.issuer_dn, "usage": v.usage.as_str(), "source": source}));
        let txn = db.begin().await.map_err(StoreError::from)?;
        if let Some(key) = key {
            self.custody.persist_key(&txn, key).await?;
        }
        store::pki::insert_foreign(&txn, row).await?;
        store::audit::append(&txn, now, &[event]).await?;
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
                id: Uuid::parse_str(&r.id).unwrap_or_default(),
                usage: Usage::parse(&r.usage).unwrap_or(Usage::Restricted),
                source: r.source,
                issuer: r.issuer_dn,
                serial: r.serial_hex,
                subject: r.subject,
                not_after: r.not_after,
                custody_key_id: r.custody_key_id.and_then(|k| Uuid::parse_str(&k).ok()),
            })
            .collect())
    }

    /// Fees charged to `owner`.
    pub async fn fees(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
    ) -> Result<Vec<store::pki::FeeRow>, PkiError> {
        Ok(store::pki::fees_of(db, owner.as_str()).await?)
    }

    async fn publish_crl_logged(&self, db: &DatabaseConnection) {
        if let Err(e) = self.publish_crl(db).await {
            // OCSP already answers from live status; the scheduled run retries the CRL.
            tracing::error!(error = %e, "CRL publication failed; will retry");
        }
    }

    /// Signs and stores a fresh CRL of the issuing CA; returns its DER.
    pub async fn publish_crl(&self, db: &DatabaseConnection) -> Result<Vec<u8>, PkiError> {
        let now = self.clock.now();
        let entries = store::pki::revoked_for_crl(db, ISSUING, now).await?;
        let number = store::pki::latest_crl(db, ISSUING)
            .await?
            .map_or(1, |(n, ..)| n + 1);
        let next_update = now + Duration::hours(i64::from(self.settings.crl_validity_hours));
        let mut revoked = Vec::with_capacity(entries.len());
        for e in &entries {
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&hex::decode(&e.serial_hex).map_err(enc)?),
                revocation_time: x509::to_offset(e.revoked_at.unwrap_or(e.updated_at)),
                reason_code: Some(crl_reason(e.revocation_reason.unwrap_or(0))),
                invalidity_date: None,
            });
        }
        let params = CertificateRevocationListParams {
            this_update: x509::to_offset(now),
            next_update: x509::to_offset(next_update),
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let ca_der = self.issuing.der.clone();
        let der = self
            .issuing
            .signer
            .run_blocking(move |s| {
                let issuer = Issuer::from_ca_cert_der(&ca_der.into(), s).map_err(enc)?;
                params
                    .signed_by(&issuer)
                    .map(|c| c.der().to_vec())
                    .map_err(enc)
            })
            .await??;
        let this = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let next = DateTime::from_timestamp(next_update.timestamp(), 0).unwrap_or(next_update);
        let txn = db.begin().await.map_err(StoreError::from)?;
        store::pki::insert_crl(&txn, ISSUING, number, this, next, der.clone()).await?;
        let event = NewEvent::new(Actor::System, Action::CrlPublished)
            .details(json!({"issuer": ISSUING, "number": number, "entries": entries.len()}));
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(der)
    }

    /// The current CRL: the stored one while it has over a quarter of its validity left,
    /// else a freshly signed one. Concurrent requests may all decide to publish; the CRL number
    /// is the primary key, so one wins and the others serve the winner's CRL.
    pub async fn current_crl(&self, db: &DatabaseConnection) -> Result<Vec<u8>, PkiError> {
        let now = self.clock.now();
        if let Some((_, this, next, der)) = store::pki::latest_crl(db, ISSUING).await?
            && now < next - (next - this) / 4
        {
            return Ok(der);
        }
        match self.publish_crl(db).await {
            Ok(der) => Ok(der),
            Err(PkiError::Store(e)) => match store::pki::latest_crl(db, ISSUING).await? {
                // Someone else published one since we looked: that is the current CRL.
                Some((_, this, next, der)) if now < next && this <= now => Ok(der),
                _ => Err(PkiError::Store(e)),
            },
            Err(e) => Err(e),
        }
    }

    /// Answers a DER OCSP request with a DER OCSP response (never fails: errors become
    /// `malformedRequest`, `tryLater` or `internalError` responses).
    pub async fn ocsp(&self, db: &DatabaseConnection, request: &[u8]) -> Vec<u8> {
        let Some(parsed) = ocsp::parse_request(request) else {
            return ocsp::malformed();
        };
        let now = self.clock.now();
        let mut statuses = Vec::with_capacity(parsed.ids.len());
        for id in &parsed.ids {
            let status = match ocsp::serial_if_ours(&self.issuer_hashes, id) {
                None => ocsp::SerialStatus::Unknown,
                Some(serial) => match store::pki::certificate_by_serial(db, &serial).await {
                    Err(_) => return ocsp::try_later(),
                    Ok(None) => ocsp::SerialStatus::Unknown,
                    Ok(Some(row)) => match CertStatus::parse(&row.status) {
                        Some(CertStatus::Revoked | CertStatus::Suspended) => {
                            ocsp::SerialStatus::Revoked {
                                at: row.revoked_at.unwrap_or(row.updated_at),
                                reason: u8::try_from(row.revocation_reason.unwrap_or(0))
                                    .unwrap_or(0),
                            }
                        }
                        Some(_) => ocsp::SerialStatus::Good,
                        None => ocsp::SerialStatus::Unknown,
                    },
                },
            };
            statuses.push(status);
        }
        let validity = Duration::minutes(i64::from(self.settings.ocsp_validity_minutes));
        let Some(data) =
            ocsp::response_data(&parsed, &statuses, &self.responder.cert, now, validity)
        else {
            return ocsp::internal_error();
        };
        let Ok(tbs) = data.to_der() else {
            return ocsp::internal_error();
        };
        let signer = self.responder.signer.clone();
        let signature = match signer.run_blocking(move |s| s.sign_message(&tbs)).await {
            Ok(Ok(sig)) => sig,
            _ => return ocsp::try_later(),
        };
        ocsp::assemble(
            data,
            signature,
            self.responder.signer.signature_oid(),
            &self.responder.cert,
        )
        .unwrap_or_else(|_| ocsp::internal_error())
    }

    /// The periodic lifecycle job: marks certificates past their validity as expired, records
    /// a renewal notice for each certificate entering its renewal window (each audited), and
    /// refreshes the CRL when it nears its nextUpdate. Runs on one node at a time (a
    /// PostgreSQL advisory lock); returns what it did, or `None` if another node holds the job.
    pub async fn run_lifecycle_job(
        &self,
        db: &DatabaseConnection,
    ) -> Result<Option<JobReport>, PkiError> {
        const JOB_LOCK: i64 = 0x6669_6e63_0001; // "finc" + job 1
        let now = self.clock.now();
        let window_end = now + Duration::days(i64::from(self.settings.renewal_window_days));
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !store::pki::try_job_lock(&txn, JOB_LOCK).await? {
            return Ok(None);
        }
        let expired = store::pki::expire_due(&txn, now, 1000).await?;
        let notices = store::pki::record_renewal_notices(&txn, now, window_end, 1000).await?;
        let mut events: Vec<_> = expired
            .iter()
            .map(|r| {
                NewEvent::new(Actor::System, Action::CertificateExpired)
                    .subject(r.serial_hex.clone())
                    .details(json!({"certificate": r.id}))
            })
            .collect();
        events.extend(notices.iter().map(|r| {
            NewEvent::new(Actor::System, Action::RenewalNoticeRecorded)
                .subject(r.serial_hex.clone())
                .details(json!({"certificate": r.id, "owner": r.owner_id, "not_after": r.not_after.to_rfc3339()}))
        }));
        store::audit::append(&txn, now, &events).await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.current_crl(db).await?;
        Ok(Some(JobReport {
            expired: expired.len(),
            renewal_notices: notices.len(),
        }))
    }

    /// Checks that a certificate may sign now (active: not suspended, revoked or expired) and
    /// returns its custody key. Every signing path goes through here first.
    pub async fn signing_key(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<Uuid, PkiError> {
        let view = self.certificate(db, owner, id).await?;
        if view.status != CertStatus::Active {
            return Err(LifecycleError::NotAllowed {
                status: view.status.as_str(),
                action: "used to sign",
            }
            .into());
        }
        view.custody_key_id.ok_or(PkiError::KeySource(
            "this certificate's key is on the holder's device",
        ))
    }
}

/// A status change: its rule, target, revocation fields and audit event.
struct StatusChange {
    check: fn(CertStatus, DateTime<Utc>, DateTime<Utc>) -> Result<(), LifecycleError>,
    to: CertStatus,
    mark: Mark,
    action: Action,
    details: serde_json::Value,
}

/// What a status change writes into the revocation fields.
enum Mark {
    /// Revocation time = now, with this RFC 5280 reason code (6 = certificateHold).
    Revoked(i32),
    /// Cleared (resumed from hold).
    Cleared,
}

/// What one run of the lifecycle job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobReport {
    /// Certificates marked expired.
    pub expired: usize,
    /// Renewal notices recorded.
    pub renewal_notices: usize,
}

#[derive(Clone, Copy)]
enum Predecessor {
    Renewed,
    Reissued { revoke: bool },
}

/// An AWS KMS client for CA keys, when `needed`.
async fn aws_kms_if(needed: bool, settings: &Settings) -> Result<Option<AwsKms>, PkiError> {
    if !needed {
        return Ok(None);
    }
    AwsKms::connect(&settings.kms)
        .await
        .map(Some)
        .map_err(|e| PkiError::Custody(CustodyError::Kms(e)))
}

/// DER as is, or the first CERTIFICATE block of PEM.
fn der_or_pem(input: &[u8]) -> Option<Vec<u8>> {
    if input.starts_with(b"-----BEGIN") {
        x509_parser::pem::Pem::iter_from_buffer(input)
            .flatten()
            .find(|p| p.label == "CERTIFICATE")
            .map(|p| p.contents)
    } else {
        Some(input.to_vec())
    }
}

fn crl_reason(code: i32) -> rcgen::RevocationReason {
    use rcgen::RevocationReason as R;
    match code {
        1 => R::KeyCompromise,
        2 => R::CaCompromise,
        3 => R::AffiliationChanged,
        4 => R::Superseded,
        5 => R::CessationOfOperation,
        6 => R::CertificateHold,
        9 => R::PrivilegeWithdrawn,
        _ => R::Unspecified,
    }
}

/// Signs `params` for the public key `spki` with an issuer's key, on a blocking thread.
async fn sign_with(
    signer: &Arc<CaSigner>,
    issuer_der: &[u8],
    params: CertificateParams,
    spki: Vec<u8>,
) -> Result<Vec<u8>, PkiError> {
    let issuer_der = issuer_der.to_vec();
    signer
        .run_blocking(move |s| {
            let issuer = Issuer::from_ca_cert_der(&issuer_der.into(), s).map_err(enc)?;
            let public = rcgen::SubjectPublicKeyInfo::from_der(&spki).map_err(enc)?;
            params
                .signed_by(&public, &issuer)
                .map(|c| c.der().to_vec())
                .map_err(enc)
        })
        .await?
}

/// Opens a prepared-but-not-persisted service key: it has to sign (its own certificate, the
/// next level) before the transaction that stores it.
async fn key_from_prepared(
    custody: &Custody,
    prepared: &PreparedKey,
    _db: &DatabaseConnection,
    _owner: &OwnerId,
) -> Result<crate::custody::keys::SigningKey, PkiError> {
    Ok(custody.unseal_prepared(prepared).await?)
}

async fn create_kms_signing_key(
    aws: &AwsKms,
    alg: KeyAlgorithm,
    name: &str,
) -> Result<String, PkiError> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let spec = match alg {
        KeyAlgorithm::Rsa2048 => KeySpec::Rsa2048,
        KeyAlgorithm::P256 => KeySpec::EccNistP256,
    };
    let out = aws
        .client()
        .create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .description(format!("fincert {name} CA"))
        .send()
        .await
        .map_err(|e| {
            PkiError::Signer(SignerError(format!(
                "CreateKey: {}",
                aws_sdk_kms::error::DisplayErrorContext(e)
            )))
        })?;
    out.key_metadata
        .map(|m| m.key_id)
        .ok_or_else(|| PkiError::Signer(SignerError("CreateKey returned no key".into())))
}
