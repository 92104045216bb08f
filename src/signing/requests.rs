//! Signature requests from institutions, and the authorization table they pass.

use super::*;

impl Signing {
    /// Finds the certificate a request names and checks the authorization table: live
    /// consent (else 404), usage, status, key in the cloud, PIN not locked, algorithm.
    pub(super) async fn resolve(
        &self,
        caller: &Caller,
        target: &Target,
        algorithm: Option<Algorithm>,
    ) -> Result<(store::pki::CertificateRow, Option<Uuid>, Algorithm), SigningError> {
        // Reads only: on a reader beside the writer (SQLite WAL), not queued behind a commit.
        let db = &self.reads;
        let inst = &caller.institution.id;
        let consent = match target {
            Target::Certificate(id) => db::live_consent(db, inst, &id.to_string()).await?,
            Target::User(user_ref) => {
                let mut newest = None;
                for c in db::live_consents_by_ref(db, inst, user_ref).await? {
                    let active = store::pki::certificate_by_id(db, &c.certificate_id)
                        .await?
                        .is_some_and(|cert| {
                            cert.kind == CertKind::Financial
                                && cert.status.at(cert.not_after, self.clock.now())
                                    == CertStatus::Active
                        });
                    if active {
                        newest = Some(c);
                        break;
                    }
                }
                newest
            }
        }
        .ok_or(SigningError::NotFound)?;
        let cert = store::pki::certificate_by_id(db, &consent.certificate_id)
            .await?
            .ok_or(SigningError::NotFound)?;
        // A service token sees its holder's credentials only.
        if caller.user.as_ref().is_some_and(|u| cert.owner_id != *u) {
            return Err(SigningError::NotFound);
        }
        let (key, key_algorithm) = self
            .check_usable(db, caller.institution.sector, &cert)
            .await?;
        let algorithm = algorithm.unwrap_or(request::default_algorithm(key_algorithm));
        if algorithm.scheme().key_algorithm() != key_algorithm {
            return Err(SigningError::Algorithm(algorithm.as_str()));
        }
        Ok((cert, key, algorithm))
    }

    /// The authorization table for one certificate at the caller's institution — live
    /// consent (else 404), usage, status, key in the cloud, PIN not locked — answered from
    /// this node's cache when it holds a fresh positive answer (see `checks`), from the
    /// database otherwise. Expiry by time is checked on every use.
    pub(crate) async fn usable_for(
        &self,
        institution: &db::InstitutionRow,
        certificate_id: &str,
    ) -> Result<Usable, SigningError> {
        // A read: on a reader beside the writer (SQLite WAL), not queued behind a commit.
        let db = &self.reads;
        let key = (institution.id.clone(), certificate_id.to_owned());
        let now = self.clock.now();
        if let Some(u) = self.usable.get(&key) {
            if now < u.not_after {
                return Ok(u);
            }
            self.usable.forget(&key);
        }
        let tag = self.usable.begin();
        db::live_consent(db, &institution.id, certificate_id)
            .await?
            .ok_or(SigningError::NotFound)?;
        let cert = store::pki::certificate_by_id(db, certificate_id)
            .await?
            .ok_or(SigningError::NotFound)?;
        let (key_id, algorithm) = self.check_usable(db, institution.sector, &cert).await?;
        let usable = Usable {
            owner: cert.owner_id,
            key: key_id,
            algorithm,
            serial_hex: cert.serial_hex,
            not_after: cert.not_after,
            certificate_der: Arc::new(cert.certificate_der),
            foreign_chain: cert.foreign_chain.map(Arc::new),
        };
        self.usable.put(tag, key, usable.clone());
        Ok(usable)
    }

    /// Usage, status and PIN checks shared by creation, approval and CSC signing; returns the
    /// custody key (`None`: the key is on the holder's device, which signs itself) and the
    /// key's algorithm.
    pub(super) async fn check_usable(
        &self,
        db: &DatabaseConnection,
        sector: Sector,
        cert: &store::pki::CertificateRow,
    ) -> Result<(Option<Uuid>, crate::custody::keys::KeyAlgorithm), SigningError> {
        if !request::usage_allows(cert.usage, sector) {
            return Err(SigningError::Usage(sector.as_str()));
        }
        let status = cert.status.at(cert.not_after, self.clock.now());
        if status != CertStatus::Active {
            return Err(SigningError::CertificateNotUsable(status.as_str()));
        }
        if cert.storage == Storage::Device && cert.custody_key_id.is_none() {
            return Ok((None, device::key_algorithm(&cert.certificate_der)?));
        }
        let (key, algorithm, locked) = self.cloud_key(db, cert).await?;
        if locked {
            return Err(SigningError::PinLocked);
        }
        Ok((Some(key), algorithm))
    }

