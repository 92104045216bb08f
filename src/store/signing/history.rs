//! A certificate's usage history, one page at a time: keyset pagination on `(created_at, id)`,
//! newest first. Two sources: `signature_requests` joined with `institutions` (served by
//! `idx_signature_requests_history`), and the CSC authorizations of `/csc/v1` and `/csc/v2`
//! (`csc_sads` with the signatures each made in `csc_sad_signatures`, served by
//! `idx_csc_sads_history`); each is read with the same filter and cursor up to one row more
//! than the page, and the two are merged (the page's rows are the newest of both). The rules
//! (what is history, what a filter means) are in `signing::history`; this file only writes
//! them as SQL.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value};
use uuid::Uuid;

use crate::{
    signing::history::{Filter, HistoryItem, HistoryKind, HistoryResult, HistoryVia},
    store::{
        StoreError,
        columns::{corrupt, json, text},
        sql::{all, get, typed},
    },
};
use fincert_client::proto::institutions::{Format, Purpose, Status};

const T: &str = "signature_requests";

/// One page (and one row more, so the caller knows whether another page follows) of
/// `user`'s uses of `certificate` that are history at `now`, newest first: signature
/// requests and CSC authorizations merged.
pub async fn history<C: ConnectionTrait>(
    conn: &C,
    user: &str,
    certificate: Uuid,
    filter: &Filter,
    now: DateTime<Utc>,
) -> Result<Vec<HistoryItem>, StoreError> {
    let mut rows = requests(conn, user, certificate, filter, now).await?;
    rows.extend(csc(conn, user, certificate, filter, now).await?);
    rows.sort_by_key(|r| std::cmp::Reverse((r.requested_at, r.id)));
    rows.truncate(usize::try_from(filter.limit).unwrap_or(usize::MAX) + 1);
    Ok(rows)
}

/// The CSC side: each `credentials/authorize` of the holder's certificate (its activation is
/// the item's id, stable across `extendTransaction`), `signed` once it made a signature (the
/// time of the last one is `decided_at`, the digests those it signed), `expired` when its
/// lifetime ended with none; one still live with none is not history yet. CSC makes only
/// signatures (format `raw`, no display text) and none is ever rejected.
async fn csc<C: ConnectionTrait>(
    conn: &C,
    user: &str,
    certificate: Uuid,
    filter: &Filter,
    now: DateTime<Utc>,
) -> Result<Vec<HistoryItem>, StoreError> {
    const S: &str = "csc_sads";
    if matches!(filter.kind, Some(HistoryKind::Login))
        || matches!(filter.result, Some(HistoryResult::Rejected))
    {
        return Ok(Vec::new());
    }
    let mut params: Vec<Value> = vec![user.into(), text(&certificate), now.into()];
    let next = |params: &mut Vec<Value>, v: Value| {
        params.push(v);
        format!("${}", params.len())
    };
    let signed =
        "EXISTS (SELECT 1 FROM csc_sad_signatures s WHERE s.activation_id = a.activation_id)";
    let mut sql = format!(
        "SELECT a.activation_id, i.name AS institution, a.created_at, \
         (SELECT s.created_at FROM csc_sad_signatures s WHERE s.activation_id = a.activation_id \
          ORDER BY s.created_at DESC LIMIT 1) AS decided_at \
         FROM csc_sads a JOIN institutions i ON i.id = a.institution_id \
         WHERE a.user_id = $1 AND a.certificate_id = $2 AND ({signed} OR a.expires_at <= $3)"
    );
    match filter.result {
        Some(HistoryResult::Signed) => sql.push_str(&format!(" AND {signed}")),
        Some(HistoryResult::Expired) => sql.push_str(&format!(" AND NOT {signed}")),
        _ => {}
    }
    if let Some(from) = filter.from {
        let p = next(&mut params, from.into());
        sql.push_str(&format!(" AND a.created_at >= {p}"));
    }
    if let Some(to) = filter.to {
        let p = next(&mut params, to.into());
        sql.push_str(&format!(" AND a.created_at < {p}"));
    }
    if let Some(after) = filter.after {
        let at = next(&mut params, after.at.into());
        let id = next(&mut params, text(&after.id));
        sql.push_str(&format!(
            " AND (a.created_at < {at} OR (a.created_at = {at} AND a.activation_id < {id}))"
        ));
    }
    let limit = next(&mut params, i64::from(filter.limit + 1).into());
    sql.push_str(&format!(
        " ORDER BY a.created_at DESC, a.activation_id DESC LIMIT {limit}"
    ));
    let mut items = Vec::new();
    for r in all(conn, &sql, params).await? {
        let activation: String = get(&r, S, "activation_id")?;
        // The digests it signed, oldest first (base64, as authorized).
        let digests = all(
            conn,
            "SELECT hash FROM csc_sad_signatures WHERE activation_id = $1 ORDER BY created_at, hash",
            vec![activation.clone().into()],
        )
        .await?
        .iter()
        .map(|h| get::<String>(h, "csc_sad_signatures", "hash"))
        .collect::<Result<Vec<_>, _>>()?;
        let decided_at: Option<DateTime<Utc>> = get(&r, S, "decided_at")?;
        items.push(HistoryItem {
            id: typed(&r, S, "activation_id")?,
            kind: HistoryKind::Signature,
            institution: get(&r, S, "institution")?,
            display_text: String::new(),
            result: if digests.is_empty() {
                HistoryResult::Expired
            } else {
                HistoryResult::Signed
            },
            digests,
            format: Format::Raw.as_str().to_owned(),
            requested_at: get(&r, S, "created_at")?,
            decided_at,
            via: HistoryVia::Csc,
        });
    }
    Ok(items)
}

/// The signature-request side.
async fn requests<C: ConnectionTrait>(
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
                via: HistoryVia::Api,
            })
        })
        .collect()
}
