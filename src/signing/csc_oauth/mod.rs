//! User-authorized CSC (SCAL 2 by OAuth 2.0 authorization code with PKCE S256): the
//! institution's client sends the holder to `oauth2/authorize`, the holder signs in on the
//! portal, sees what is asked and approves with the PIN (or refuses), and the client exchanges
//! the code once for a *credential token* bound to itself, the credential and exactly those
//! hashes.
//!
//! The approval activates the key as a cluster authorization (as `credentials/authorize`
//! does), its activation record sealed under a key derived from the **code**, which is stored
//! only as its SHA-256. The exchange consumes the code in one conditional update (once across
//! the cluster), checks the client, redirect URI, expiry and PKCE verifier, then re-seals the
//! record under a fresh credential token (no KMS call) and stores it as a CSC SAD row: from
//! there the SAD rules hold (each hash signs once across the cluster; `csc.rs`). A code
//! presented again is refused and the token issued from it is revoked (RFC 6749 §4.1.2).
//!
//! With `scope=service` the request names no credential: the signed-in holder *allows* the
//! client to act for them in the CSC service (no activation), and the code buys a *service
//! token* (`exchange`), bound to the client and that holder, with which `credentials/list`,
//! `info` and `authorize` see that holder's consented credentials only (`Caller::user`);
//! every authorization still needs the PIN.
//!
//! Never: a code or token in a log, an error, an audit event or the database in plaintext.
//!
//! Where things are: `ask` (the authorize query, PKCE, redirect URIs; pure), this file (the
//! request, the holder's view and decision), `exchange` (code → credential token, reuse,
//! revocation), `redirect_uris` (the operator's registry).

mod ask;
mod exchange;
mod redirect_uris;

use aws_lc_rs::rand::SecureRandom;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use chrono::Duration;
use fincert_client::proto::csc_oauth::{CscAuthorizationView, CscCredentialAsked};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

pub use ask::{
    Ask, Asked, Dialect, Refusal, SHA256_OID, is_pkce_verifier, parse_ask, parse_redirect_uri,
    pkce_s256_matches, redirect_with, state_of,
};
pub use redirect_uris::{add_redirect_uri, redirect_uris, remove_redirect_uri};

use super::{Signing, SigningError, csc::sad_hash, request::Target};
use crate::{
    audit::{Action, Actor, NewEvent},
    custody::{OwnerId, Unlock},
    domain::pin::Pin,
    store::{self, StoreError, signing as db},
};

/// The WebAuthn ceremony kind of a passkey approval.
const CSC_CEREMONY: &str = "csc_approve";

/// How long the holder has to decide.
pub const REQUEST_TTL_SECS: i64 = 600;
/// How long a code may wait for its exchange (RFC 6749 §4.1.2 recommends at most 10 minutes;
/// a client exchanges at once).
pub const CODE_TTL_SECS: i64 = 60;

/// Why an exchange is refused (`invalid_grant`); the description is safe to return.
pub type GrantProblem = &'static str;

fn token_hash(token: &str) -> String {
    sad_hash(token)
}

impl Signing {
    /// The active institution with OAuth client id `client_id` whose registered redirect URIs
    /// include exactly `redirect_uri`; `None` if either is wrong (the authorize page then shows
    /// an error and redirects nowhere).
    pub async fn oauth_client(
        &self,
        db: &DatabaseConnection,
        client_id: &str,
        redirect_uri: &str,
    ) -> Result<Option<db::InstitutionRow>, SigningError> {
        let Some(row) = db::institution_by_client_id(db, client_id).await? else {
            return Ok(None);
        };
        if row.status != crate::domain::institution_status::InstitutionStatus::Active {
            return Ok(None);
        }
        Ok(db::redirect_uri_registered(db, &row.id, redirect_uri)
            .await?
            .then_some(row))
    }

    /// Audits an authorize request refused before the holder saw it.
    pub async fn csc_oauth_invalid(
        &self,
        db: &DatabaseConnection,
        client: &str,
        why: &str,
    ) -> Result<(), SigningError> {
        let event = NewEvent::new(
            Actor::Institution(client.chars().take(64).collect()),
            Action::CscOauthInvalid,
        )
        .details(json!({"reason": why}));
        store::audit::append(db, self.clock.now(), &[event]).await?;
        Ok(())
    }

