//! Verifying access tokens: the algorithm is pinned to ES256 before any key is used, the
//! `kid` must name a published key, issuer and audience must be ours, and time is checked
//! against the service clock. Tokens already verified are remembered (by fingerprint) until
//! they expire, so a repeated token costs one hash. A user's token is then checked against
//! its session ([`TokenService::verify_session`]): revoked sessions are refused on every node
//! within a second of the logout.

use jsonwebtoken::{Algorithm, Validation};

use super::{Audience, Claims, TokenError, TokenService};

/// Access tokens already verified, by SHA-256 of audience and token, until they expire.
#[derive(Default)]
pub(super) struct VerifiedTokens(std::sync::Mutex<std::collections::HashMap<[u8; 32], Claims>>);

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

impl TokenService {
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

    /// Follows the cluster's cache epoch for the live-session cache (called once at start-up).
    pub fn follow_epochs(&self, epochs: std::sync::Arc<crate::signing::checks::Epochs>) {
        // A second call keeps the first cache; both follow the same epoch.
        let _ = self
            .live_sessions
            .set(crate::signing::checks::Cached::new(epochs));
    }

    /// Verifies a user's access token (see [`verify`](Self::verify)) and that its session is
    /// still live: a logged-out (or reuse-revoked) session's tokens are refused. Live answers
    /// are cached per node and dropped when the cache epoch moves, which logout bumps; without
    /// a fresh epoch poll every check reads the database.
    pub async fn verify_session(
        &self,
        db: &sea_orm::DatabaseConnection,
        token: &str,
    ) -> Result<Claims, TokenError> {
        let claims = self.verify(token)?;
        if claims.sid.is_empty() {
            return Ok(claims);
        }
        let cache = self.live_sessions.get();
        if cache.is_some_and(|c| c.get(&claims.sid).is_some()) {
            return Ok(claims);
        }
        let tag = cache.and_then(crate::signing::checks::Cached::begin);
        if crate::store::tokens::family_revoked(db, &claims.sid).await? {
            return Err(TokenError::Invalid);
        }
        if let Some(c) = cache {
            c.put(tag, claims.sid.clone(), ());
        }
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
}
