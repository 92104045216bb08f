//! Institutions: relying parties registered by the operator, authenticated by OAuth2 client
//! credentials. The client secret is 256 random bits shown once; only its SHA-256 is stored
//! (a high-entropy secret needs no slow hash) and it is compared in constant time. Rotation
//! keeps the previous secret valid for a grace period so a bank can roll its nodes.

use aws_lc_rs::{
    constant_time, digest,
    rand::{SecureRandom, SystemRandom},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{SigningError, request::RequestError};
use crate::{
    audit::{Action, Actor, NewEvent},
    custody::{CustodyError, kms::Kms},
    store::{self, StoreError, signing as db},
};

pub use crate::domain::{institution_status::InstitutionStatus, sector::Sector};

/// How long a rotated-out secret keeps working.
pub const SECRET_GRACE_HOURS: i64 = 24;

/// Scopes an institution token may carry.
pub const SCOPES: [&str; 2] = ["sign", "verify"];

/// Parses a space-separated scope request against what the institution holds. An empty
/// request means every scope it holds. `None` if any requested scope is unknown or not held.
pub fn grant_scopes(requested: Option<&str>, held: &str) -> Option<String> {
    let held: Vec<&str> = held.split_whitespace().collect();
    match requested.map(str::trim).filter(|r| !r.is_empty()) {
        None => Some(held.join(" ")),
        Some(r) => {
            let asked: Vec<&str> = r.split_whitespace().collect();
            asked
                .iter()
                .all(|s| held.contains(s))
                .then(|| asked.join(" "))
        }
    }
}

/// Whether a granted scope string contains `scope`.
pub fn has_scope(granted: &str, scope: &str) -> bool {
    granted.split_whitespace().any(|s| s == scope)
}

/// A new client secret and its stored hash.
pub struct NewSecret {
    /// Shown once to the operator.
    pub secret: Zeroizing<String>,
    /// Stored.
    pub hash: Vec<u8>,
}

/// Makes a client secret (`fcs_` + 43 base64url characters).
pub fn new_secret(rng: &SystemRandom) -> Result<NewSecret, aws_lc_rs::error::Unspecified> {
    let mut raw = Zeroizing::new([0u8; 32]);
    rng.fill(raw.as_mut())?;
    let secret = Zeroizing::new(format!("fcs_{}", B64URL.encode(raw.as_ref())));
    let hash = hash_secret(&secret);
    Ok(NewSecret { secret, hash })
}

/// A client id: `fc_` + 24 hex characters.
pub fn new_client_id(rng: &SystemRandom) -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut raw = [0u8; 12];
    rng.fill(&mut raw)?;
    Ok(format!("fc_{}", hex::encode(raw)))
}

/// SHA-256 of a presented secret.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}

/// The stored secret hashes of an institution.
pub struct StoredSecrets<'a> {
    /// Current.
    pub current: &'a [u8],
    /// Previous, with the end of its grace period.
    pub previous: Option<(&'a [u8], DateTime<Utc>)>,
}

/// Whether `presented` matches the current secret, or the previous one within its grace.
/// Both comparisons always run, in constant time.
pub fn secret_matches(presented: &str, stored: &StoredSecrets<'_>, now: DateTime<Utc>) -> bool {
    let h = hash_secret(presented);
    let current = constant_time::verify_slices_are_equal(&h, stored.current).is_ok();
    let previous = stored.previous.is_some_and(|(prev, until)| {
        constant_time::verify_slices_are_equal(&h, prev).is_ok() && now < until
    });
    current | previous
}

// ----- the operator's registry (used by `fincert institution ...`) -----

