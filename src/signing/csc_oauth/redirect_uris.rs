//! The redirect URIs an institution registers for `oauth2/authorize` (the operator's CLI):
//! checked by [`parse_redirect_uri`], matched exactly, every change audited.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use super::parse_redirect_uri;
use crate::{
    audit::{Action, Actor, NewEvent},
    signing::{SigningError, institution, request::RequestError},
    store::{self, StoreError, signing as db},
};

/// Registers a redirect URI for an institution (by id or client id).
pub async fn add_redirect_uri(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    who: &str,
    uri: &str,
) -> Result<bool, SigningError> {
    let uri = parse_redirect_uri(uri).map_err(|e| RequestError::Invalid(e.into()))?;
    let row = institution::find(db, who).await?;
    let txn = db.begin().await.map_err(StoreError::from)?;
    let added = db::insert_redirect_uri(&txn, &row.id, &uri, now).await?;
    if added {
        let event = NewEvent::new(Actor::Operator, Action::InstitutionRedirectUriAdded)
            .subject(row.id.clone())
            .details(json!({"redirect_uri": uri}));
        store::audit::append_within(&txn, now, &[event]).await?;
    }
    txn.commit().await.map_err(StoreError::from)?;
    Ok(added)
}

/// Removes a registered redirect URI.
pub async fn remove_redirect_uri(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    who: &str,
    uri: &str,
) -> Result<bool, SigningError> {
    let row = institution::find(db, who).await?;
    let txn = db.begin().await.map_err(StoreError::from)?;
    let removed = db::delete_redirect_uri(&txn, &row.id, uri).await?;
    if removed {
        let event = NewEvent::new(Actor::Operator, Action::InstitutionRedirectUriRemoved)
            .subject(row.id.clone())
            .details(json!({"redirect_uri": uri}));
        store::audit::append_within(&txn, now, &[event]).await?;
    }
    txn.commit().await.map_err(StoreError::from)?;
    Ok(removed)
}

/// An institution's registered redirect URIs.
pub async fn redirect_uris(
    db: &DatabaseConnection,
    who: &str,
) -> Result<Vec<String>, SigningError> {
    let row = institution::find(db, who).await?;
    Ok(db::redirect_uris(db, &row.id).await?)
}
