//! Token signing keys: P-256 keys sealed in custody (service slot), made and audited on first
//! start and on rotation, loaded with every key still able to verify a live token, and
//! published as the JWKS. Private key bytes are held only as long as it takes to build the
//! `jsonwebtoken` key; they are never logged or stored outside custody.

use std::{collections::HashMap, sync::RwLock};

use chrono::Duration;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey,
    jwk::{Jwk, JwkSet},
};
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::{TokenError, TokenService, TokenSettings, verify::VerifiedTokens};
use crate::{
    audit::{Action, Actor, NewEvent},
    clock::SharedClock,
    custody::{Custody, OwnerId, keys::KeyAlgorithm},
    store::{self, StoreError},
};

/// The keys in force: the newest signs, every live one verifies.
pub(super) struct Keys {
    pub(super) signing_kid: String,
    pub(super) signing: EncodingKey,
    pub(super) verifying: HashMap<String, DecodingKey>,
    pub(super) jwks: JwkSet,
}

const TOKEN_KEY_OWNER: &str = "svc:tokens";

impl TokenService {
    /// Loads the signing keys, making (and auditing) a new one when none exists or the newest
    /// is older than the rotation period.
    pub async fn load(
        db: &DatabaseConnection,
        custody: std::sync::Arc<Custody>,
        settings: TokenSettings,
        clock: SharedClock,
    ) -> Result<Self, TokenError> {
        let keys = load_keys(db, &custody, &settings, &clock).await?;
        Ok(Self {
            keys: RwLock::new(keys),
            settings,
            custody,
            clock,
            verified: VerifiedTokens::default(),
            live_sessions: std::sync::OnceLock::new(),
        })
    }

    /// Makes a new signing key now (rotation) and retires the others for signing.
    pub async fn rotate(&self, db: &DatabaseConnection) -> Result<String, TokenError> {
        create_key(db, &self.custody, &self.clock).await?;
        let keys = load_keys(db, &self.custody, &self.settings, &self.clock).await?;
        let kid = keys.signing_kid.clone();
        if let Ok(mut guard) = self.keys.write() {
            *guard = keys;
        }
        Ok(kid)
    }

    /// The published key set.
    pub fn jwks(&self) -> JwkSet {
        self.keys
            .read()
            .map(|k| k.jwks.clone())
            .unwrap_or(JwkSet { keys: vec![] })
    }
}

async fn create_key(
    db: &DatabaseConnection,
    custody: &Custody,
    clock: &SharedClock,
) -> Result<(), TokenError> {
    let owner = OwnerId::parse(TOKEN_KEY_OWNER).map_err(crate::custody::CustodyError::from)?;
    let prepared = custody
        .prepare_service_key(&owner, KeyAlgorithm::P256)
        .await?;
    let key_id = prepared.info.id;
    let kid = format!("fc-{}", &key_id.simple().to_string()[..16]);
    let pkcs8 = custody.prepared_service_pkcs8(&prepared).await?;
    let mut jwk = Jwk::from_encoding_key(&EncodingKey::from_ec_der(&pkcs8), Algorithm::ES256)
        .map_err(|_| TokenError::Signing)?;
    drop(pkcs8);
    jwk.common.key_id = Some(kid.clone());
    let now = clock.now();
    let txn = db.begin().await.map_err(StoreError::from)?;
    custody.persist_key(&txn, prepared).await?;
    store::tokens::insert_key(
        &txn,
        store::tokens::TokenKeyRow {
            kid: kid.clone(),
            custody_key_id: key_id,
            public_jwk: jwk,
            created_at: now,
            retired_at: None,
        },
    )
    .await?;
    store::tokens::retire_others(&txn, &kid, now).await?;
    let event = NewEvent::new(Actor::System, Action::TokenKeyRotated).subject(kid);
    store::audit::append_within(&txn, now, &[event]).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(())
}

async fn load_keys(
    db: &DatabaseConnection,
    custody: &Custody,
    settings: &TokenSettings,
    clock: &SharedClock,
) -> Result<Keys, TokenError> {
    let now = clock.now();
    // Retired keys verify for as long as the tokens they signed can live.
    let mut rows =
        store::tokens::live_keys(db, now - settings.access_ttl - Duration::minutes(5)).await?;
    let stale = rows.first().is_none_or(|newest| {
        newest.retired_at.is_some() || now - newest.created_at >= settings.key_rotation
    });
    if stale {
        create_key(db, custody, clock).await?;
        rows =
            store::tokens::live_keys(db, now - settings.access_ttl - Duration::minutes(5)).await?;
    }
    let newest = rows.first().ok_or(TokenError::Signing)?;
    let owner = OwnerId::parse(TOKEN_KEY_OWNER).map_err(crate::custody::CustodyError::from)?;
    let pkcs8 = custody
        .service_pkcs8(db, &owner, newest.custody_key_id)
        .await?;
    let signing = EncodingKey::from_ec_der(&pkcs8);
    drop(pkcs8);
    let mut verifying = HashMap::new();
    let mut jwks = Vec::new();
    for row in &rows {
        verifying.insert(
            row.kid.clone(),
            DecodingKey::from_jwk(&row.public_jwk).map_err(|_| TokenError::Signing)?,
        );
        jwks.push(row.public_jwk.clone());
    }
    Ok(Keys {
        signing_kid: newest.kid.clone(),
        signing,
        verifying,
        jwks: JwkSet { keys: jwks },
    })
}
