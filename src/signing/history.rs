//! A certificate's usage history (전자서명 이용내역) for its holder: every signature and every
//! login with the certificate an institution asked for — institution, display text, digests,
//! format, when, and how it ended — newest first, a page at a time, and as CSV.
//!
//! - **Source.** `signature_requests` (purpose `sign` or `login`) joined with `institutions`,
//!   for one holder and one certificate; requests still pending are not history yet (they
//!   are in `/v1/approvals`), a pending request past its expiry is `expired`. The index
//!   `idx_signature_requests_history` (holder, certificate, created_at, id) serves the read.
//!   Beside them, `via: csc`, every CSC `credentials/authorize` of the certificate that
//!   signed (`signed`, with the digests signed) or ran out with no signature (`expired`).
//! - **Pages.** Keyset pagination on `(created_at, id)`, newest first: the cursor is the last
//!   row's position, opaque to the client (base64url of a versioned text) and useless to
//!   anyone else (the query is always the holder's own). `limit` is 1–100 (default 20).
//! - **Filters.** `from` (inclusive) and `to` (exclusive) on the request time, `kind`
//!   (`signature` | `login`), `result` (`signed` | `rejected` | `expired`).
//! - **CSV.** RFC 4180 (the `csv` crate quotes), one header row, digests joined by spaces; a
//!   cell that starts with `=`, `+`, `-`, `@` (or a tab or carriage return) is prefixed with
//!   `'` so a spreadsheet shows it as text instead of running it (OWASP "CSV injection").
//!
//! Only the holder sees it: the certificate must be theirs (`404` otherwise, as everywhere).

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

pub use fincert_client::proto::certificates::{
    HistoryItem, HistoryKind, HistoryPage, HistoryQuery, HistoryResult, HistoryVia,
};

use crate::{
    custody::OwnerId,
    pki::{Pki, PkiError},
    store::{self, StoreError},
};

/// The page size when none is asked for.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest page.
pub const MAX_LIMIT: u32 = 100;
/// Rows in one CSV export at most (newest first); a longer history is exported by time range.
pub const CSV_MAX_ROWS: u32 = 10_000;

const CURSOR_VERSION: &str = "h1";

/// Why a history query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// `limit` outside 1 to the maximum (100 a page, 10,000 a CSV export).
    #[error("limit is out of range (1 to 100 a page, 1 to 10000 a CSV export)")]
    Limit,
    /// `from` is not before `to`.
    #[error("from must be before to")]
    Range,
    /// The cursor is not one this service gave out.
    #[error("the cursor is not valid; start from the first page")]
    Cursor,
}

/// Where a page starts: after this row (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The last row's request time.
    pub at: DateTime<Utc>,
    /// The last row's id.
    pub id: Uuid,
}

impl Cursor {
    /// The opaque form.
    pub fn encode(&self) -> String {
        B64URL.encode(format!(
            "{CURSOR_VERSION}|{}|{}",
            self.at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            self.id
        ))
    }

    /// Parses the opaque form.
    pub fn decode(raw: &str) -> Result<Self, FilterError> {
        if raw.len() > 200 {
            return Err(FilterError::Cursor);
        }
        let bytes = B64URL.decode(raw).map_err(|_| FilterError::Cursor)?;
        let text = String::from_utf8(bytes).map_err(|_| FilterError::Cursor)?;
        let mut parts = text.split('|');
        let (Some(CURSOR_VERSION), Some(at), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(FilterError::Cursor);
        };
        Ok(Self {
            at: DateTime::parse_from_rfc3339(at)
                .map_err(|_| FilterError::Cursor)?
                .with_timezone(&Utc),
            id: Uuid::parse_str(id).map_err(|_| FilterError::Cursor)?,
        })
    }
}

/// A checked history query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// From this request time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Up to this request time (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Only signatures or only logins.
    pub kind: Option<HistoryKind>,
    /// Only uses that ended so.
    pub result: Option<HistoryResult>,
    /// Rows on the page.
    pub limit: u32,
    /// Where the page starts.
    pub after: Option<Cursor>,
}

impl Filter {
    /// Checks a query; `default` is the `limit` when none is given and `max` the largest
    /// allowed (a page: 20 and 100; a CSV export: 10,000 both).
    pub fn parse(q: &HistoryQuery, default: u32, max: u32) -> Result<Self, FilterError> {
        let limit = q.limit.unwrap_or(default);
        if limit == 0 || limit > max {
            return Err(FilterError::Limit);
        }
        if let (Some(from), Some(to)) = (q.from, q.to)
            && from >= to
        {
            return Err(FilterError::Range);
        }
        Ok(Self {
            from: q.from,
            to: q.to,
            kind: q.kind,
            result: q.result,
            limit,
            after: q.cursor.as_deref().map(Cursor::decode).transpose()?,
        })
    }
}