    /// A certificate's custody key (`DeviceKey` when its key is on the holder's device), the
    /// key's algorithm and whether its PIN is locked.
    pub(super) async fn cloud_key(
        &self,
        db: &DatabaseConnection,
        cert: &store::pki::CertificateRow,
    ) -> Result<(Uuid, crate::custody::keys::KeyAlgorithm, bool), SigningError> {
        let key = cert.custody_key_id.ok_or(SigningError::DeviceKey)?;
        let (algorithm, locked) = self.custody.key_status(db, &cert.owner_id, key).await?;
        Ok((key, algorithm, locked))
    }

    /// The most signatures one approval (one key activation) may make: the request limit,
    /// capped by custody's activation limit.
    pub fn max_batch(&self) -> u32 {
        u32::try_from(request::MAX_DIGESTS)
            .unwrap_or(u32::MAX)
            .min(self.custody.activations().max_signatures())
    }

    /// Creates a signature request (rate-limited per institution). With `answer` (the
    /// `Idempotency-Key` claim it runs under and the status it answers with), the request and
    /// its answer under the key commit together: a retry finds either both or neither.
    pub async fn create_request(
        &self,
        caller: &Caller,
        new: NewRequest,
        answer: Option<(store::idempotency::Claimed, u16)>,
    ) -> Result<RequestView, SigningError> {
        caller.require("sign")?;
        if new.digests.len() > self.max_batch() as usize {
            return Err(RequestError::Invalid(format!(
                "digests must hold at most {} items (the signatures one approval may make)",
                self.max_batch()
            ))
            .into());
        }
        let now = self.clock.now();
        self.count_hit(
            &format!("sign:institution:{}", caller.institution.id),
            rate_limit::Limit {
                max: self.settings.requests_per_institution_per_minute,
                window_secs: 60,
            },
        )
        .await??;
        let (cert, key, algorithm) = self.resolve(caller, &new.target, new.algorithm).await?;
        if key.is_none() && new.format == Format::Raw && new.content.is_none() {
            return Err(SigningError::DeviceNeedsContent);
        }
        let id = Uuid::new_v4();
        let expires_at = now + new.expires_in;
        let canonical = Canonical {
            id,
            institution_id: &caller.institution.id,
            certificate_id: cert.id,
            purpose: new.purpose,
            display_text: &new.display_text,
            digests: &new.digests,
            format: new.format,
            algorithm,
            expires_at,
        }
        .digest();
        let row = db::RequestRow {
            id,
            institution_id: caller.institution.id.clone(),
            user_id: cert.owner_id.clone(),
            certificate_id: cert.id,
            purpose: new.purpose,
            display_text: new.display_text.clone(),
            digests: new.digests.clone(),
            content: new.content.clone(),
            algorithm,
            format: new.format,
            canonical_digest: canonical.as_bytes().to_vec(),
            status: Status::Pending,
            created_at: now,
            expires_at,
            decided_at: None,
            result: None,
            webhook_url: new.webhook_url.clone(),
        };
        let event = NewEvent::new(
            Actor::Institution(caller.institution.id.clone()),
            Action::SignatureRequested,
        )
        .subject(row.id.to_string())
        .details(json!({
            "certificate": cert.serial_hex,
            "purpose": row.purpose.as_str(),
            "digests": new.digests.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
            "format": row.format.as_str(),
            "algorithm": row.algorithm.as_str(),
            "request_digest": canonical.to_hex(),
        }));
        let view = self.request_view(row.clone())?;
        let reply = match answer {
            Some((claimed, status)) => Some(Box::new(store::idempotency::Reply {
                claimed,
                status,
                body: serde_json::to_string(&view).map_err(|_| SigningError::Random)?,
            })),
            None => None,
        };
        // Through the group commit: concurrent creations share one transaction and fsync.
        let change = super::commit::Change::CreateRequest {
            row: Box::new(row),
            reply,
        };
        match self.committer.commit(change, vec![event]).await? {
            super::commit::Outcome::Done => Ok(view),
            // Its Idempotency-Key was taken over by a retry: that one creates the request.
            _ => Err(SigningError::ClaimLost),
        }
    }

