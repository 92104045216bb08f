//! Sessions: refresh tokens are 256-bit random strings stored only as SHA-256 hashes,
//! single-use and rotated in families. A token presented twice revokes its whole family
//! (audited); logout revokes the family too. Raw refresh tokens are never stored or logged.

use aws_lc_rs::{
    digest,
    rand::{SecureRandom, SystemRandom},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use super::{TokenError, TokenPair, TokenService};
use crate::{
    audit::{Action, Actor, NewEvent},
    custody::OwnerId,
    store::{self, StoreError},
};

fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

impl TokenService {
    /// A new session for `subject` (after a successful PIN or passkey check).
    pub async fn new_session(
        &self,
        db: &DatabaseConnection,
        subject: &OwnerId,
        amr: &str,
    ) -> Result<TokenPair, TokenError> {
        self.pair(db, subject, amr, &Uuid::new_v4().to_string())
            .await
    }

    /// An access token for `subject` and a fresh refresh token in `family`, as one pair.
    async fn pair(
        &self,
        db: &DatabaseConnection,
        subject: &OwnerId,
        amr: &str,
        family: &str,
    ) -> Result<TokenPair, TokenError> {
        let (access, expires_in) = self.access_token(subject, &[amr], family)?;
        let refresh = self.store_refresh(db, subject, amr, family).await?;
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
                owner_id: subject.clone(),
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
        // A family revoked while this token was being issued (a logout racing a refresh)
        // stays revoked: its later tokens are refused too.
        if row.revoked_at.is_some()
            || row.expires_at <= now
            || store::tokens::family_revoked(db, &row.family_id).await?
        {
            return Err(TokenError::RefreshInvalid);
        }
        if row.used_at.is_some() || !store::tokens::use_refresh(db, &row.id, now).await? {
            let txn = db.begin().await.map_err(StoreError::from)?;
            store::tokens::revoke_family(&txn, &row.family_id, now).await?;
            // Its access tokens stop on every node at their next epoch poll.
            store::epochs::bump(&txn).await?;
            let event = NewEvent::new(
                Actor::User(row.owner_id.as_str().to_owned()),
                Action::RefreshTokenReused,
            )
            .details(json!({"family": row.family_id}));
            store::audit::append_within(&txn, now, &[event]).await?;
            txn.commit().await.map_err(StoreError::from)?;
            return Err(TokenError::RefreshReused);
        }
        self.pair(db, &row.owner_id, &row.amr, &row.family_id).await
    }

    /// Ends a session: revokes the refresh token's family (audited) and, through the cache
    /// epoch bumped in the same transaction, every access token of the session on every node.
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
        store::epochs::bump(&txn).await?;
        let event = NewEvent::new(
            Actor::User(row.owner_id.as_str().to_owned()),
            Action::LoggedOut,
        )
        .details(json!({"family": row.family_id}));
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }
}