    /// Stores what a checked authorize request asks for, until the holder decides. The
    /// credential must be consented to the institution (else the client hears
    /// `invalid_request`, as it would from `credentials/authorize`).
    pub async fn csc_oauth_begin(
        &self,
        db: &DatabaseConnection,
        client: &db::InstitutionRow,
        redirect_uri: &str,
        ask: &Ask,
    ) -> Result<Option<Uuid>, SigningError> {
        // Bounded like signature requests: each stored request is a row and an audit event.
        crate::auth::rate_limit::check(
            db,
            &format!("oauth:authorize:{}", client.id),
            crate::auth::rate_limit::Limit {
                max: self.settings.requests_per_institution_per_minute,
                window_secs: 60,
            },
            self.clock.now(),
        )
        .await??;
        let (scope, cert, hashes) = match &ask.asked {
            Asked::Credential {
                credential_id,
                hashes,
            } => {
                let cert = credential_id.to_string();
                if db::live_consent(db, &client.id, &cert).await?.is_none() {
                    self.csc_oauth_invalid(
                        db,
                        &client.id,
                        "credential not registered with the client",
                    )
                    .await?;
                    return Ok(None);
                }
                (db::GrantScope::Credential, cert, hashes.as_slice())
            }
            // No credential: the grant binds to the holder who allows it.
            Asked::Service => (db::GrantScope::Service, String::new(), &[][..]),
        };
        let now = self.clock.now();
        let row = db::GrantRow {
            scope,
            id: Uuid::new_v4(),
            institution_id: client.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: ask.code_challenge.clone(),
            state: ask.state.clone(),
            certificate_id: cert,
            num_signatures: i32::try_from(hashes.len()).unwrap_or(i32::MAX),
            hashes: hashes.iter().map(|d| d.to_b64()).collect(),
            description: ask.description.clone(),
            status: db::GrantStatus::Pending,
            expires_at: now + Duration::seconds(REQUEST_TTL_SECS),
            code_expires_at: None,
            user_id: None,
            activation_id: None,
            key_id: None,
            record: None,
            activation_expires_at: None,
            issued_sad_hash: None,
        };
        let event = NewEvent::new(
            Actor::Institution(client.id.clone()),
            Action::CscOauthRequested,
        )
        .subject(match scope {
            db::GrantScope::Credential => row.certificate_id.clone(),
            db::GrantScope::Service => client.id.clone(),
        })
        .details(json!({
            "request": row.id.to_string(),
            "scope": scope.as_str(),
            "redirect_uri": redirect_uri,
            "num_signatures": row.num_signatures,
            "digests": hashes.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
        }));
        let txn = db.begin().await.map_err(StoreError::from)?;
        db::insert_grant(&txn, &row, now).await?;
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(Some(row.id))
    }

    /// A pending request of the signed-in holder's: a credential request with its
    /// certificate (the holder's own), or a service request (whoever signed in and holds its
    /// id, which only the browser sent to the portal knows; it binds to them when allowed).
    async fn pending_grant(
        &self,
        db: &DatabaseConnection,
        user: &OwnerId,
        id: Uuid,
    ) -> Result<(db::GrantRow, Option<store::pki::CertificateRow>), SigningError> {
        let g = db::grant(db, id).await?.ok_or(SigningError::NotFound)?;
        let cert = match g.scope {
            db::GrantScope::Credential => {
                let cert = store::pki::certificate_by_id(db, &g.certificate_id)
                    .await?
                    .ok_or(SigningError::NotFound)?;
                // Someone else's request is not found, so ids cannot be probed.
                if cert.owner_id != *user {
                    return Err(SigningError::NotFound);
                }
                Some(cert)
            }
            db::GrantScope::Service => None,
        };
        if g.status != db::GrantStatus::Pending || self.clock.now() >= g.expires_at {
            return Err(SigningError::NotPending("decided or expired"));
        }
        Ok((g, cert))
    }

    /// A pending credential request of the holder's, with its certificate; a service request
    /// is allowed, not approved with a secret.
    async fn pending_credential_grant(
        &self,
        db: &DatabaseConnection,
        user: &OwnerId,
        id: Uuid,
    ) -> Result<(db::GrantRow, store::pki::CertificateRow), SigningError> {
        match self.pending_grant(db, user, id).await? {
            (g, Some(cert)) => Ok((g, cert)),
            (_, None) => Err(SigningError::NotPending(
                "a service request is allowed, not approved with a PIN or passkey",
            )),
        }
    }

    /// What the consent page shows.
    pub async fn csc_oauth_view(
        &self,
        db: &DatabaseConnection,
        user: &OwnerId,
        id: Uuid,
    ) -> Result<CscAuthorizationView, SigningError> {
        let (g, cert) = self.pending_grant(db, user, id).await?;
        let inst = db::institution(db, &g.institution_id)
            .await?
            .ok_or(SigningError::NotFound)?;
        let credential = cert.map(|cert| CscCredentialAsked {
            credential_id: g.certificate_id.clone(),
            subject: cert.subject,
            serial: cert.serial_hex,
            num_signatures: u32::try_from(g.num_signatures).unwrap_or(0),
            hash_count: u32::try_from(g.hashes.len()).unwrap_or(0),
        });
        Ok(CscAuthorizationView {
            id: g.id.to_string(),
            scope: g.scope.as_str().to_owned(),
            institution: inst.name,
            credential,
            description: g.description,
            expires_at: g.expires_at.to_rfc3339(),
        })
    }

