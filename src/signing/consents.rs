//! Users' consents: registering a certificate with an institution, and withdrawing it.

use super::*;

impl Signing {
    /// Institutions a user may register a certificate with.
    pub async fn directory(
        &self,
        db: &DatabaseConnection,
    ) -> Result<Vec<InstitutionSummary>, SigningError> {
        Ok(db::institutions(db)
            .await?
            .into_iter()
            .filter(|r| r.status == InstitutionStatus::Active)
            .map(|r| InstitutionSummary {
                id: r.id,
                name: r.name,
                sector: r.sector.as_str().to_owned(),
            })
            .collect())
    }

    /// The user consents that `institution` may request signatures with `certificate`.
    pub async fn consent(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        institution_id: &str,
        certificate_id: Uuid,
    ) -> Result<ConsentView, SigningError> {
        let inst = db::institution(db, institution_id)
            .await?
            .filter(|r| r.status == InstitutionStatus::Active)
            .ok_or(SigningError::InstitutionNotFound)?;
        let cert = self.pki.certificate(db, owner, certificate_id).await?;
        if cert.status != CertStatus::Active {
            return Err(SigningError::CertificateNotUsable(cert.status.as_str()));
        }
        // A device-kept certificate's holder signs in the browser (`approve_with_device`).
        if cert.custody_key_id.is_none() && cert.storage != Storage::Device {
            return Err(SigningError::DeviceKey);
        }
        if !request::usage_allows(cert.usage, inst.sector) {
            return Err(SigningError::Usage(inst.sector.as_str()));
        }
        if db::live_consent(db, &inst.id, &certificate_id.to_string())
            .await?
            .is_some()
        {
            return Err(SigningError::ConsentExists);
        }
        let now = self.clock.now();
        let row = db::ConsentRow {
            id: Uuid::new_v4().to_string(),
            institution_id: inst.id.clone(),
            user_id: owner.as_str().to_owned(),
            user_ref: user_ref(&inst.id, owner),
            certificate_id: certificate_id.to_string(),
            created_at: now,
            withdrawn_at: None,
        };
        let event = NewEvent::new(owner.actor(), Action::ConsentGranted)
            .subject(cert.serial.clone())
            .details(json!({"institution": inst.id, "consent": row.id}));
        let txn = db.begin().await.map_err(StoreError::from)?;
        db::insert_consent(&txn, &row).await?;
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(consent_view(row, &inst))
    }

    /// A user's consents (live ones, or all).
    pub async fn consents(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        include_withdrawn: bool,
    ) -> Result<Vec<ConsentView>, SigningError> {
        let mut out = Vec::new();
        for row in db::consents_of_user(db, owner.as_str(), include_withdrawn).await? {
            if let Some(inst) = db::institution(db, &row.institution_id).await? {
                out.push(consent_view(row, &inst));
            }
        }
        Ok(out)
    }

    /// Withdraws a consent: from now on the institution cannot see or use the certificate.
    /// Pending requests of that institution for that certificate can no longer be approved.
    pub async fn withdraw(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        consent_id: &str,
    ) -> Result<(), SigningError> {
        let now = self.clock.now();
        let txn = db.begin().await.map_err(StoreError::from)?;
        let row = db::withdraw_consent(&txn, owner.as_str(), consent_id, now)
            .await?
            .ok_or(SigningError::NotFound)?;
        let event = NewEvent::new(owner.actor(), Action::ConsentWithdrawn)
            .subject(row.certificate_id.clone())
            .details(json!({"institution": row.institution_id, "consent": row.id}));
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// The certificates an institution may use (its live consents).
    pub async fn consented_certificates(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
    ) -> Result<Vec<ConsentedCertificate>, SigningError> {
        let now = self.clock.now();
        let mut out = Vec::new();
        for consent in db::consents_of_institution(db, &caller.institution.id).await? {
            if let Some(cert) = store::pki::certificate_by_id(db, &consent.certificate_id).await?
                && caller.user.as_ref().is_none_or(|u| cert.owner_id == *u)
            {
                let status = cert.status.at(cert.not_after, now);
                out.push(ConsentedCertificate {
                    certificate_id: cert.id.to_string(),
                    user_ref: consent.user_ref,
                    subject: cert.subject,
                    serial: cert.serial_hex,
                    kind: cert.kind.as_str().to_owned(),
                    usage: cert.usage.as_str().to_owned(),
                    status: status.as_str().into(),
                    not_after: cert.not_after,
                    certificate: STANDARD.encode(&cert.certificate_der),
                });
            }
        }
        Ok(out)
    }
}