    /// Creates a login-with-certificate request: the user signs a fresh 32-byte nonce.
    pub async fn create_login(
        &self,
        caller: &Caller,
        target: Target,
        expires_in: Duration,
        answer: Option<(store::idempotency::Claimed, u16)>,
    ) -> Result<RequestView, SigningError> {
        let mut nonce = vec![0u8; 32];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SigningError::Random)?;
        let digest = Digest::of(&nonce);
        let new = NewRequest {
            target,
            purpose: Purpose::Login,
            content: Some(nonce),
            digests: vec![digest],
            display_text: format!("Sign in to {}", caller.institution.name),
            format: Format::Raw,
            algorithm: None,
            expires_in,
            webhook_url: None,
        };
        self.create_request(caller, new, answer).await
    }

    /// A request of this institution (404 for any other's).
    pub async fn request_for(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        id: Uuid,
    ) -> Result<RequestView, SigningError> {
        let row = db::request(db, &id.to_string())
            .await?
            .filter(|r| r.institution_id == caller.institution.id)
            .ok_or(SigningError::NotFound)?;
        self.request_view(row)
    }

    /// One of the institution's requests as `GET /v1/signature-requests/{id}` answers it: once
    /// signed, its result carries the signer's validation material, built now (after the
    /// signature's commit, OCSP status read from the database).
    pub async fn request_with_material(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        id: Uuid,
    ) -> Result<RequestView, SigningError> {
        let mut view = self.request_for(db, caller, id).await?;
        if let Some(result) = view.result.as_mut() {
            let cert = store::pki::certificate_by_id(db, &view.certificate_id)
                .await?
                .ok_or(SigningError::NotFound)?;
            result.validation_info = Some(
                self.validation_info(
                    db,
                    &cert.certificate_der,
                    &cert.serial_hex,
                    cert.foreign_chain.as_deref(),
                )
                .await?,
            );
        }
        Ok(view)
    }

    /// The validation material of a certificate (this CA's, or an imported one's chain), as
    /// the wire carries it. Call it only after the signature's commit.
    pub(super) async fn validation_info(
        &self,
        db: &DatabaseConnection,
        der: &[u8],
        serial: &str,
        foreign_chain: Option<&[Vec<u8>]>,
    ) -> Result<ValidationInfo, SigningError> {
        let material = self
            .pki
            .validation_material(db, der, serial, foreign_chain)
            .await
            .map_err(|e| match e {
                PkiError::Signer(e) => {
                    tracing::warn!(error = %e, "the OCSP responder key could not sign");
                    SigningError::Store(StoreError::Unavailable(sea_orm::DbErr::Custom(
                        "the OCSP responder key could not sign".into(),
                    )))
                }
                other => other.into(),
            })?;
        let b64 = |items: Vec<Vec<u8>>| items.iter().map(|d| STANDARD.encode(d)).collect();
        Ok(ValidationInfo {
            certificates: b64(material.certificates),
            crl: b64(material.crls),
            ocsp: b64(material.ocsp),
        })
    }

    pub(super) fn request_view(&self, row: db::RequestRow) -> Result<RequestView, SigningError> {
        let now = self.clock.now();
        Ok(RequestView {
            id: row.id.to_string(),
            status: row.status.at(row.expires_at, now),
            purpose: row.purpose,
            certificate_id: row.certificate_id.to_string(),
            display_text: row.display_text,
            digests: row.digests.iter().map(|d| d.to_b64()).collect(),
            format: row.format,
            algorithm: row.algorithm,
            request_digest: STANDARD.encode(&row.canonical_digest),
            created_at: row.created_at,
            expires_at: row.expires_at,
            decided_at: row.decided_at,
            nonce: (row.purpose == Purpose::Login)
                .then(|| row.content.as_deref().map(|c| STANDARD.encode(c)))
                .flatten(),
            result: row.result,
        })
    }
}