    /// The holder approves with the PIN: the key is activated for exactly the asked hashes
    /// (wrong PINs count towards the lock as everywhere), and the answer is the client's
    /// redirect URI with the one-time code and the state.
    pub async fn csc_oauth_approve(
        &self,
        db: &DatabaseConnection,
        user: &OwnerId,
        id: Uuid,
        pin: &Pin,
    ) -> Result<String, SigningError> {
        let (g, _) = self.pending_credential_grant(db, user, id).await?;
        let (cert, key) = self.grant_key(&g).await?;
        self.approve_grant(db, user, g, cert, key, Unlock::Pin(pin))
            .await
    }

    /// The certificate and cloud key a request would activate, checked as a signature would
    /// be (institution active, consent live, certificate usable, usage allowed).
    async fn grant_key(
        &self,
        g: &db::GrantRow,
    ) -> Result<(store::pki::CertificateRow, Uuid), SigningError> {
        let caller = self.caller(&g.institution_id, "sign").await?;
        let credential = Uuid::parse_str(&g.certificate_id).map_err(|_| SigningError::NotFound)?;
        let (cert, key, _) = self
            .resolve(&caller, &Target::Certificate(credential), None)
            .await?;
        Ok((cert, key.ok_or(SigningError::DeviceKey)?))
    }

    /// The WebAuthn challenge of a passkey approval: it commits to the request (its id,
    /// client, credential and hashes) and a nonce, so an assertion approves this one only.
    fn grant_challenge(g: &db::GrantRow, nonce: &[u8]) -> [u8; 32] {
        let canonical = super::request::Digest::of(
            json!({
                "csc_authorization": g.id.to_string(),
                "institution": g.institution_id,
                "credential": g.certificate_id,
                "hashes": g.hashes,
            })
            .to_string()
            .as_bytes(),
        );
        super::request::approval_challenge(&canonical, nonce)
    }