/// Registers an institution; its secrets are returned once and never stored in plaintext.
pub async fn register(
    db: &DatabaseConnection,
    kms: &dyn Kms,
    now: DateTime<Utc>,
    name: &str,
    sector: Sector,
) -> Result<Credentials, SigningError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(RequestError::Invalid("name must be 1 to 128 characters".into()).into());
    }
    let rng = SystemRandom::new();
    let NewSecret { secret, hash } = new_secret(&rng).map_err(|_| SigningError::Random)?;
    let row = db::InstitutionRow {
        id: Uuid::new_v4().to_string(),
        name: name.to_owned(),
        sector,
        client_id: new_client_id(&rng).map_err(|_| SigningError::Random)?,
        secret_hash: hash,
        previous_secret_hash: None,
        previous_secret_until: None,
        webhook_key_version: 1,
        scopes: SCOPES.join(" "),
        status: InstitutionStatus::Active,
        created_at: now,
        webhook_validation_info: false,
        webhook_mac_backend: Some(kms.backend().to_owned()),
    };
    let webhook_secret = webhook_secret(kms, &row).await?;
    let event = NewEvent::new(Actor::Operator, Action::InstitutionRegistered)
        .subject(row.id.clone())
        .details(
            json!({"name": row.name, "sector": row.sector.as_str(), "client_id": row.client_id}),
        );
    let txn = db.begin().await.map_err(StoreError::from)?;
    db::insert_institution(&txn, &row).await?;
    store::audit::append_within(&txn, now, &[event]).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(Credentials {
        institution: institution_view(&row),
        client_secret: secret,
        webhook_secret,
    })
}

/// Every institution.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<InstitutionView>, SigningError> {
    Ok(db::institutions(db)
        .await?
        .iter()
        .map(institution_view)
        .collect())
}

/// Finds an institution by id or client id.
pub async fn find(
    db: &DatabaseConnection,
    id_or_client_id: &str,
) -> Result<db::InstitutionRow, SigningError> {
    match db::institution(db, id_or_client_id).await? {
        Some(r) => Ok(r),
        None => db::institution_by_client_id(db, id_or_client_id)
            .await?
            .ok_or(SigningError::InstitutionNotFound),
    }
}

/// A new client secret for an institution (by id or client id); the old one keeps working
/// for [`SECRET_GRACE_HOURS`].
pub async fn rotate_secret(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    id_or_client_id: &str,
) -> Result<(InstitutionView, Zeroizing<String>), SigningError> {
    let row = find(db, id_or_client_id).await?;
    let NewSecret { secret, hash } =
        new_secret(&SystemRandom::new()).map_err(|_| SigningError::Random)?;
    let until = now + Duration::hours(SECRET_GRACE_HOURS);
    let event = NewEvent::new(Actor::Operator, Action::InstitutionSecretRotated)
        .subject(row.id.clone())
        .details(json!({"previous_valid_until": until.to_rfc3339()}));
    let txn = db.begin().await.map_err(StoreError::from)?;
    db::rotate_secret(&txn, &row.id, &hash, until, now).await?;
    store::audit::append_within(&txn, now, &[event]).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok((institution_view(&row), secret))
}

/// Replaces an institution's webhook secret: the next key version, derived from the current
/// KMS backend's MAC key (after a move between backends, this is what frees the institution's
/// webhooks from the previous backend). Deliveries from now on are signed with the new
/// secret, which is returned to be handed over.
pub async fn rotate_webhook_secret(
    db: &DatabaseConnection,
    kms: &dyn Kms,
    now: DateTime<Utc>,
    id_or_client_id: &str,
) -> Result<(InstitutionView, Zeroizing<String>), SigningError> {
    let mut row = find(db, id_or_client_id).await?;
    row.webhook_key_version += 1;
    row.webhook_mac_backend = Some(kms.backend().to_owned());
    // The KMS first: a failure leaves the old secret in force.
    let secret = webhook_secret(kms, &row).await?;
    let event = NewEvent::new(Actor::Operator, Action::InstitutionWebhookSecretRotated)
        .subject(row.id.clone())
        .details(json!({"key_version": row.webhook_key_version, "kms_backend": kms.backend()}));
    let txn = db.begin().await.map_err(StoreError::from)?;
    if !db::next_webhook_key(&txn, &row.id, kms.backend()).await? {
        return Err(SigningError::InstitutionNotFound);
    }
    store::audit::append_within(&txn, now, &[event]).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok((institution_view(&row), secret))
}

