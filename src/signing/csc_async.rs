//! Asynchronous CSC signing (`operationMode: "A"` on `signatures/signHash` and `signDoc`,
//! CSC 2.0.0.2): the call is checked as a synchronous one would be, then answered at once with
//! a `responseID` while the signing runs on this node; its answer (the signatures, or the CSC
//! error the synchronous call would have given) is written to `csc_async_results`, where
//! `signatures/signPolling` finds it on any node, after restarts, until `validity_period`
//! ends. With a `response_uri`, the same answer (with its `responseID`) is posted there
//! through the webhook queue: signed like every webhook, retried by whichever node is free.
//!
//! The SAD never leaves the request's memory: a node that stops while a call is being made
//! leaves it `pending`, and polling answers such a call, once older than
//! [`ORPHANED_AFTER_SECS`], as not completed (nothing of a spend is half-written: a hash is
//! signed and stored in one commit or not at all, so the synchronous retry with the same SAD
//! gets what was made).

use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};
use uuid::Uuid;

use super::{Caller, Signing, SigningError};
use crate::{
    domain::delivery_status::DeliveryStatus,
    store::{self, signing as db},
};

/// How long a result is kept when the call names no `validity_period` (milliseconds).
pub const DEFAULT_VALIDITY_MS: u64 = 10 * 60 * 1000;
/// The longest a result is kept, whatever the call asks (milliseconds).
pub const MAX_VALIDITY_MS: u64 = 60 * 60 * 1000;
/// The shortest (milliseconds): a result must outlive the call that makes it.
pub const MIN_VALIDITY_MS: u64 = 10 * 1000;
/// A call still pending this long after it was asked will not complete: its node stopped.
pub const ORPHANED_AFTER_SECS: i64 = 60;

/// What polling finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled {
    /// Still being made.
    Pending,
    /// Never completed (its node stopped while making it).
    Orphaned,
    /// The answer: HTTP status and JSON body.
    Answer {
        /// HTTP status of the answer.
        status: u16,
        /// The JSON body.
        body: String,
    },
}

/// How long a result asked to live `validity_ms` is kept: the default when not asked,
/// otherwise bounded to [`MIN_VALIDITY_MS`, `MAX_VALIDITY_MS`].
pub fn validity(validity_ms: Option<u64>) -> Duration {
    let ms = validity_ms
        .unwrap_or(DEFAULT_VALIDITY_MS)
        .clamp(MIN_VALIDITY_MS, MAX_VALIDITY_MS);
    Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
}

impl Signing {
    /// Records an asynchronous call of `caller`'s, kept for `validity_ms`; returns its
    /// responseID.
    pub async fn csc_async_begin(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        validity_ms: Option<u64>,
    ) -> Result<String, SigningError> {
        caller.require("sign")?;
        let now = self.clock.now();
        let id = Uuid::new_v4().to_string();
        db::insert_async_result(
            db,
            &id,
            &caller.institution.id,
            now,
            now + validity(validity_ms),
        )
        .await?;
        Ok(id)
    }

    /// Writes a call's answer (`status`, JSON `body`) and, with `response_uri`, queues its
    /// delivery there, in one transaction.
    pub async fn csc_async_finish(
        &self,
        db: &DatabaseConnection,
        institution_id: &str,
        id: &str,
        status: u16,
        body: &str,
        response_uri: Option<&str>,
    ) -> Result<(), SigningError> {
        let now = self.clock.now();
        let outcome = if (200..300).contains(&status) {
            db::AsyncStatus::Done
        } else {
            db::AsyncStatus::Failed
        };
        let txn = db.begin().await.map_err(store::StoreError::from)?;
        if !db::complete_async_result(&txn, id, outcome, status, body).await? {
            // Expired and purged meanwhile: nobody can fetch it, nothing to deliver.
            return Ok(());
        }
        if let Some(url) = response_uri {
            db::insert_delivery(&txn, &delivery(institution_id, id, url, body, now)?, now).await?;
        }
        txn.commit().await.map_err(store::StoreError::from)?;
        Ok(())
    }

    /// `signatures/signPolling`: the call `id` of `caller`'s, if it is kept (another
    /// institution's is unknown to it).
    pub async fn csc_async_poll(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        id: &str,
    ) -> Result<Option<Polled>, SigningError> {
        caller.require("sign")?;
        let now = self.clock.now();
        let Some(row) = db::async_result(db, id, now).await? else {
            return Ok(None);
        };
        if row.institution_id != caller.institution.id {
            return Ok(None);
        }
        Ok(Some(match (row.status, row.http_status, row.body) {
            (db::AsyncStatus::Pending, _, _) => {
                if now - row.created_at > Duration::seconds(ORPHANED_AFTER_SECS) {
                    Polled::Orphaned
                } else {
                    Polled::Pending
                }
            }
            (_, Some(status), Some(body)) => Polled::Answer {
                status: u16::try_from(status).unwrap_or(500),
                body,
            },
            _ => {
                return Err(store::columns::corrupt(
                    "csc_async_results",
                    "body",
                    "a completed result without its answer",
                )
                .into());
            }
        }))
    }
}

/// The webhook delivery of an answer to `response_uri`: the answer with its `responseID`.
fn delivery(
    institution_id: &str,
    id: &str,
    url: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<db::DeliveryRow, SigningError> {
    let mut answer: serde_json::Value = serde_json::from_str(body).map_err(|_| {
        store::columns::corrupt("csc_async_results", "body", "an answer that is not JSON")
    })?;
    if let serde_json::Value::Object(m) = &mut answer {
        m.insert(
            "responseID".into(),
            serde_json::Value::String(id.to_owned()),
        );
    }
    Ok(db::DeliveryRow {
        id: Uuid::new_v4().to_string(),
        institution_id: institution_id.to_owned(),
        request_id: id.to_owned(),
        url: url.to_owned(),
        body: answer.to_string(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        last_status: None,
        last_error: None,
        delivered_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_bounded() {
        assert_eq!(validity(None), Duration::minutes(10));
        assert_eq!(validity(Some(1)), Duration::seconds(10));
        assert_eq!(validity(Some(90_000)), Duration::seconds(90));
        assert_eq!(validity(Some(u64::MAX)), Duration::hours(1));
    }

    #[test]
    fn a_delivery_carries_the_response_id() {
        let d = delivery(
            "inst",
            "resp-1",
            "https://bank.example/hook",
            r#"{"signatures":["AA=="]}"#,
            Utc::now(),
        )
        .unwrap();
        let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(body["responseID"], "resp-1");
        assert_eq!(body["signatures"][0], "AA==");
        assert_eq!(d.request_id, "resp-1");
        assert!(delivery("inst", "r", "https://x.example", "not json", Utc::now()).is_err());
    }
}
