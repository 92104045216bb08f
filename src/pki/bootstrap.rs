//! Setting up and opening the CA hierarchy: `ca init` (root, issuing CA, OCSP responder, their
//! keys and certificates, in one transaction), loading it at start-up, and the published CA
//! certificates and chain.

use std::sync::Arc;

use chrono::Duration;
use der::Decode;
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose,
    SerialNumber,
};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::{
    Authority, ISSUING, Pki, PkiError, RESPONDER, ROOT, enc, foreign, ocsp, ocsp_cache,
    signer::{CaKeyStores, NewCaKey, StoredKey, sign_with},
    urls,
    x509::{self, dn},
};
use crate::{
    audit::{Action, Actor, NewEvent},
    clock::SharedClock,
    config::{KmsBackend, Settings},
    custody::{Custody, PreparedKey, keys::KeyAlgorithm},
    store::{self, StoreError},
};

fn parse_cert(der: &[u8]) -> Result<x509_cert::Certificate, PkiError> {
    x509_cert::Certificate::from_der(der).map_err(enc)
}

fn algorithm(name: &str) -> KeyAlgorithm {
    KeyAlgorithm::parse(name).unwrap_or(KeyAlgorithm::Rsa2048)
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
    /// the existing KMS asymmetric keys `pki.aws_root_key_id` and `pki.aws_issuing_key_id` with
    /// the AWS backend (checked, never created), new sealed service keys with the local one;
    /// the responder's key is always sealed (it signs every OCSP answer).
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
        let stores = CaKeyStores::connect(
            settings.kms.backend == KmsBackend::Aws,
            settings,
            custody.clone(),
        )
        .await?;
        // Root and issuing keys.
        let mut signers = Vec::new();
        for id in [ROOT, ISSUING] {
            let NewCaKey { signer, stored } = stores.for_ca_keys().create(id, alg).await?;
            let (key_kind, custody_key_id, kms_key_id) = (
                stored.key_kind(),
                stored.custody_key_id(),
                stored.kms_key_id(),
            );
            if let StoredKey::Sealed(key) = stored {
                prepared.push(*key);
            }
            signers.push((id, Arc::new(signer), key_kind, custody_key_id, kms_key_id));
        }
        if signers[0].4.is_some() && signers[0].4 == signers[1].4 {
            // Two names (an alias and an id) for one key: the issuing CA must not be the root.
            return Err(PkiError::CaKey {
                setting: "pki.aws_issuing_key_id",
                problem: "names the same KMS key as pki.aws_root_key_id".into(),
            });
        }
        let NewCaKey { signer, stored } = stores.for_responder().create(RESPONDER, alg).await?;
        let responder_signer = Arc::new(signer);
        let responder_key_id = stored.custody_key_id();
        if let StoredKey::Sealed(key) = stored {
            prepared.push(*key);
        }

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
        root.key_identifier_method = x509::key_id_method(root_signer.spki_der())?;
        // RFC 5280 lets a self-signed root omit it; path builders and linters that treat the
        // root as an issuer → subject pair of its own want it (it repeats the subject key id).
        root.use_authority_key_identifier_extension = true;
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
        issuing.key_identifier_method = x509::key_id_method(issuing_signer.spki_der())?;
        // Full-chain revocation: the root's CRL (ARL) and where to fetch the root. The root
        // answers no OCSP (see `arl`): its ARL is the issuing CA's status.
        issuing.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: vec![urls::arl(base)],
        }];
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
        responder.key_identifier_method = x509::key_id_method(responder_signer.spki_der())?;
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

        for ((id, _, key_kind, custody_key_id, kms_key_id), der) in
            signers.into_iter().zip([root_der, issuing_der])
        {
            rows.push(store::pki::AuthorityRow {
                id: id.into(),
                algorithm: alg,
                key_kind: key_kind.into(),
                custody_key_id,
                kms_key_id,
                certificate_der: der,
                created_at: now,
                revoked_at: None,
                revocation_reason: None,
            });
        }
        rows.push(store::pki::AuthorityRow {
            id: RESPONDER.into(),
            algorithm: alg,
            key_kind: "sealed".into(),
            custody_key_id: responder_key_id,
            kms_key_id: None,
            certificate_der: responder_der,
            created_at: now,
            revoked_at: None,
            revocation_reason: None,
        });
        let txn = db.begin().await.map_err(StoreError::from)?;
        for key in prepared {
            custody.persist_key(&txn, key).await?;
        }
        for row in rows {
            store::pki::insert_authority(&txn, row).await?;
        }
        let event = NewEvent::new(Actor::System, Action::CaInitialized).details(
            json!({"algorithm": alg.as_str(), "kms": settings.kms.backend == KmsBackend::Aws,
                   "hsm": settings.kms.backend == KmsBackend::Pkcs11 && settings.pki.pkcs11_ca_keys}),
        );
        store::audit::append_within(&txn, now, &[event]).await?;
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
        let stores = CaKeyStores::connect(
            rows.iter().any(|r| r.key_kind == "kms"),
            settings,
            custody.clone(),
        )
        .await?;
        let mut open = Vec::new();
        for id in [ROOT, ISSUING, RESPONDER] {
            let row = find(id)?;
            let signer = stores.holding(&row)?.open(db, &row, row.algorithm).await?;
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
            ocsp_cache: ocsp_cache::OcspCache::with_trust(
                ISSUING,
                settings.pki.ocsp_cache_entries,
                settings.pki.ocsp_unknown_cache_entries,
                settings
                    .pki
                    .ocsp_poll_trust_for_tests
                    .unwrap_or(crate::signing::checks::STALE_AFTER),
            ),
            arl_lock: tokio::sync::Mutex::new(()),
            settings: settings.pki.clone(),
            user_algorithm: algorithm(&settings.pki.user_key_algorithm),
            anchors,
            custody,
            clock,
        })
    }

    /// The chain above a certificate (DER, leaf's issuer first): for one this CA issued the
    /// issuing CA, then the root; for an imported one of another CA (`foreign_chain`, see
    /// `CertificateRow::foreign_chain`) the intermediates it was validated through.
    pub fn chain_of(&self, foreign_chain: Option<&[Vec<u8>]>) -> Vec<Vec<u8>> {
        match foreign_chain {
            Some(chain) => chain.to_vec(),
            None => vec![self.issuing.der.clone(), self.root.der.clone()],
        }
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
}
