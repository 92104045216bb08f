//! The domain side of the Cloud Signature Consortium API (`/csc/v1`, `/csc/v2`): credentials
//! are the certificates users registered with the calling institution (the same consents as
//! the native API), `authorize` checks the PIN and activates the key for exactly the given
//! hashes and count, and `signHash` spends that authorization.
//!
//! The SAD is 256 random bits, stored only as its SHA-256, bound to one institution, one
//! credential and its hashes; each hash signs once, the count never goes below zero (a
//! compare-and-set update), and it expires with the key activation behind it. Activations live
//! in the memory of the node that made them (plaintext keys never leave it), so a load balancer
//! routes CSC calls of one transaction to one node (sticky on the SAD), or the client
//! authorizes again.

use aws_lc_rs::rand::SecureRandom;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use super::{
    Caller, Signing, SigningError,
    request::{Algorithm, AlgorithmExt as _, Digest, Target},
};
use crate::{
    audit::{Action, NewEvent},
    custody::{CustodyError, OwnerId},
    domain::pin::Pin,
    store::{self, StoreError, signing as db},
};

/// What went wrong with a SAD, as CSC describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SadProblem {
    /// Unknown, another institution's or another credential's.
    Invalid,
    /// Past its lifetime (or its activation is gone).
    Expired,
    /// A hash it does not authorize (or one already signed).
    HashNotAuthorized,
    /// More signatures than it has left.
    Exhausted,
}

impl SadProblem {
    /// The CSC `error_description`.
    pub fn description(self) -> &'static str {
        match self {
            Self::Invalid => "Invalid parameter SAD",
            Self::Expired => "SAD expired",
            Self::HashNotAuthorized => "Hash is not authorized by the SAD",
            Self::Exhausted => "Numbers of signatures is too high",
        }
    }
}

fn sad_hash(sad: &str) -> String {
    Digest::of(sad.as_bytes()).to_hex()
}

impl Signing {
    /// A credential the institution may use: its certificate row and key algorithm.
    pub async fn csc_credential(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        credential_id: &str,
    ) -> Result<
        (
            store::pki::CertificateRow,
            crate::custody::keys::KeyAlgorithm,
            bool,
        ),
        SigningError,
    > {
        let id = Uuid::parse_str(credential_id).map_err(|_| SigningError::NotFound)?;
        db::live_consent(db, &caller.institution.id, &id.to_string())
            .await?
            .ok_or(SigningError::NotFound)?;
        let cert = store::pki::certificate_by_id(db, &id.to_string())
            .await?
            .ok_or(SigningError::NotFound)?;
        let key = cert
            .custody_key_id
            .as_deref()
            .and_then(|k| Uuid::parse_str(k).ok())
            .ok_or(SigningError::DeviceKey)?;
        let owner = OwnerId::parse(&cert.owner_id)?;
        let (algorithm, locked) = self.custody.key_status(db, &owner, key).await?;
        Ok((cert, algorithm, locked))
    }

