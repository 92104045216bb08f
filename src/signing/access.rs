//! OAuth2 client credentials: who an institution is, and what its token may do.

use super::*;

impl Signing {
    /// Checks client credentials; returns the institution and the scope to grant. An unknown
    /// client, a wrong secret and a disabled institution are the same `InvalidClient` to the
    /// caller (and audited). Limited per client id before any secret is compared.
    pub async fn authenticate_client(
        &self,
        db: &DatabaseConnection,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<ClientAuth, SigningError> {
        let now = self.clock.now();
        rate_limit::check(
            db,
            &format!(
                "oauth:client:{}",
                client_id.chars().take(64).collect::<String>()
            ),
            rate_limit::Limit {
                max: self.settings.token_requests_per_client_per_minute,
                window_secs: 60,
            },
            now,
        )
        .await??;
        let row = db::institution_by_client_id(db, client_id).await?;
        let ok = row.as_ref().is_some_and(|r| {
            r.status == InstitutionStatus::Active
                && institution::secret_matches(
                    client_secret,
                    &StoredSecrets {
                        current: &r.secret_hash,
                        previous: r
                            .previous_secret_hash
                            .as_deref()
                            .zip(r.previous_secret_until),
                    },
                    now,
                )
        });
        let Some(row) = row.filter(|_| ok) else {
            let event = NewEvent::new(
                Actor::Institution(client_id.chars().take(64).collect()),
                Action::InstitutionAuthFailed,
            );
            store::audit::append(db, now, &[event]).await?;
            return Ok(ClientAuth::InvalidClient);
        };
        let Some(granted) = institution::grant_scopes(scope, &row.scopes) else {
            return Ok(ClientAuth::InvalidScope);
        };
        let event = NewEvent::new(
            Actor::Institution(row.id.clone()),
            Action::InstitutionAuthenticated,
        )
        .details(json!({"scope": granted}));
        store::audit::append(db, now, &[event]).await?;
        Ok(ClientAuth::Ok(Box::new(row), granted))
    }

    /// The institution behind a verified token's subject.
    pub async fn caller(&self, institution_id: &str, scope: &str) -> Result<Caller, SigningError> {
        // A read: on a reader beside the writer (SQLite WAL), not queued behind a commit.
        let db = &self.reads;
        let key = institution_id.to_owned();
        let row = match self.institutions.get(&key) {
            Some(row) => row,
            None => {
                let tag = self.institutions.begin();
                let row = db::institution(db, institution_id)
                    .await?
                    .ok_or(SigningError::InstitutionNotFound)?;
                if row.status != InstitutionStatus::Active {
                    return Err(SigningError::InstitutionDisabled);
                }
                self.institutions.put(tag, key, row.clone());
                row
            }
        };
        Ok(Caller {
            institution: row,
            scope: scope.to_owned(),
            user: None,
        })
    }
}