    /// Starts a passkey approval: WebAuthn options whose challenge commits to the request.
    pub async fn csc_oauth_passkey_start(
        &self,
        db: &DatabaseConnection,
        user: &OwnerId,
        id: Uuid,
    ) -> Result<
        crate::auth::passkeys::Ceremony<webauthn_rs::prelude::RequestChallengeResponse>,
        SigningError,
    > {
        let (g, _) = self.pending_credential_grant(db, user, id).await?;
        let (_, key) = self.grant_key(&g).await?;
        let mut nonce = [0u8; 16];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SigningError::Random)?;
        let challenge = Self::grant_challenge(&g, &nonce);
        let binding = format!("{}:{}", g.id, hex::encode(nonce));
        Ok(self
            .passkeys
            .start_bound_authentication(db, user, key, CSC_CEREMONY, &binding, challenge)
            .await?)
    }

    /// Finishes a passkey approval: the assertion must answer this request's challenge and
    /// the passkey must hold a copy of the key's data key.
    pub async fn csc_oauth_passkey_finish(
        &self,
        db: &DatabaseConnection,
        user: &OwnerId,
        id: Uuid,
        ceremony: &str,
        credential: &webauthn_rs::prelude::PublicKeyCredential,
        prf: Option<&str>,
    ) -> Result<String, SigningError> {
        let (g, _) = self.pending_credential_grant(db, user, id).await?;
        let expected = |binding: &str| {
            let (request, nonce) = binding.split_once(':')?;
            let nonce = hex::decode(nonce).ok()?;
            (request == g.id.to_string()).then(|| Self::grant_challenge(&g, &nonce))
        };
        let (signer, credential_id, prf) = self
            .passkeys
            .finish_bound_authentication(db, ceremony, CSC_CEREMONY, expected, credential, prf)
            .await?;
        if signer != *user {
            return Err(SigningError::NotFound);
        }
        let (cert, key) = self.grant_key(&g).await?;
        let unlock = Unlock::Passkey(&credential_id, prf.as_ref());
        self.approve_grant(db, user, g, cert, key, unlock).await
    }

    /// Activates the key for exactly the request's hashes and stores the one-time code.
    async fn approve_grant(
        &self,
        db: &DatabaseConnection,
        user: &OwnerId,
        g: db::GrantRow,
        cert: store::pki::CertificateRow,
        key: Uuid,
        unlock: Unlock<'_>,
    ) -> Result<String, SigningError> {
        let id = g.id;
        let mut code = Zeroizing::new([0u8; 32]);
        self.rng
            .fill(code.as_mut())
            .map_err(|_| SigningError::Random)?;
        let num = u32::try_from(g.num_signatures).unwrap_or(0);
        let unlock_kind = matches!(unlock, Unlock::Passkey(..));
        let (activation, record) = self
            .custody
            .activate_for_sad(db, &cert.owner_id, key, unlock, code.as_ref(), num)
            .await?;
        let code_text = Zeroizing::new(B64URL.encode(code.as_ref()));
        let now = self.clock.now();
        let code_hash = token_hash(&code_text);
        let approval = db::Approval {
            code_hash: &code_hash,
            code_expires_at: (now + Duration::seconds(CODE_TTL_SECS)).min(activation.expires_at),
            user_id: user.as_str(),
            activation_id: activation.id,
            key_id: key,
            record: &record,
            activation_expires_at: activation.expires_at,
        };
        let event = NewEvent::new(user.actor(), Action::CscOauthApproved)
            .subject(cert.serial_hex.clone())
            .details(json!({
                "with": if unlock_kind { "passkey" } else { "pin" },
                "request": id.to_string(),
                "institution": g.institution_id,
                "activation": activation.id.to_string(),
                "num_signatures": num,
            }));
        let stored = async {
            let txn = db.begin().await.map_err(StoreError::from)?;
            if !db::approve_grant(&txn, id, &approval, now).await? {
                return Ok(false);
            }
            store::audit::append_within(&txn, now, &[event]).await?;
            txn.commit().await.map_err(StoreError::from)?;
            Ok::<_, StoreError>(true)
        }
        .await;
        match stored {
            Ok(true) => Ok(redirect_with(
                &g.redirect_uri,
                &[("code", code_text.as_str())],
                g.state.as_deref(),
            )),
            other => {
                self.custody.activations().remove(activation.id);
                match other {
                    Err(e) => Err(e.into()),
                    _ => Err(SigningError::NotPending("decided or expired")),
                }
            }
        }
    }

    /// The signed-in holder allows a service request: the client may act for them in the CSC
    /// service (list and read their credentials, ask for authorizations, each with its PIN)
    /// with the token its code buys. The answer is the client's redirect URI with the one-time
    /// code and the state.
    pub async fn csc_oauth_allow(
        &self,
        db: &DatabaseConnection,
        user: &OwnerId,
        id: Uuid,
    ) -> Result<String, SigningError> {
        let (g, cert) = self.pending_grant(db, user, id).await?;
        if cert.is_some() {
            return Err(SigningError::NotPending(
                "a credential request is approved with the PIN or a passkey",
            ));
        }
        let mut code = Zeroizing::new([0u8; 32]);
        self.rng
            .fill(code.as_mut())
            .map_err(|_| SigningError::Random)?;
        let code_text = Zeroizing::new(B64URL.encode(code.as_ref()));
        let now = self.clock.now();
        let event = NewEvent::new(user.actor(), Action::CscOauthApproved)
            .subject(g.institution_id.clone())
            .details(json!({
                "with": "session",
                "scope": "service",
                "request": id.to_string(),
                "institution": g.institution_id,
            }));
        let txn = db.begin().await.map_err(StoreError::from)?;
        let code_expires = now + Duration::seconds(CODE_TTL_SECS);
        if !db::allow_service_grant(
            &txn,
            id,
            &token_hash(&code_text),
            code_expires,
            user.as_str(),
            now,
        )
        .await?
        {
            return Err(SigningError::NotPending("decided or expired"));
        }
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(redirect_with(
            &g.redirect_uri,
            &[("code", code_text.as_str())],
            g.state.as_deref(),
        ))
    }

    /// The holder refuses: the client's redirect URI with `error=access_denied`.
    pub async fn csc_oauth_refuse(
        &self,
        db: &DatabaseConnection,
        user: &OwnerId,
        id: Uuid,
    ) -> Result<String, SigningError> {
        let (g, cert) = self.pending_grant(db, user, id).await?;
        let now = self.clock.now();
        let event = NewEvent::new(user.actor(), Action::CscOauthRefused)
            .subject(cert.map_or_else(|| g.institution_id.clone(), |c| c.serial_hex))
            .details(json!({
                "request": id.to_string(),
                "institution": g.institution_id,
                "scope": g.scope.as_str(),
            }));
        let txn = db.begin().await.map_err(StoreError::from)?;
        if !db::refuse_grant(&txn, id).await? {
            return Err(SigningError::NotPending("decided or expired"));
        }
        store::audit::append_within(&txn, now, &[event]).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(redirect_with(
            &g.redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "The holder refused the authorization"),
            ],
            g.state.as_deref(),
        ))
    }
}