    /// `credentials/authorize`: checks the PIN (with lockout) and the authorization table,
    /// activates the key for `hashes`, and returns a SAD with its lifetime in seconds.
    pub async fn csc_authorize(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        credential_id: Uuid,
        num_signatures: u32,
        hashes: &[Digest],
        pin: &Pin,
    ) -> Result<(String, i64), SigningError> {
        caller.require("sign")?;
        let (cert, key, _algorithm) = self
            .resolve(db, caller, &Target::Certificate(credential_id), None)
            .await?;
        let owner = OwnerId::parse(&cert.owner_id)?;
        let activation = self
            .custody
            .activate_with_pin(db, &owner, key, pin, Some(num_signatures))
            .await?;
        let mut raw = [0u8; 32];
        self.rng.fill(&mut raw).map_err(|_| SigningError::Random)?;
        let sad = B64URL.encode(raw);
        let now = self.clock.now();
        let row = db::SadRow {
            sad_hash: sad_hash(&sad),
            institution_id: caller.institution.id.clone(),
            certificate_id: cert.id.clone(),
            user_id: cert.owner_id.clone(),
            activation_id: activation.id.to_string(),
            hashes: serde_json::to_string(&hashes.iter().map(|d| d.to_b64()).collect::<Vec<_>>())
                .map_err(|_| SigningError::Random)?,
            remaining: i32::try_from(num_signatures).unwrap_or(0),
            expires_at: activation.expires_at,
        };
        let event = NewEvent::new(owner.actor(), Action::SignatureRequested)
            .subject(cert.serial_hex.clone())
            .details(json!({
                "via": "csc",
                "institution": caller.institution.id,
                "digests": hashes.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
                "num_signatures": num_signatures,
            }));
        let stored = async {
            let txn = db.begin().await.map_err(StoreError::from)?;
            db::insert_sad(&txn, &row, now).await?;
            store::audit::append(&txn, now, &[event]).await?;
            txn.commit().await.map_err(StoreError::from)?;
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(e) = stored {
            self.custody.activations().remove(activation.id);
            return Err(e.into());
        }
        Ok((sad, (activation.expires_at - now).num_seconds().max(1)))
    }

    /// `signatures/signHash`: spends the SAD on `hashes` and signs each with `algorithm`.
    pub async fn csc_sign_hash(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        credential_id: &str,
        sad: &str,
        hashes: &[Digest],
        algorithm: Algorithm,
    ) -> Result<Result<Vec<Vec<u8>>, SadProblem>, SigningError> {
        caller.require("sign")?;
        let now = self.clock.now();
        let Some(row) = db::sad(db, &sad_hash(sad)).await? else {
            return Ok(Err(SadProblem::Invalid));
        };
        if row.institution_id != caller.institution.id || row.certificate_id != credential_id {
            return Ok(Err(SadProblem::Invalid));
        }
        if now >= row.expires_at {
            return Ok(Err(SadProblem::Expired));
        }
        let count = i32::try_from(hashes.len()).unwrap_or(i32::MAX);
        if count > row.remaining {
            return Ok(Err(SadProblem::Exhausted));
        }
        // Each authorized hash signs once: take the requested ones out of the list.
        let mut left: Vec<String> = serde_json::from_str(&row.hashes).map_err(|_| {
            SigningError::Store(StoreError::Corrupt {
                table: "csc_sads",
                problem: "hashes".into(),
            })
        })?;
        for h in hashes {
            match left.iter().position(|x| *x == h.to_b64()) {
                Some(i) => {
                    left.remove(i);
                }
                None => return Ok(Err(SadProblem::HashNotAuthorized)),
            }
        }
        // The world may have changed since authorize: consent, certificate, PIN lock.
        db::live_consent(db, &caller.institution.id, &row.certificate_id)
            .await?
            .ok_or(SigningError::NotFound)?;
        let cert = store::pki::certificate_by_id(db, &row.certificate_id)
            .await?
            .ok_or(SigningError::NotFound)?;
        let (_, key_algorithm) = self.check_usable(db, caller.sector(), &cert).await?;
        if algorithm.scheme().key_algorithm() != key_algorithm {
            return Err(SigningError::Algorithm(algorithm.as_str()));
        }
        let owner = OwnerId::parse(&row.user_id)?;
        let activation = Uuid::parse_str(&row.activation_id).map_err(|_| SigningError::NotFound)?;
        let event = NewEvent::new(owner.actor(), Action::SignatureCreated)
            .subject(cert.serial_hex.clone())
            .details(json!({
                "via": "csc",
                "institution": caller.institution.id,
                "digests": hashes.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
                "algorithm": algorithm.as_str(),
            }));
        // Sign first (nothing leaves before the commit), then spend the SAD with the audit
        // event in the next group commit; a concurrent spend makes this one fail closed.
        let mut out = Vec::with_capacity(hashes.len());
        for h in hashes {
            match self
                .custody
                .sign_digest(&owner, activation, algorithm.scheme(), &h.0)
            {
                Ok(sig) => out.push(sig),
                Err(CustodyError::Activation(_)) => return Ok(Err(SadProblem::Expired)),
                Err(e) => return Err(e.into()),
            }
        }
        let change = super::commit::Change::SpendSad {
            sad_hash: row.sad_hash.clone(),
            spend: hashes.iter().map(|h| h.to_b64()).collect(),
        };
        if !self.committer.commit(change, vec![event]).await? {
            return Ok(Err(SadProblem::HashNotAuthorized));
        }
        Ok(Ok(out))
    }

    /// `credentials/extendTransaction`: a new SAD for the rest of the same authorization; the
    /// old one stops working. The lifetime stays bounded by the key activation.
    pub async fn csc_extend(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        credential_id: &str,
        sad: &str,
    ) -> Result<Result<(String, i64), SadProblem>, SigningError> {
        let now = self.clock.now();
        let Some(row) = db::sad(db, &sad_hash(sad)).await? else {
            return Ok(Err(SadProblem::Invalid));
        };
        if row.institution_id != caller.institution.id || row.certificate_id != credential_id {
            return Ok(Err(SadProblem::Invalid));
        }
        if now >= row.expires_at || row.remaining <= 0 {
            return Ok(Err(SadProblem::Expired));
        }
        let mut raw = [0u8; 32];
        self.rng.fill(&mut raw).map_err(|_| SigningError::Random)?;
        let fresh = B64URL.encode(raw);
        if !db::rekey_sad(db, &row.sad_hash, &sad_hash(&fresh)).await? {
            return Ok(Err(SadProblem::Invalid));
        }
        Ok(Ok((fresh, (row.expires_at - now).num_seconds().max(1))))
    }
}