/// One page of `owner`'s certificate `certificate` (theirs, or `PkiError::NotFound`).
pub async fn page(
    db: &DatabaseConnection,
    pki: &Pki,
    owner: &OwnerId,
    certificate: Uuid,
    filter: &Filter,
    now: DateTime<Utc>,
) -> Result<HistoryPage, PkiError> {
    pki.certificate(db, owner, certificate).await?;
    let mut rows = store::signing::history(db, owner.as_str(), certificate, filter, now).await?;
    let more = rows.len() > usize::try_from(filter.limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(filter.limit).unwrap_or(usize::MAX));
    let next_cursor = if more {
        rows.last().map(|r| {
            Cursor {
                at: r.requested_at,
                id: r.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(HistoryPage {
        items: rows,
        next_cursor,
    })
}

/// A cell as a spreadsheet may safely open it: text that starts like a formula gets a `'`.
pub fn defused(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// The CSV header.
pub const CSV_HEADER: [&str; 10] = [
    "id",
    "kind",
    "institution",
    "display_text",
    "digests",
    "format",
    "requested_at",
    "decided_at",
    "result",
    "via",
];

/// Items as RFC 4180 CSV (CRLF line ends), every cell defused.
pub fn to_csv(items: &[HistoryItem]) -> Result<Vec<u8>, StoreError> {
    let failed =
        |e: csv::Error| store::columns::corrupt("signature_requests", "csv", e.to_string());
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(CSV_HEADER).map_err(failed)?;
    for item in items {
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let cells = [
            item.id.to_string(),
            item.kind.as_str().to_owned(),
            item.institution.clone(),
            item.display_text.clone(),
            item.digests.join(" "),
            item.format.clone(),
            time(item.requested_at),
            item.decided_at.map(time).unwrap_or_default(),
            item.result.as_str().to_owned(),
            item.via.as_str().to_owned(),
        ];
        w.write_record(cells.iter().map(|c| defused(c).into_owned()))
            .map_err(failed)?;
    }
    w.into_inner()
        .map_err(|e| store::columns::corrupt("signature_requests", "csv", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str) -> HistoryItem {
        HistoryItem {
            id: Uuid::nil(),
            kind: HistoryKind::Signature,
            institution: "Bank, \"Main\"".into(),
            display_text: text.into(),
            digests: vec!["AAAA".into(), "BBBB".into()],
            format: "raw".into(),
            requested_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            decided_at: None,
            result: HistoryResult::Expired,
            via: HistoryVia::Api,
        }
    }

    #[test]
    fn cursors_round_trip_and_forgeries_fail() {
        let c = Cursor {
            at: DateTime::from_timestamp(1_800_000_000, 123_456_000).unwrap(),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        for bad in [
            "",
            "!!",
            "aDF8eHx5",
            &B64URL.encode("h2|2026-01-01T00:00:00Z|x"),
        ] {
            assert_eq!(Cursor::decode(bad), Err(FilterError::Cursor), "{bad}");
        }
    }

    #[test]
    fn filters_are_bounded() {
        let q = |limit, from: Option<i64>, to: Option<i64>| HistoryQuery {
            limit,
            from: from.and_then(|t| DateTime::from_timestamp(t, 0)),
            to: to.and_then(|t| DateTime::from_timestamp(t, 0)),
            ..Default::default()
        };
        assert_eq!(
            Filter::parse(&q(None, None, None), DEFAULT_LIMIT, MAX_LIMIT)
                .unwrap()
                .limit,
            20
        );
        assert_eq!(
            Filter::parse(&q(Some(0), None, None), DEFAULT_LIMIT, MAX_LIMIT),
            Err(FilterError::Limit)
        );
        assert_eq!(
            Filter::parse(&q(Some(101), None, None), DEFAULT_LIMIT, MAX_LIMIT),
            Err(FilterError::Limit)
        );
        assert_eq!(
            Filter::parse(&q(Some(5), Some(9), Some(9)), DEFAULT_LIMIT, MAX_LIMIT),
            Err(FilterError::Range)
        );
        assert!(Filter::parse(&q(Some(100), Some(1), Some(9)), DEFAULT_LIMIT, MAX_LIMIT).is_ok());
    }

    #[test]
    fn csv_quotes_and_defuses() {
        let csv = String::from_utf8(
            to_csv(&[item("=HYPERLINK(\"x\")"), item("Pay 10,000\r\nKRW")]).unwrap(),
        )
        .unwrap();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], CSV_HEADER.join(","));
        assert!(lines[1].contains("\"'=HYPERLINK(\"\"x\"\")\""), "{csv}");
        assert!(lines[1].contains("\"Bank, \"\"Main\"\"\""), "{csv}");
        assert!(csv.contains("\"Pay 10,000\r\nKRW\""), "{csv}");
        for lead in ["+1", "-1", "@SUM(A1)", "\tx"] {
            assert!(defused(lead).starts_with('\''), "{lead:?}");
        }
        assert_eq!(defused("Pay 1"), "Pay 1");
    }
}
