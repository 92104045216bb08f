//! Access and refresh tokens.
//!
//! - **Access tokens**: JWT, ES256 only (the algorithm is pinned: `none`, HS256 and every
//!   other `alg` are refused before any key is used), `kid` naming a published key, issuer and
//!   audience checked, short-lived. Expiry is checked against the service [`Clock`], not the
//!   library's wall clock, so time rules stay testable.
//! - **Signing keys** are P-256 keys sealed in custody (KMS-wrapped, service slot), published
//!   at `/.well-known/jwks.json`, and rotated: a new key signs after `auth.token_key_rotation_days`;
//!   old keys keep verifying until every token they signed has expired.
//! - **Refresh tokens** are 256-bit random strings stored only as SHA-256 hashes, single-use:
//!   each use returns a new one in the same family; using one twice revokes the whole family
//!   (a stolen token and its thief are cut off together). Logout revokes the family.
//!
//! [`Clock`]: crate::clock::Clock

use std::{collections::HashMap, sync::RwLock};

use aws_lc_rs::{
    digest,
    rand::{SecureRandom, SystemRandom},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use chrono::Duration;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    jwk::{Jwk, JwkSet},
};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::{
    audit::{Action, Actor, NewEvent},
    clock::SharedClock,
    custody::{Custody, CustodyError, OwnerId, keys::KeyAlgorithm},
    store::{self, StoreError},
};

/// Token failures.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The access token is malformed, forged, of another algorithm, issuer or audience, or
    /// expired. Which one is logged, not returned.
    #[error("invalid access token")]
    Invalid,
    /// The refresh token is unknown, expired, revoked or already used.
    #[error("invalid refresh token")]
    RefreshInvalid,
    /// A used refresh token was presented again: its family is revoked.
    #[error("refresh token reuse detected; the session was revoked")]
    RefreshReused,
    /// Key custody failed (signing key could not be opened or made).
    #[error(transparent)]
    Custody(#[from] CustodyError),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Signing failed.
    #[error("token signing failed")]
    Signing,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user.
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Token id.
    pub jti: String,
    /// How the user authenticated (`pin`, `passkey`); empty for institutions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Granted scopes, space-separated (institution tokens only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

/// Which kind of caller a token is for. Each has its own audience, so a user's token is
/// never accepted where an institution's is expected, and the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A certificate holder (after PIN or passkey).
    User,
    /// An institution (after OAuth2 client credentials).
    Institution,
}

/// Token settings.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `iss` of every token.
    pub issuer: String,
    /// `aud` every token must carry.
    pub audience: String,
    /// Access token lifetime.
    pub access_ttl: Duration,
    /// Refresh token lifetime.
    pub refresh_ttl: Duration,
    /// A new signing key after this long.
    pub key_rotation: Duration,
}

impl TokenSettings {
    /// The token settings in force: `auth.*`, with the issuer defaulting to
    /// `pki.public_base_url`.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(300));
        Self {
            issuer: if settings.auth.issuer.is_empty() {
                settings.pki.public_base_url.clone()
            } else {
                settings.auth.issuer.clone()
            },
            audience: settings.auth.audience.clone(),
            access_ttl: secs(settings.auth.access_ttl_secs),
            refresh_ttl: secs(settings.auth.refresh_ttl_secs),
            key_rotation: Duration::days(i64::from(settings.auth.token_key_rotation_days)),
        }
    }
}

struct Keys {
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    jwks: JwkSet,
}

/// A freshly issued session: access token and refresh token (the wire type clients read).
pub use fincert_client::types::TokenResponse as TokenPair;

/// Issues and verifies tokens.
pub struct TokenService {
    keys: RwLock<Keys>,
    settings: TokenSettings,
    custody: std::sync::Arc<Custody>,
    clock: SharedClock,
    verified: VerifiedTokens,
}

/// Access tokens already verified, by SHA-256 of audience and token, until they expire.
#[derive(Default)]
struct VerifiedTokens(std::sync::Mutex<std::collections::HashMap<[u8; 32], Claims>>);

impl VerifiedTokens {
    const MAX: usize = 100_000;

    fn get(&self, fingerprint: &[u8; 32], now: i64) -> Option<Claims> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(fingerprint)
            .filter(|c| c.exp + 30 >= now && c.iat <= now + 30)
            .cloned()
    }

    fn put(&self, fingerprint: [u8; 32], claims: Claims, now: i64) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::MAX {
            map.retain(|_, c| c.exp + 30 >= now);
            if map.len() >= Self::MAX {
                map.clear();
            }
        }
        map.insert(fingerprint, claims);
    }
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

