//! A certificate's usage history (`signature_requests` joined with `institutions`), one page
//! at a time: keyset pagination on `(created_at, id)`, newest first, served by
//! `idx_signature_requests_history`. The rules (what is history, what a filter means) are in
//! `signing::history`; this file only writes them as SQL.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value};
use uuid::Uuid;

use crate::{
    signing::history::{Filter, HistoryItem, HistoryKind, HistoryResult},
    store::{
        StoreError,
        columns::{corrupt, json, text},
        sql::{all, get, typed},
    },
};
use fincert_client::proto::institutions::{Format, Purpose, Status};

const T: &str = "signature_requests";

/// One page (and one row more, so the caller knows whether another page follows) of
/// `user`'s requests with `certificate` that are history at `now`, newest first.
pub async fn history<C: ConnectionTrait>(
    conn: &C,
    user: &str,
    certificate: Uuid,
    filter: &Filter,
    now: DateTime<Utc>,
) -> Result<Vec<HistoryItem>, StoreError> {
    let mut params: Vec<Value> = vec![
        user.into(),
        text(&certificate),
        now.into(),
        text(&Status::Pending),
    ];
    let next = |params: &mut Vec<Value>, v: Value| {
        params.push(v);
        format!("${}", params.len())
    };
    // History: decided, or pending past its expiry.
    let mut sql = String::from(
        "SELECT r.id, r.purpose, i.name AS institution, r.display_text, r.digests, r.format, \
         r.status, r.created_at, r.expires_at, r.decided_at \
         FROM signature_requests r JOIN institutions i ON i.id = r.institution_id \
         WHERE r.user_id = $1 AND r.certificate_id = $2 AND (r.status <> $4 OR r.expires_at <= $3)",
    );
    if let Some(from) = filter.from {
        let p = next(&mut params, from.into());
        sql.push_str(&format!(" AND r.created_at >= {p}"));
    }
    if let Some(to) = filter.to {
        let p = next(&mut params, to.into());
        sql.push_str(&format!(" AND r.created_at < {p}"));
    }
    if let Some(kind) = filter.kind {
        let purpose = match kind {
            HistoryKind::Signature => Purpose::Sign,
            HistoryKind::Login => Purpose::Login,
        };
        let p = next(&mut params, text(&purpose));
        sql.push_str(&format!(" AND r.purpose = {p}"));
    }
    match filter.result {
        Some(HistoryResult::Signed) => {
            let p = next(&mut params, text(&Status::Signed));
            sql.push_str(&format!(" AND r.status = {p}"));
        }
        Some(HistoryResult::Rejected) => {
            let p = next(&mut params, text(&Status::Rejected));
            sql.push_str(&format!(" AND r.status = {p}"));
        }
        Some(HistoryResult::Expired) => {
            let p = next(&mut params, text(&Status::Expired));
            sql.push_str(&format!(" AND (r.status = {p} OR r.status = $4)"));
        }
        None => {}
    }
    if let Some(after) = filter.after {
        let at = next(&mut params, after.at.into());
        let id = next(&mut params, text(&after.id));
        sql.push_str(&format!(
            " AND (r.created_at < {at} OR (r.created_at = {at} AND r.id < {id}))"
        ));
    }
    let limit = next(&mut params, i64::from(filter.limit + 1).into());
    sql.push_str(&format!(
        " ORDER BY r.created_at DESC, r.id DESC LIMIT {limit}"
    ));
    all(conn, &sql, params)
        .await?
        .iter()
        .map(|r| {
            let purpose: Purpose = typed(r, T, "purpose")?;
            let status: Status = typed(r, T, "status")?;
            let expires_at: DateTime<Utc> = get(r, T, "expires_at")?;
            let format: Format = typed(r, T, "format")?;
            let result = match status.at(expires_at, now) {
                Status::Signed => HistoryResult::Signed,
                Status::Rejected => HistoryResult::Rejected,
                Status::Expired => HistoryResult::Expired,
                Status::Pending => return Err(corrupt(T, "status", "pending in history")),
            };
            Ok(HistoryItem {
                id: typed(r, T, "id")?,
                kind: match purpose {
                    Purpose::Sign => HistoryKind::Signature,
                    Purpose::Login => HistoryKind::Login,
                },
                institution: get(r, T, "institution")?,
                display_text: get(r, T, "display_text")?,
                digests: json::<Vec<String>>(T, "digests", &get::<String>(r, T, "digests")?)?,
                format: format.as_str().to_owned(),
                requested_at: get(r, T, "created_at")?,
                decided_at: get(r, T, "decided_at")?,
                result,
            })
        })
        .collect()
}
