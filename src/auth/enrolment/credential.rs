//! Step 4, credential: the applicant's choice (kind, usage, PIN or CSR, the certificate a
//! reissuance replaces) and issuance. The step is claimed before issuing, so it runs once; if
//! issuance fails the claim is given back.

use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;

use super::{EnrolError, Enrolments, Step, StepError};
use crate::{
    audit::{Action, Actor, NewEvent},
    store,
};

/// What the applicant chooses in the last step.
pub struct CredentialChoice<'a> {
    /// Financial or joint.
    pub kind: crate::pki::profile::CertKind,
    /// Restricted-use or general-purpose.
    pub usage: crate::pki::profile::Usage,
    /// The new PIN (cloud key).
    pub pin: Option<&'a str>,
    /// A PKCS#10 request (joint certificate kept on a device).
    pub csr: Option<&'a [u8]>,
    /// For reissuance: the certificate being replaced.
    pub replaces: Option<Uuid>,
    /// The fee the applicant agreed to (KRW); a general-purpose certificate is issued (or
    /// reissued) only when it is the current fee.
    pub fee_confirmed_krw: Option<u32>,
}

/// What the last step returns (written as `proto::enrolment::Completed`).
#[derive(Debug, Clone)]
pub struct Completed {
    /// The new certificate.
    pub certificate: crate::pki::CertificateView,
    /// A session for the new holder (cloud keys; device keys sign on the device).
    pub session: Option<crate::auth::tokens::TokenPair>,
}

impl Enrolments {
    /// Step 4: the credential and issuance (or reissuance). The PIN may not be trivial nor the
    /// holder's birth date. The step is claimed first, so it runs once; if issuance fails the
    /// claim is given back.
    pub async fn complete(
        &self,
        db: &DatabaseConnection,
        pki: &crate::pki::Pki,
        tokens: &crate::auth::tokens::TokenService,
        id: &str,
        choice: CredentialChoice<'_>,
    ) -> Result<Completed, EnrolError> {
        use crate::{
            domain::pin::Pin,
            pki::{IssueRequest, KeySource, profile::HolderName},
        };
        let row = self.load(db, id, Step::Credential).await?;
        if row.purpose == super::Purpose::PinReset {
            return Err(EnrolError::Credential(
                "a PIN reset issues nothing; it ends with POST /v1/enrolments/{id}/pin-reset",
            ));
        }
        let owner = self.user_of(&row).await?;
        let (name, birth) = store::enrolment::user_profile(db, owner.as_str())
            .await?
            .ok_or(EnrolError::NotFound)?;
        let pin = match choice.pin {
            Some(p) => Some(Pin::parse_new(p, Some(birth))?),
            None => None,
        };
        let key = match (&pin, choice.csr) {
            (Some(pin), None) => KeySource::Cloud(pin),
            (None, Some(csr)) => KeySource::Device(csr),
            _ => {
                return Err(EnrolError::Credential(
                    "give a PIN (cloud key) or a CSR (device key), not both",
                ));
            }
        };
        let reissue = row.purpose == super::Purpose::Reissue;
        if reissue != choice.replaces.is_some() {
            return Err(EnrolError::Credential(
                "a reissuance names the certificate it replaces; an issuance does not",
            ));
        }
        let holder = HolderName::parse(&name).map_err(crate::pki::PkiError::from)?;
        // The charge this records must be the one the applicant confirmed (a reissuance is of
        // the replaced certificate's usage). Refused before the step is claimed: the applicant
        // confirms and sends again.
        let usage = match choice.replaces {
            Some(old) => pki.certificate(db, &owner, old).await?.usage,
            None => choice.usage,
        };
        pki.check_fee_confirmed(usage, choice.fee_confirmed_krw)?;
        let now = self.clock.now();
        if !store::enrolment::advance(db, id, Step::Credential, Step::Completed, now).await? {
            return Err(StepError::WrongStep {
                requested: "credential",
                actual: "completed",
            }
            .into());
        }
        let issued = match choice.replaces {
            Some(old) => pki.reissue(db, &owner, old, key).await,
            None => {
                pki.issue(
                    db,
                    IssueRequest {
                        owner: owner.clone(),
                        holder,
                        kind: choice.kind,
                        usage: choice.usage,
                        key,
                    },
                )
                .await
            }
        };
        let certificate = match issued {
            Ok(c) => c,
            Err(e) => {
                let _ =
                    store::enrolment::advance(db, id, Step::Completed, Step::Credential, now).await;
                return Err(e.into());
            }
        };
        let session = if pin.is_some() {
            Some(tokens.new_session(db, &owner, "pin").await?)
        } else {
            None
        };
        let event = NewEvent::new(
            Actor::User(owner.as_str().into()),
            Action::EnrolmentCompleted,
        )
        .subject(id.to_owned())
        .details(json!({"certificate": certificate.serial, "purpose": row.purpose.as_str()}));
        store::audit::append(db, now, &[event]).await?;
        Ok(Completed {
            certificate,
            session,
        })
    }
}
