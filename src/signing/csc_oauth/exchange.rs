//! The exchange of an approved code for a credential token (once across the cluster; a
//! reused code revokes what it issued), the credential token as a bearer, and RFC 7009
//! revocation of credential tokens and institution access tokens.

use aws_lc_rs::rand::SecureRandom;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{GrantProblem, pkce_s256_matches, token_hash};

/// How long a service token is good for (seconds): a client acting for a holder asks again
/// after an hour.
pub const SERVICE_TOKEN_TTL_SECS: i64 = 3600;

/// What an exchange issues: the token, its lifetime in seconds and its scope.
pub type Issued = (Zeroizing<String>, i64, &'static str);
use crate::{
    audit::{Action, Actor, NewEvent},
    custody::{OwnerId, record::RecordOf},
    signing::{Signing, SigningError, csc::sad_bytes},
    store::{self, StoreError, signing as db},
};

/// Why an approved code may not be exchanged now, whatever its scope: expired, another
/// redirect URI than the request's (exact match), or a verifier that is not the PKCE S256
/// challenge's; `None` when it may.
fn refusal(
    g: &db::GrantRow,
    code_exp: DateTime<Utc>,
    now: DateTime<Utc>,
    verifier: &str,
    redirect_uri: Option<&str>,
) -> Option<GrantProblem> {
    if now >= code_exp {
        Some("The authorization code expired")
    } else if redirect_uri != Some(g.redirect_uri.as_str()) {
        Some("The redirect_uri does not match the authorization request")
    } else if !pkce_s256_matches(verifier, &g.code_challenge) {
        Some("The code_verifier does not match the code_challenge")
    } else {
        None
    }
}

impl Signing {
    /// `grant_type=authorization_code`: exchanges an approved code once for a credential
    /// token (or, for a service request, a service token), its lifetime in seconds and its
    /// scope. The client was authenticated by the caller.
    pub async fn csc_oauth_exchange(
        &self,
        db: &DatabaseConnection,
        client: &db::InstitutionRow,
        code: &str,
        verifier: &str,
        redirect_uri: Option<&str>,
    ) -> Result<Result<Issued, GrantProblem>, SigningError> {
        const INVALID: GrantProblem = "The authorization code is not valid";
        let code_hash = token_hash(code);
        let Some(g) = db::grant_by_code(db, &code_hash).await? else {
            self.exchange_failed(db, client, None, "unknown code")
                .await?;
            return Ok(Err(INVALID));
        };
        if g.institution_id != client.id {
            // Another client's code: refused, and left for its own client.
            self.exchange_failed(db, client, Some(g.id), "another client's code")
                .await?;
            return Ok(Err(INVALID));
        }
        match g.status {
            db::GrantStatus::Approved => {}
            db::GrantStatus::Exchanged => return self.code_reused(db, &g).await,
            _ => {
                self.exchange_failed(db, client, Some(g.id), "code already used")
                    .await?;
                return Ok(Err(INVALID));
            }
        }
        if g.scope == db::GrantScope::Service {
            return self
                .exchange_service(db, client, &g, &code_hash, verifier, redirect_uri)
                .await;
        }
        let (
            Some(user),
            Some(activation),
            Some(key_id),
            Some(record),
            Some(act_exp),
            Some(code_exp),
        ) = (
            g.user_id.as_deref().and_then(|u| OwnerId::parse(u).ok()),
            g.activation_id,
            g.key_id,
            g.record.clone(),
            g.activation_expires_at,
            g.code_expires_at,
        )
        else {
            return Err(crate::store::columns::corrupt(
                "csc_oauth_grants",
                "record",
                "approved without its activation",
            )
            .into());
        };
        let now = self.clock.now();
        let why = refusal(&g, code_exp, now, verifier, redirect_uri);
        let of = RecordOf {
            owner: user.clone(),
            key_id,
            activation,
            expires_at: act_exp,
        };
        let Some(code_bytes) = sad_bytes(code) else {
            return Ok(Err(INVALID));
        };
        let mut raw = Zeroizing::new([0u8; 32]);
        self.rng
            .fill(raw.as_mut())
            .map_err(|_| SigningError::Random)?;
        let token = Zeroizing::new(B64URL.encode(raw.as_ref()));
        let resealed = match why {
            None => Some(
                self.custody
                    .reseal_record(&of, &code_bytes, raw.as_ref(), &record)?,
            ),
            Some(_) => None,
        };
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !db::consume_code(&txn, &code_hash).await? {
            drop(txn);
            // A concurrent exchange won: this is a second presentation of the code.
            let again = db::grant(db, g.id).await?.ok_or(SigningError::NotFound)?;
            return self.code_reused(db, &again).await;
        }
        let actor = Actor::Institution(client.id.clone());
        let Some(resealed) = resealed else {
            let reason = why.unwrap_or(INVALID);
            let event = NewEvent::new(actor, Action::CscOauthExchangeFailed)
                .subject(g.certificate_id.clone())
                .details(json!({"request": g.id.to_string(), "reason": reason}));
            store::audit::append_within(&txn, now, &[event]).await?;
            txn.commit().await.map_err(StoreError::from)?;
            self.custody.activations().remove(activation);
            return Ok(Err(reason));
        };
        let sad = db::SadRow {
            sad_hash: token_hash(&token),
            institution_id: client.id.clone(),
            certificate_id: g.certificate_id.clone(),
            user_id: user,
            activation_id: activation,
            hashes: g.hashes.clone(),
            remaining: g.num_signatures,
            expires_at: act_exp,
            key_id: Some(key_id),
            record: Some(resealed),
        };
        let event = NewEvent::new(actor, Action::CscOauthExchanged)
            .subject(g.certificate_id.clone())
            .details(json!({"request": g.id.to_string(), "activation": activation.to_string()}));
        db::insert_sad(&txn, &sad, now).await?;
        db::set_issued(&txn, g.id, &sad.sad_hash).await?;
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(Ok((
            token,
            (act_exp - now).num_seconds().max(1),
            "credential",
        )))
    }

    /// The exchange of a service request's code: the same checks (expiry, redirect URI, PKCE,
    /// once across the cluster), then a service token bound to the client and the holder
    /// who allowed it, stored only as its SHA-256, for [`SERVICE_TOKEN_TTL_SECS`].
    async fn exchange_service(
        &self,
        db: &DatabaseConnection,
        client: &db::InstitutionRow,
        g: &db::GrantRow,
        code_hash: &str,
        verifier: &str,
        redirect_uri: Option<&str>,
    ) -> Result<Result<Issued, GrantProblem>, SigningError> {
        let (Some(user), Some(code_exp)) = (g.user_id.clone(), g.code_expires_at) else {
            return Err(crate::store::columns::corrupt(
                "csc_oauth_grants",
                "user_id",
                "a service request allowed without its holder",
            )
            .into());
        };
        let now = self.clock.now();
        let why = refusal(g, code_exp, now, verifier, redirect_uri);
        let mut raw = Zeroizing::new([0u8; 32]);
        self.rng
            .fill(raw.as_mut())
            .map_err(|_| SigningError::Random)?;
        let token = Zeroizing::new(B64URL.encode(raw.as_ref()));
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !db::consume_code(&txn, code_hash).await? {
            drop(txn);
            let again = db::grant(db, g.id).await?.ok_or(SigningError::NotFound)?;
            return self.code_reused(db, &again).await;
        }
        let actor = Actor::Institution(client.id.clone());
        if let Some(reason) = why {
            let event = NewEvent::new(actor, Action::CscOauthExchangeFailed)
                .subject(client.id.clone())
                .details(json!({"request": g.id.to_string(), "reason": reason}));
            store::audit::append_within(&txn, now, &[event]).await?;
            txn.commit().await.map_err(StoreError::from)?;
            return Ok(Err(reason));
        }
        let hash = token_hash(&token);
        let row = db::ServiceTokenRow {
            institution_id: client.id.clone(),
            user_id: user.clone(),
            expires_at: now + chrono::Duration::seconds(SERVICE_TOKEN_TTL_SECS),
        };
        let event = NewEvent::new(actor, Action::CscOauthExchanged)
            .subject(client.id.clone())
            .details(json!({"request": g.id.to_string(), "scope": "service", "user": user}));
        db::insert_service_token(&txn, &hash, &row, g.id, now).await?;
        db::set_issued(&txn, g.id, &hash).await?;
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(Ok((token, SERVICE_TOKEN_TTL_SECS, "service")))
    }

    /// The client and holder behind a service token presented as the bearer, if it is live.
    pub async fn service_token_owner(
        &self,
        token: &str,
    ) -> Result<Option<(String, OwnerId)>, SigningError> {
        if sad_bytes(token).is_none() {
            return Ok(None);
        }
        let now = self.clock.now();
        Ok(db::service_token(&self.reads, &token_hash(token), now)
            .await?
            .and_then(|r| Some((r.institution_id, OwnerId::parse(&r.user_id).ok()?))))
    }

    async fn exchange_failed(
        &self,
        db: &DatabaseConnection,
        client: &db::InstitutionRow,
        request: Option<Uuid>,
        reason: &str,
    ) -> Result<(), SigningError> {
        let event = NewEvent::new(
            Actor::Institution(client.id.clone()),
            Action::CscOauthExchangeFailed,
        )
        .details(json!({"request": request.map(|r| r.to_string()), "reason": reason}));
        store::audit::append(db, self.clock.now(), &[event]).await?;
        Ok(())
    }

    /// A code presented after its exchange: refused, and the token it issued revoked.
    async fn code_reused(
        &self,
        db: &DatabaseConnection,
        g: &db::GrantRow,
    ) -> Result<Result<Issued, GrantProblem>, SigningError> {
        let now = self.clock.now();
        let txn = db.begin().await.map_err(StoreError::from)?;
        if db::mark_reused(&txn, g.id).await? {
            if let Some(issued) = &g.issued_sad_hash {
                db::delete_sad(&txn, issued).await?;
                db::delete_service_token(&txn, issued).await?;
            }
            let event = NewEvent::new(
                Actor::Institution(g.institution_id.clone()),
                Action::CscOauthCodeReused,
            )
            .subject(g.certificate_id.clone())
            .details(
                json!({"request": g.id.to_string(), "token_revoked": g.issued_sad_hash.is_some()}),
            );
            store::audit::append_within(&txn, now, &[event]).await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        if let Some(issued) = &g.issued_sad_hash {
            self.forget_sad(issued);
        }
        if let Some(a) = g.activation_id {
            self.custody.activations().remove(a);
        }
        Ok(Err(
            "The authorization code was used before; the token issued with it is revoked",
        ))
    }

    /// The institution behind a credential token (a CSC SAD presented as the bearer), if it
    /// is one that exists and is live.
    pub async fn credential_token_owner(
        &self,
        token: &str,
    ) -> Result<Option<String>, SigningError> {
        if sad_bytes(token).is_none() {
            return Ok(None);
        }
        self.sad_institution(token).await
    }

    /// RFC 7009 for a credential token: revoked if it is this client's (anything else is
    /// answered the same way, so tokens cannot be probed).
    pub async fn revoke_credential_token(
        &self,
        db: &DatabaseConnection,
        client: &db::InstitutionRow,
        token: &str,
    ) -> Result<(), SigningError> {
        let hash = token_hash(token);
        let Some(row) = db::sad(db, &hash).await? else {
            return self.revoke_service_token(db, client, &hash).await;
        };
        if row.institution_id != client.id {
            return Ok(());
        }
        let now = self.clock.now();
        let event = NewEvent::new(
            Actor::Institution(client.id.clone()),
            Action::CscOauthTokenRevoked,
        )
        .subject(row.certificate_id.clone())
        .details(json!({"kind": "credential", "activation": row.activation_id.to_string()}));
        let txn = db.begin().await.map_err(StoreError::from)?;
        if db::delete_sad(&txn, &hash).await? {
            store::audit::append_within(&txn, now, &[event]).await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        self.forget_sad(&hash);
        self.custody.activations().remove(row.activation_id);
        Ok(())
    }

    /// RFC 7009 for a service token: revoked at once on every node (its row is gone) if it is
    /// this client's; anything else changes nothing.
    async fn revoke_service_token(
        &self,
        db: &DatabaseConnection,
        client: &db::InstitutionRow,
        hash: &str,
    ) -> Result<(), SigningError> {
        let now = self.clock.now();
        let Some(row) = db::service_token(db, hash, now).await? else {
            return Ok(());
        };
        if row.institution_id != client.id {
            return Ok(());
        }
        let event = NewEvent::new(
            Actor::Institution(client.id.clone()),
            Action::CscOauthTokenRevoked,
        )
        .subject(client.id.clone())
        .details(json!({"kind": "service", "user": row.user_id}));
        let txn = db.begin().await.map_err(StoreError::from)?;
        if db::delete_service_token(&txn, hash).await? {
            store::audit::append_within(&txn, now, &[event]).await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// RFC 7009 for an institution access token (by its `jti`, until `expires_at`): refused
    /// on every node within a second (the revocation bumps the cache epoch).
    pub async fn revoke_access_token(
        &self,
        db: &DatabaseConnection,
        client: &db::InstitutionRow,
        jti: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), SigningError> {
        let now = self.clock.now();
        let event = NewEvent::new(
            Actor::Institution(client.id.clone()),
            Action::CscOauthTokenRevoked,
        )
        .details(json!({"kind": "access", "jti": jti}));
        let txn = db.begin().await.map_err(StoreError::from)?;
        db::revoke_access_token(&txn, jti, expires_at).await?;
        store::epochs::bump(&txn).await?;
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Whether an institution access token was revoked (cached per node while it is not).
    pub async fn access_token_revoked(&self, jti: &str) -> Result<bool, SigningError> {
        let key = jti.to_owned();
        if self.live_tokens.get(&key).is_some() {
            return Ok(false);
        }
        let tag = self.live_tokens.begin();
        let revoked = db::access_token_revoked(&self.reads, jti).await?;
        if !revoked {
            self.live_tokens.put(tag, key, ());
        }
        Ok(revoked)
    }
}