const TOKEN_KEY_OWNER: &str = "svc:tokens";

fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

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

    /// An access token for `subject`.
    pub fn access_token(
        &self,
        subject: &OwnerId,
        amr: &[&str],
    ) -> Result<(String, i64), TokenError> {
        self.sign(
            Audience::User,
            subject.as_str(),
            amr.iter().map(|s| (*s).to_owned()).collect(),
            String::new(),
        )
    }

    /// An access token for an institution (OAuth2 client credentials) with `scope`.
    pub fn institution_token(
        &self,
        institution_id: &str,
        scope: &str,
    ) -> Result<(String, i64), TokenError> {
        self.sign(
            Audience::Institution,
            institution_id,
            Vec::new(),
            scope.to_owned(),
        )
    }

    fn audience(&self, audience: Audience) -> String {
        match audience {
            Audience::User => self.settings.audience.clone(),
            Audience::Institution => format!("{}:institution", self.settings.audience),
        }
    }

    fn sign(
        &self,
        audience: Audience,
        subject: &str,
        amr: Vec<String>,
        scope: String,
    ) -> Result<(String, i64), TokenError> {
        let now = self.clock.now();
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            aud: self.audience(audience),
            sub: subject.to_owned(),
            iat: now.timestamp(),
            exp: (now + self.settings.access_ttl).timestamp(),
            jti: Uuid::new_v4().to_string(),
            amr,
            scope,
        };
        let keys = self.keys.read().map_err(|_| TokenError::Signing)?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(keys.signing_kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &keys.signing)
            .map_err(|_| TokenError::Signing)?;
        Ok((token, self.settings.access_ttl.num_seconds()))
    }

    /// Verifies an access token: ES256 only, a known `kid`, our issuer and audience, not expired
    /// by the service clock (30 s leeway).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_for(token, Audience::User)
    }

    /// Verifies an access token issued to `audience` (see [`verify`](Self::verify)).
    pub fn verify_for(&self, token: &str, audience: Audience) -> Result<Claims, TokenError> {
        // A token verified before is known for its lifetime: an ES256 verification costs
        // about a tenth of an RSA signature, and institutions send the same token many times.
        let fingerprint = {
            let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
            h.update(&[audience as u8]);
            h.update(token.as_bytes());
            let d = h.finish();
            let mut out = [0u8; 32];
            out.copy_from_slice(d.as_ref());
            out
        };
        let now = self.clock.now().timestamp();
        if let Some(claims) = self.verified.get(&fingerprint, now) {
            return Ok(claims);
        }
        let claims = self.verify_uncached(token, audience)?;
        self.verified.put(fingerprint, claims.clone(), now);
        Ok(claims)
    }

    fn verify_uncached(&self, token: &str, audience: Audience) -> Result<Claims, TokenError> {
        let audience = self.audience(audience);
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::ES256 {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let keys = self.keys.read().map_err(|_| TokenError::Invalid)?;
        let key = keys.verifying.get(&kid).ok_or(TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.algorithms = vec![Algorithm::ES256];
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Time is checked below against the service clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| {
            tracing::debug!(error = %e, "access token refused");
            TokenError::Invalid
        })?;
        let now = self.clock.now().timestamp();
        if data.claims.exp + 30 < now || data.claims.iat > now + 30 {
            return Err(TokenError::Invalid);
        }
        Ok(data.claims)
    }

    /// A new session for `subject` (after a successful PIN or passkey check).
    pub async fn new_session(
        &self,
        db: &DatabaseConnection,
        subject: &OwnerId,
        amr: &str,
    ) -> Result<TokenPair, TokenError> {
        let (access, expires_in) = self.access_token(subject, &[amr])?;
        let refresh = self
            .store_refresh(db, subject, amr, &Uuid::new_v4().to_string())
            .await?;
        Ok(TokenPair {
            access_token: access,
            token_type: "Bearer".into(),
            expires_in,
            refresh_token: Some(refresh),
            scope: None,
        })
    }

    async fn store_refresh(
        &self,
        db: &DatabaseConnection,
        subject: &OwnerId,
        amr: &str,
        family: &str,
    ) -> Result<String, TokenError> {
        let mut raw = [0u8; 32];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| TokenError::Signing)?;
        let token = format!("rt_{}", B64URL.encode(raw));
        let now = self.clock.now();
        store::tokens::insert_refresh(
            db,
            store::tokens::RefreshRow {
                id: Uuid::new_v4().to_string(),
                family_id: family.to_owned(),
                owner_id: subject.as_str().to_owned(),
                token_hash: sha256(token.as_bytes()),
                amr: amr.to_owned(),
                used_at: None,
                revoked_at: None,
                expires_at: now + self.settings.refresh_ttl,
                created_at: now,
            },
        )
        .await?;
        Ok(token)
    }

    /// Exchanges a refresh token for a new pair (rotation). A token presented twice revokes
    /// its whole family and is audited.
    pub async fn refresh(
        &self,
        db: &DatabaseConnection,
        refresh_token: &str,
    ) -> Result<TokenPair, TokenError> {
        let now = self.clock.now();
        let row = store::tokens::refresh_by_hash(db, &sha256(refresh_token.as_bytes()))
            .await?
            .ok_or(TokenError::RefreshInvalid)?;
        if row.revoked_at.is_some() || row.expires_at <= now {
            return Err(TokenError::RefreshInvalid);
        }
        if row.used_at.is_some() || !store::tokens::use_refresh(db, &row.id, now).await? {
            let txn = db.begin().await.map_err(StoreError::from)?;
            store::tokens::revoke_family(&txn, &row.family_id, now).await?;
            let event = NewEvent::new(
                Actor::User(row.owner_id.clone()),
                Action::RefreshTokenReused,
            )
            .details(json!({"family": row.family_id}));
            store::audit::append(&txn, now, &[event]).await?;
            txn.commit().await.map_err(StoreError::from)?;
            return Err(TokenError::RefreshReused);
        }
        let subject = OwnerId::parse(&row.owner_id).map_err(CustodyError::from)?;
        let (access, expires_in) = self.access_token(&subject, &[row.amr.as_str()])?;
        let refresh = self
            .store_refresh(db, &subject, &row.amr, &row.family_id)
            .await?;
        Ok(TokenPair {
            access_token: access,
            token_type: "Bearer".into(),
            expires_in,
            refresh_token: Some(refresh),
            scope: None,
        })
    }

    /// Ends a session: revokes the refresh token's family (audited).
    pub async fn logout(
        &self,
        db: &DatabaseConnection,
        refresh_token: &str,
    ) -> Result<(), TokenError> {
        let now = self.clock.now();
        let row = store::tokens::refresh_by_hash(db, &sha256(refresh_token.as_bytes()))
            .await?
            .ok_or(TokenError::RefreshInvalid)?;
        let txn = db.begin().await.map_err(StoreError::from)?;
        store::tokens::revoke_family(&txn, &row.family_id, now).await?;
        let event = NewEvent::new(Actor::User(row.owner_id.clone()), Action::LoggedOut)
            .details(json!({"family": row.family_id}));
        store::audit::append(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }
}

