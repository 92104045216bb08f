//! Approvals by users: PIN or passkey bound to the canonical digest, signing, commit.

use super::*;

/// The custody key a PIN or passkey approval opens: none for a device-kept certificate, whose
/// holder signs on the device (`POST /v1/approvals/{id}/device`).
fn cloud(usable: &Usable) -> Result<Uuid, SigningError> {
    usable.key.ok_or(SigningError::DeviceKey)
}

/// What a holder's approval answers: the signed request and, when the same PIN renewed the
/// certificate, the new one.
#[derive(Debug, Clone)]
pub struct Approved {
    /// The request, signed.
    pub request: RequestView,
    /// The certificate the approval renewed (automatic renewal), if it did.
    pub renewed: Option<crate::pki::CertificateView>,
}

impl Signing {
    /// The user's pending requests (from institutions whose consent is still live).
    pub async fn pending(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
    ) -> Result<Vec<ApprovalView>, SigningError> {
        let mut out = Vec::new();
        for row in db::pending_of_user(db, owner.as_str(), self.clock.now()).await? {
            if db::live_consent(db, &row.institution_id, &row.certificate_id.to_string())
                .await?
                .is_some()
            {
                out.push(self.approval_view(db, row).await?);
            }
        }
        Ok(out)
    }

    /// One of the user's requests.
    pub async fn approval(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<ApprovalView, SigningError> {
        let row = self.own_request(owner, id).await?;
        self.approval_view(db, row).await
    }

    pub(super) async fn approval_view(
        &self,
        db: &DatabaseConnection,
        row: db::RequestRow,
    ) -> Result<ApprovalView, SigningError> {
        let inst = db::institution(db, &row.institution_id)
            .await?
            .ok_or(SigningError::InstitutionNotFound)?;
        let now = self.clock.now();
        Ok(ApprovalView {
            id: row.id.to_string(),
            institution: InstitutionSummary {
                id: inst.id,
                name: inst.name,
                sector: inst.sector.as_str().to_owned(),
            },
            certificate_id: row.certificate_id.to_string(),
            display_text: row.display_text,
            purpose: row.purpose,
            digest_count: row.digests.len(),
            digests: row.digests.iter().map(|d| d.to_b64()).collect(),
            format: row.format,
            algorithm: row.algorithm,
            request_digest: STANDARD.encode(&row.canonical_digest),
            status: row.status.at(row.expires_at, now),
            expires_at: row.expires_at,
            expires_in_secs: (row.expires_at - now).num_seconds().max(0),
        })
    }

    pub(super) async fn own_request(
        &self,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<db::RequestRow, SigningError> {
        // A read: on a reader beside the writer (SQLite WAL), not queued behind a commit.
        let db = &self.reads;
        db::request(db, &id.to_string())
            .await?
            .filter(|r| r.user_id == *owner)
            .ok_or(SigningError::NotFound)
    }

    /// Loads a pending request of the user and re-checks everything that may have changed
    /// since it was made: still pending, consent still live, certificate still usable, and the
    /// stored content still hashing to the digest it was created with.
    pub(super) async fn approvable(
        &self,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<(db::RequestRow, Usable), SigningError> {
        let row = self.own_request(owner, id).await?;
        let status = row.status.at(row.expires_at, self.clock.now());
        if status != Status::Pending {
            return Err(SigningError::NotPending(status.as_str()));
        }
        if canonical(&row).as_bytes().as_slice() != row.canonical_digest.as_slice() {
            tracing::error!(request = %row.id, "stored request no longer matches its digest");
            return Err(SigningError::Mismatch);
        }
        let inst = match self.caller(&row.institution_id, "").await {
            Ok(c) => c.institution,
            Err(SigningError::InstitutionNotFound | SigningError::InstitutionDisabled) => {
                return Err(SigningError::NotFound);
            }
            Err(e) => return Err(e),
        };
        let usable = self
            .usable_for(&inst, &row.certificate_id.to_string())
            .await?;
        if usable.owner != *owner {
            return Err(SigningError::NotFound);
        }
        Ok((row, usable))
    }

    /// Approves with the certificate's PIN. `request_digest` is the canonical digest the
    /// user's device showed and approved; it must equal the request's. Inside the renewal
    /// window, with the holder's automatic renewal on, the same PIN also renews the certificate
    /// (`Approved::renewed`; see `pki::auto_renew`).
    pub async fn approve_with_pin(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        pin: &Pin,
        request_digest: &Digest,
    ) -> Result<Approved, SigningError> {
        let (row, usable) = self.approvable(owner, id).await?;
        if constant_time::verify_slices_are_equal(request_digest.as_bytes(), &row.canonical_digest)
            .is_err()
        {
            self.approval_failed(db, owner, &row, "request digest mismatch")
                .await?;
            return Err(SigningError::Mismatch);
        }
        let count = u32::try_from(row.digests.len()).unwrap_or(u32::MAX);
        let activation = match self
            .custody
            .activate_once(db, owner, cloud(&usable)?, Unlock::Pin(pin), Some(count))
            .await
        {
            Ok(a) => a,
            Err(e) => {
                if matches!(e, CustodyError::WrongPin { .. } | CustodyError::PinLocked) {
                    self.approval_failed(db, owner, &row, "PIN").await?;
                }
                return Err(e.into());
            }
        };
        let certificate_id = row.certificate_id;
        let request = self
            .sign_and_commit(owner, row, &usable, activation, "pin")
            .await?;
        let renewed = self.renew_on_use(db, owner, certificate_id, pin).await;
        Ok(Approved { request, renewed })
    }

    /// The automatic renewal a PIN use carries, after the signature committed: a failure is
    /// logged and leaves the signature standing (the next use tries again).
    pub(super) async fn renew_on_use(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        certificate_id: Uuid,
        pin: &Pin,
    ) -> Option<crate::pki::CertificateView> {
        match self
            .pki
            .renew_on_use(db, &self.reads, owner, certificate_id, pin)
            .await
        {
            // The old certificate stays usable until it expires: no cached answer changes.
            Ok(renewed) => renewed,
            Err(e) => {
                tracing::warn!(error = %e, certificate = %certificate_id, "automatic renewal failed; tried again on the next use");
                None
            }
        }
    }

    /// Starts a passkey approval: a WebAuthn challenge that commits to the request's
    /// canonical digest, offered to the passkeys bound to the certificate's key.
    pub async fn start_passkey_approval(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<Ceremony<webauthn_rs::prelude::RequestChallengeResponse>, SigningError> {
        let (row, usable) = self.approvable(owner, id).await?;
        let mut nonce = [0u8; 16];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SigningError::Random)?;
        let canonical = Digest::from_slice(&row.canonical_digest)?;
        let challenge = request::approval_challenge(&canonical, &nonce);
        let binding = format!("{}:{}", row.id, hex::encode(nonce));
        Ok(self
            .passkeys
            .start_bound_authentication(
                db,
                owner,
                cloud(&usable)?,
                APPROVE_CEREMONY,
                &binding,
                challenge,
            )
            .await?)
    }

    /// Finishes a passkey approval: the assertion must answer the challenge recomputed from
    /// the request as it is now, and the passkey must hold a copy of the key's data key.
    pub async fn approve_with_passkey(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
        ceremony: &str,
        credential: &webauthn_rs::prelude::PublicKeyCredential,
        prf: Option<&str>,
    ) -> Result<Approved, SigningError> {
        let (row, usable) = self.approvable(owner, id).await?;
        let canonical = Digest::from_slice(&row.canonical_digest)?;
        // The ceremony was bound to "<request id>:<nonce>": it must be this request's, and
        // its challenge must be the one this request's digest (as stored now) gives.
        let expected = |binding: &str| {
            let (request_id, nonce) = binding.split_once(':')?;
            let nonce = hex::decode(nonce).ok()?;
            (request_id == row.id.to_string())
                .then(|| request::approval_challenge(&canonical, &nonce))
        };
        let (signer, credential_id, prf) = match self
            .passkeys
            .finish_bound_authentication(db, ceremony, APPROVE_CEREMONY, expected, credential, prf)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.approval_failed(db, owner, &row, "passkey").await?;
                return Err(e.into());
            }
        };
        if signer != *owner {
            return Err(SigningError::NotFound);
        }
        let count = u32::try_from(row.digests.len()).unwrap_or(u32::MAX);
        let activation = self
            .custody
            .activate_once(
                db,
                owner,
                cloud(&usable)?,
                Unlock::Passkey(&credential_id, prf.as_ref()),
                Some(count),
            )
            .await?;
        // No automatic renewal: the new key's PIN slot needs the PIN (see `pki::auto_renew`).
        let request = self
            .sign_and_commit(owner, row, &usable, activation, "passkey")
            .await?;
        Ok(Approved {
            request,
            renewed: None,
        })
    }

    /// The user declines a request.
    pub async fn reject(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: Uuid,
    ) -> Result<RequestView, SigningError> {
        let row = self.own_request(owner, id).await?;
        let now = self.clock.now();
        let event = NewEvent::new(owner.actor(), Action::SignatureRejected)
            .subject(row.id.to_string())
            .details(json!({"institution": row.institution_id}));
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !db::decide(&txn, row.id, Status::Rejected, None, now).await? {
            let status = row.status.at(row.expires_at, now);
            return Err(SigningError::NotPending(status.as_str()));
        }
        store::audit::append_within(&txn, now, &[event]).await?;
        let mut decided = row.clone();
        decided.status = Status::Rejected;
        decided.decided_at = Some(now);
        let view = self.request_view(decided)?;
        self.enqueue_webhook(&txn, &row, "signature_request.rejected", &view, now)
            .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(view)
    }

    pub(super) async fn approval_failed(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        row: &db::RequestRow,
        reason: &str,
    ) -> Result<(), SigningError> {
        let event = NewEvent::new(owner.actor(), Action::SignatureApprovalFailed)
            .subject(row.id.to_string())
            .details(json!({"reason": reason}));
        store::audit::append(db, self.clock.now(), &[event]).await?;
        Ok(())
    }

    /// Signs every digest with the activation, wipes it, and commits the result, the request's
    /// change to `signed` (single-use), the activation's and the signature's audit events and
    /// the webhook in one transaction. Nothing is returned or kept unless that commit succeeds;
    /// an activation whose output is not delivered is still audited.
    pub(super) async fn sign_and_commit(
        &self,
        owner: &OwnerId,
        row: db::RequestRow,
        cert: &Usable,
        (activation, activated): (ActivationInfo, NewEvent),
        amr: &str,
    ) -> Result<RequestView, SigningError> {
        let now = self.clock.now();
        let chain = self
            .pki
            .chain_of(cert.foreign_chain.as_deref().map(Vec::as_slice));
        let signed = self.produce(
            owner,
            activation.id,
            &row,
            &cert.certificate_der,
            &chain,
            now,
        );
        self.custody.activations().remove(activation.id);
        let count = |result| {
            self.signatures
                .observe(row.algorithm, row.format, result, row.digests.len())
        };
        let signatures = match signed {
            Ok(s) => s,
            Err(e) => {
                count(SignatureResult::Failed);
                self.audit_unused(activated).await?;
                return Err(e);
            }
        };
        let result = SignedResult {
            signatures,
            certificate: STANDARD.encode(cert.certificate_der.as_slice()),
            chain: chain.iter().map(|c| STANDARD.encode(c)).collect(),
            signed_at: now,
            validation_info: None,
        };
        let event = NewEvent::new(owner.actor(), Action::SignatureCreated)
            .subject(row.id.to_string())
            .details(json!({
                "institution": row.institution_id,
                "certificate": cert.serial_hex,
                "digests": row.digests.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
                "format": row.format.as_str(),
                "algorithm": row.algorithm.as_str(),
                "amr": amr,
            }));
        let mut decided = row.clone();
        decided.status = Status::Signed;
        decided.decided_at = Some(now);
        decided.result = Some(result.clone());
        let view = self.request_view(decided)?;
        let change = commit::Change::Decide {
            request_id: row.id,
            status: Status::Signed,
            result: Some(Box::new(result)),
            delivery: webhook_delivery(&row, "signature_request.signed", &view, now).map(Box::new),
        };
        let committed = self
            .committer
            .commit(change, vec![activated.clone(), event])
            .await;
        count(match &committed {
            Ok(commit::Outcome::Skipped) => SignatureResult::Refused,
            Ok(_) => SignatureResult::Ok,
            Err(_) => SignatureResult::Failed,
        });
        match committed? {
            commit::Outcome::Skipped => {
                // Decided meanwhile: the signatures are dropped, the activation is on record.
                self.audit_unused(activated).await?;
                Err(SigningError::NotPending("decided"))
            }
            _ => Ok(view),
        }
    }

    /// Writes the `key.activated` event of an activation whose output was not delivered.
    async fn audit_unused(&self, activated: NewEvent) -> Result<(), SigningError> {
        self.committer
            .commit(commit::Change::Audit, vec![activated])
            .await?;
        Ok(())
    }

    /// The signatures (raw or CMS) of every digest, base64.
    pub(super) fn produce(
        &self,
        owner: &OwnerId,
        activation: Uuid,
        request: &db::RequestRow,
        cert_der: &[u8],
        chain: &[Vec<u8>],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, SigningError> {
        let scheme = request.algorithm.scheme();
        let content = request.content.as_deref();
        let chain: Vec<&[u8]> = chain.iter().take(1).map(Vec::as_slice).collect();
        request
            .digests
            .iter()
            .map(|d| {
                let out = match request.format {
                    Format::Raw => {
                        self.custody
                            .sign_digest(owner, activation, scheme, d.as_bytes())?
                    }
                    Format::CmsAttached | Format::CmsDetached | Format::CmsPades => {
                        // PAdES: the PDF's signature dictionary carries the time, not the CMS.
                        let time = (request.format != Format::CmsPades).then_some(now);
                        let (attrs, der) = cms::signed_attributes(d, time, cert_der)?;
                        let sig = self.custody.sign(owner, activation, scheme, &der)?;
                        let embed = (request.format == Format::CmsAttached)
                            .then_some(content)
                            .flatten();
                        cms::assemble(attrs, sig, request.algorithm, cert_der, &chain, embed)?
                    }
                };
                Ok(STANDARD.encode(out))
            })
            .collect()
    }

    pub(super) async fn enqueue_webhook<C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
        row: &db::RequestRow,
        event: &str,
        view: &RequestView,
        now: DateTime<Utc>,
    ) -> Result<(), SigningError> {
        if let Some(d) = webhook_delivery(row, event, view, now) {
            db::insert_delivery(conn, &d, now).await?;
        }
        Ok(())
    }

    /// The delivery log of a request's webhooks (its institution only).
    pub async fn deliveries(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Vec<webhook::DeliveryView>, SigningError> {
        self.request_for(db, caller, id).await?;
        Ok(db::deliveries_of_request(db, &id.to_string())
            .await?
            .into_iter()
            .map(webhook::DeliveryView::from)
            .collect())
    }
}