/// Whether the institution's `signature_request.signed` webhooks carry the validation
/// material (`request.result.validation_info`, built at each delivery attempt). Off by
/// default: the issuing CA's CRL in it grows with every live revocation, so the body can
/// reach hundreds of kilobytes where a receiver expects a few (see the webhook module).
pub async fn set_webhook_validation_info(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    id_or_client_id: &str,
    on: bool,
) -> Result<InstitutionView, SigningError> {
    let mut row = find(db, id_or_client_id).await?;
    let event = NewEvent::new(Actor::Operator, Action::InstitutionWebhookValidationInfoSet)
        .subject(row.id.clone())
        .details(json!({"webhook_validation_info": on}));
    let txn = db.begin().await.map_err(StoreError::from)?;
    if !db::set_webhook_validation_info(&txn, &row.id, on).await? {
        return Err(SigningError::InstitutionNotFound);
    }
    store::audit::append_within(&txn, now, &[event]).await?;
    txn.commit().await.map_err(StoreError::from)?;
    row.webhook_validation_info = on;
    Ok(institution_view(&row))
}

/// The secret that signs an institution's webhooks: a KMS MAC over its id and key version,
/// so it is never stored and the operator can show it again. The MAC key is that of the
/// backend recorded with the row: a move between KMS backends leaves the secret the
/// institution holds unchanged until [`rotate_webhook_secret`]. A row made before backends
/// were recorded derives from the backend in force before any move (the previous one while
/// moving).
pub async fn webhook_secret(
    kms: &dyn Kms,
    row: &db::InstitutionRow,
) -> Result<Zeroizing<String>, SigningError> {
    let backend = row
        .webhook_mac_backend
        .as_deref()
        .or(kms.previous_backend())
        .unwrap_or(kms.backend());
    let mac = kms
        .mac_by(
            backend,
            format!("fincert-webhook-v{}:{}", row.webhook_key_version, row.id).as_bytes(),
        )
        .await
        .map_err(CustodyError::Kms)?;
    Ok(Zeroizing::new(format!("whsec_{}", hex::encode(&mac[..]))))
}

/// A registered institution's credentials, shown once.
pub struct Credentials {
    /// The institution.
    pub institution: InstitutionView,
    /// Client secret.
    pub client_secret: Zeroizing<String>,
    /// Secret that signs its webhooks.
    pub webhook_secret: Zeroizing<String>,
}

/// An institution as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct InstitutionView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Sector.
    pub sector: Sector,
    /// OAuth2 client id.
    pub client_id: String,
    /// Scopes it holds.
    pub scopes: String,
    /// Active or disabled.
    pub status: InstitutionStatus,
    /// Registered.
    pub created_at: DateTime<Utc>,
    /// Whether its signed-request webhooks carry the validation material.
    pub webhook_validation_info: bool,
}

fn institution_view(row: &db::InstitutionRow) -> InstitutionView {
    InstitutionView {
        id: row.id.clone(),
        name: row.name.clone(),
        sector: row.sector,
        client_id: row.client_id.clone(),
        scopes: row.scopes.clone(),
        status: row.status,
        created_at: row.created_at,
        webhook_validation_info: row.webhook_validation_info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_a_subset_of_what_is_held() {
        assert_eq!(
            grant_scopes(None, "sign verify").as_deref(),
            Some("sign verify")
        );
        assert_eq!(grant_scopes(Some(" "), "sign").as_deref(), Some("sign"));
        assert_eq!(
            grant_scopes(Some("verify"), "sign verify").as_deref(),
            Some("verify")
        );
        assert_eq!(grant_scopes(Some("sign admin"), "sign verify"), None);
        assert!(has_scope("sign verify", "verify"));
        assert!(!has_scope("signature", "sign"));
    }

    #[test]
    fn secrets_match_current_and_previous_within_grace() {
        let rng = SystemRandom::new();
        let a = new_secret(&rng).unwrap();
        let b = new_secret(&rng).unwrap();
        assert!(a.secret.starts_with("fcs_") && a.secret.len() == 47);
        let now = Utc::now();
        let stored = StoredSecrets {
            current: &b.hash,
            previous: Some((&a.hash, now + chrono::Duration::hours(1))),
        };
        assert!(secret_matches(&b.secret, &stored, now));
        assert!(secret_matches(&a.secret, &stored, now));
        assert!(!secret_matches(
            &a.secret,
            &stored,
            now + chrono::Duration::hours(2)
        ));
        assert!(!secret_matches("fcs_wrong", &stored, now));
        assert_ne!(new_client_id(&rng).unwrap(), new_client_id(&rng).unwrap());
        assert_eq!(Sector::parse("card"), Some(Sector::Card));
        assert_eq!(Sector::parse("casino"), None);
    }
}