async fn create_key(
    db: &DatabaseConnection,
    custody: &Custody,
    clock: &SharedClock,
) -> Result<(), TokenError> {
    let owner = OwnerId::parse(TOKEN_KEY_OWNER).map_err(CustodyError::from)?;
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
    let public = serde_json::to_string(&jwk).map_err(|_| TokenError::Signing)?;
    let now = clock.now();
    let txn = db.begin().await.map_err(StoreError::from)?;
    custody.persist_key(&txn, prepared).await?;
    store::tokens::insert_key(
        &txn,
        store::tokens::TokenKeyRow {
            kid: kid.clone(),
            custody_key_id: key_id.to_string(),
            public_jwk: public,
            created_at: now,
            retired_at: None,
        },
    )
    .await?;
    store::tokens::retire_others(&txn, &kid, now).await?;
    let event = NewEvent::new(Actor::System, Action::TokenKeyRotated).subject(kid);
    store::audit::append(&txn, now, &[event]).await?;
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
    let owner = OwnerId::parse(TOKEN_KEY_OWNER).map_err(CustodyError::from)?;
    let key_id = Uuid::parse_str(&newest.custody_key_id).map_err(|_| TokenError::Signing)?;
    let pkcs8 = custody.service_pkcs8(db, &owner, key_id).await?;
    let signing = EncodingKey::from_ec_der(&pkcs8);
    drop(pkcs8);
    let mut verifying = HashMap::new();
    let mut jwks = Vec::new();
    for row in &rows {
        let jwk: Jwk = serde_json::from_str(&row.public_jwk).map_err(|_| TokenError::Signing)?;
        verifying.insert(
            row.kid.clone(),
            DecodingKey::from_jwk(&jwk).map_err(|_| TokenError::Signing)?,
        );
        jwks.push(jwk);
    }
    Ok(Keys {
        signing_kid: newest.kid.clone(),
        signing,
        verifying,
        jwks: JwkSet { keys: jwks },
    })
}
