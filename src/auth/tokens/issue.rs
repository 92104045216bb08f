//! Issuing access tokens: ES256 JWTs for users (with `amr`) and institutions (with `scope`),
//! each kind under its own audience, signed with the newest key and timed by the service clock.

use jsonwebtoken::{Algorithm, Header};
use uuid::Uuid;

use super::{Audience, Claims, TokenError, TokenService};
use crate::custody::OwnerId;

impl TokenService {
    /// An access token for `subject` in session `sid` (its refresh family).
    pub fn access_token(
        &self,
        subject: &OwnerId,
        amr: &[&str],
        sid: &str,
    ) -> Result<(String, i64), TokenError> {
        self.sign(
            Audience::User,
            subject.as_str(),
            amr.iter().map(|s| (*s).to_owned()).collect(),
            String::new(),
            sid.to_owned(),
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
            String::new(),
        )
    }

    pub(super) fn audience(&self, audience: Audience) -> String {
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
        sid: String,
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
            sid,
        };
        let keys = self.keys.read().map_err(|_| TokenError::Signing)?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(keys.signing_kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &keys.signing)
            .map_err(|_| TokenError::Signing)?;
        Ok((token, self.settings.access_ttl.num_seconds()))
    }
}
