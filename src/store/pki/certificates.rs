//! Certificates (`certificates`): every certificate fincert issued, read as typed rows, and the
//! changes to them — the compare-and-set status transition, renewal, expiry, renewal notices.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use uuid::Uuid;

use crate::{
    domain::{
        cert_kind::{CertKind, Storage},
        cert_status::CertStatus,
        owner::OwnerId,
        revocation_reason::CrlReason,
        usage::Usage,
    },
    store::{
        StoreError,
        columns::{self, parse, parse_opt},
        entities::{certificate as cert, foreign_certificate as foreign},
    },
};

const T: &str = "certificates";

/// A certificate as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRow {
    /// Id.
    pub id: Uuid,
    /// The holder.
    pub owner_id: OwnerId,
    /// Financial or joint.
    pub kind: CertKind,
    /// Restricted-use or general-purpose.
    pub usage: Usage,
    /// Where its key lives.
    pub storage: Storage,
    /// Stored status (the status in force also depends on `not_after`).
    pub status: CertStatus,
    /// Serial (hex, lower case).
    pub serial_hex: String,
    /// Subject common name.
    pub subject: String,
    /// Validity start.
    pub not_before: DateTime<Utc>,
    /// Validity end.
    pub not_after: DateTime<Utc>,
    /// The authority that issued it: `issuing`, or [`FOREIGN_ISSUER`] for an imported
    /// certificate of another CA (see [`certificate_by_id`]).
    pub issuer_id: String,
    /// Its custody key (cloud storage).
    pub custody_key_id: Option<Uuid>,
    /// The certificate, DER.
    pub certificate_der: Vec<u8>,
    /// When it was revoked or suspended.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why (certificateHold for a suspended one).
    pub revocation_reason: Option<CrlReason>,
    /// The certificate it renewed or reissued.
    pub replaces_id: Option<Uuid>,
    /// The certificate that renewed it.
    pub renewed_by_id: Option<Uuid>,
    /// Stored.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// For an imported certificate of another CA: the intermediates it was validated
    /// through (DER, leaf's issuer first; the trust anchor is the verifier's). `None` for a
    /// certificate this CA issued, whose chain the PKI knows.
    pub foreign_chain: Option<Vec<Vec<u8>>>,
}

/// `issuer_id` of an imported certificate of another CA.
pub const FOREIGN_ISSUER: &str = "foreign";

impl CertificateRow {
    /// Whether another CA issued it (an imported key fincert holds).
    pub fn is_foreign(&self) -> bool {
        self.foreign_chain.is_some()
    }
}

fn to_row(m: cert::Model) -> Result<CertificateRow, StoreError> {
    Ok(CertificateRow {
        id: parse(T, "id", &m.id)?,
        owner_id: parse(T, "owner_id", &m.owner_id)?,
        kind: parse(T, "kind", &m.kind)?,
        usage: parse(T, "usage", &m.usage)?,
        storage: parse(T, "storage", &m.storage)?,
        status: parse(T, "status", &m.status)?,
        serial_hex: m.serial_hex,
        subject: m.subject,
        not_before: m.not_before,
        not_after: m.not_after,
        issuer_id: m.issuer_id,
        custody_key_id: parse_opt(T, "custody_key_id", m.custody_key_id.as_deref())?,
        certificate_der: m.certificate_der,
        revoked_at: m.revoked_at,
        revocation_reason: columns::crl_reason(T, "revocation_reason", m.revocation_reason)?,
        replaces_id: parse_opt(T, "replaces_id", m.replaces_id.as_deref())?,
        renewed_by_id: parse_opt(T, "renewed_by_id", m.renewed_by_id.as_deref())?,
        created_at: m.created_at,
        updated_at: m.updated_at,
        foreign_chain: None,
    })
}

/// An imported foreign certificate (one with a custody key) as a certificate row: a joint
/// certificate (the Korean NPKI kind) held in the cloud, active until it expires (fincert
/// does not track another CA's status; its trust-anchor set is the control), never renewed.
fn foreign_to_row(m: foreign::Model) -> Result<Option<CertificateRow>, StoreError> {
    const F: &str = "foreign_certificates";
    let Some(key) = parse_opt(F, "custody_key_id", m.custody_key_id.as_deref())? else {
        return Ok(None);
    };
    Ok(Some(CertificateRow {
        id: parse(F, "id", &m.id)?,
        owner_id: parse(F, "owner_id", &m.owner_id)?,
        kind: CertKind::Joint,
        usage: parse(F, "usage", &m.usage)?,
        storage: Storage::Cloud,
        status: CertStatus::Active,
        serial_hex: m.serial_hex,
        subject: m.subject,
        not_before: m.not_before,
        not_after: m.not_after,
        issuer_id: FOREIGN_ISSUER.into(),
        custody_key_id: Some(key),
        certificate_der: m.certificate_der,
        revoked_at: None,
        revocation_reason: None,
        replaces_id: None,
        renewed_by_id: None,
        created_at: m.created_at,
        updated_at: m.created_at,
        foreign_chain: Some(split_der(&m.chain_der).ok_or_else(|| StoreError::Corrupt {
            table: F,
            column: "chain_der",
            problem: "not concatenated DER".into(),
        })?),
    }))
}

/// Splits concatenated DER values.
fn split_der(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    use der::{Encode, Reader, SliceReader, asn1::AnyRef};
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let mut reader = SliceReader::new(bytes).ok()?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(reader.decode::<AnyRef<'_>>().ok()?.to_der().ok()?);
    }
    Some(out)
}

fn to_rows(models: Vec<cert::Model>) -> Result<Vec<CertificateRow>, StoreError> {
    models.into_iter().map(to_row).collect()
}

/// Inserts an issued certificate.
pub async fn insert_certificate<C: ConnectionTrait>(
    conn: &C,
    row: CertificateRow,
) -> Result<(), StoreError> {
    cert::Entity::insert(cert::ActiveModel {
        id: Set(row.id.to_string()),
        owner_id: Set(row.owner_id.as_str().to_owned()),
        kind: Set(row.kind.as_str().to_owned()),
        usage: Set(row.usage.as_str().to_owned()),
        storage: Set(row.storage.as_str().to_owned()),
        status: Set(row.status.as_str().to_owned()),
        serial_hex: Set(row.serial_hex),
        subject: Set(row.subject),
        not_before: Set(row.not_before),
        not_after: Set(row.not_after),
        issuer_id: Set(row.issuer_id),
        custody_key_id: Set(row.custody_key_id.map(|k| k.to_string())),
        certificate_der: Set(row.certificate_der),
        revoked_at: Set(row.revoked_at),
        revocation_reason: Set(columns::crl_code(row.revocation_reason)),
        replaces_id: Set(row.replaces_id.map(|k| k.to_string())),
        renewed_by_id: Set(row.renewed_by_id.map(|k| k.to_string())),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// A certificate of `owner`.
pub async fn certificate_of<C: ConnectionTrait>(
    conn: &C,
    owner: &str,
    id: &str,
) -> Result<Option<CertificateRow>, StoreError> {
    cert::Entity::find_by_id(id.to_owned())
        .filter(cert::Column::OwnerId.eq(owner))
        .one(conn)
        .await?
        .map(to_row)
        .transpose()
}

/// A certificate by serial (hex, lower case).
pub async fn certificate_by_serial<C: ConnectionTrait>(
    conn: &C,
    serial_hex: &str,
) -> Result<Option<CertificateRow>, StoreError> {
    cert::Entity::find()
        .filter(cert::Column::SerialHex.eq(serial_hex))
        .one(conn)
        .await?
        .map(to_row)
        .transpose()
}

/// A certificate by id, whoever owns it (sign-in starts from the certificate the user picks):
/// one this CA issued or, failing that, an imported certificate of another CA whose key
/// fincert holds (issuer [`FOREIGN_ISSUER`]), so that consent, sign-in and signing use both
/// alike. Lifecycle operations (renew, revoke, OCSP, CRL) read [`certificate_of`] and
/// [`certificate_by_serial`], which know only this CA's.
pub async fn certificate_by_id<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<CertificateRow>, StoreError> {
    if let Some(row) = cert::Entity::find_by_id(id.to_owned()).one(conn).await? {
        return to_row(row).map(Some);
    }
    match foreign::Entity::find_by_id(id.to_owned()).one(conn).await? {
        Some(m) => foreign_to_row(m),
        None => Ok(None),
    }
}

/// Every certificate of `owner`, newest first.
pub async fn certificates_of<C: ConnectionTrait>(
    conn: &C,
    owner: &str,
) -> Result<Vec<CertificateRow>, StoreError> {
    to_rows(
        cert::Entity::find()
            .filter(cert::Column::OwnerId.eq(owner))
            .order_by_desc(cert::Column::CreatedAt)
            .all(conn)
            .await?,
    )
}

/// What a status change does to the revocation fields.
#[derive(Debug, Clone, Copy)]
pub enum Revocation {
    /// Leave them.
    Keep,
    /// Set time and RFC 5280 reason.
    Set(DateTime<Utc>, CrlReason),
    /// Clear them (resume from hold).
    Clear,
}

/// Moves a certificate from `from` status to `to`, only if it is still in `from` (so two
/// concurrent transitions cannot both apply); returns whether it moved.
pub async fn transition<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    from: CertStatus,
    to: CertStatus,
    revocation: Revocation,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut update = cert::Entity::update_many()
        .col_expr(cert::Column::Status, Expr::value(to.as_str()))
        .col_expr(cert::Column::UpdatedAt, Expr::value(now));
    match revocation {
        Revocation::Keep => {}
        Revocation::Set(at, reason) => {
            update = update
                .col_expr(cert::Column::RevokedAt, Expr::value(at))
                .col_expr(
                    cert::Column::RevocationReason,
                    Expr::value(i32::from(reason.code())),
                );
        }
        Revocation::Clear => {
            update = update
                .col_expr(
                    cert::Column::RevokedAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(
                    cert::Column::RevocationReason,
                    Expr::value(Option::<i32>::None),
                );
        }
    }
    let res = update
        .filter(cert::Column::Id.eq(id.to_string()))
        .filter(cert::Column::Status.eq(from.as_str()))
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        // Every node's cached signing checks must see the new status within a second.
        crate::store::epochs::bump(conn).await?;
    }
    Ok(res.rows_affected == 1)
}

/// Records that `id` was renewed by `successor`, only if it was not renewed before.
pub async fn mark_renewed<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    successor: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = cert::Entity::update_many()
        .col_expr(
            cert::Column::RenewedById,
            Expr::value(successor.to_string()),
        )
        .col_expr(cert::Column::UpdatedAt, Expr::value(now))
        .filter(cert::Column::Id.eq(id.to_string()))
        .filter(cert::Column::RenewedById.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revoked and suspended certificates of an issuer not yet expired at `now` (CRL entries).
pub async fn revoked_for_crl<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
    now: DateTime<Utc>,
) -> Result<Vec<CertificateRow>, StoreError> {
    to_rows(
        cert::Entity::find()
            .filter(cert::Column::IssuerId.eq(issuer))
            .filter(
                cert::Column::Status
                    .is_in([CertStatus::Revoked.as_str(), CertStatus::Suspended.as_str()]),
            )
            .filter(cert::Column::NotAfter.gt(now))
            .order_by_asc(cert::Column::SerialHex)
            .all(conn)
            .await?,
    )
}

/// Marks every active or suspended certificate past its `not_after` as expired; returns them.
pub async fn expire_due<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<CertificateRow>, StoreError> {
    let due = to_rows(
        cert::Entity::find()
            .filter(
                cert::Column::Status
                    .is_in([CertStatus::Active.as_str(), CertStatus::Suspended.as_str()]),
            )
            .filter(cert::Column::NotAfter.lte(now))
            .limit(limit)
            .all(conn)
            .await?,
    )?;
    let mut expired = Vec::new();
    for row in due {
        if transition(
            conn,
            row.id,
            row.status,
            CertStatus::Expired,
            Revocation::Keep,
            now,
        )
        .await?
        {
            expired.push(row);
        }
    }
    Ok(expired)
}

/// Which renewal notice a claim is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeStage {
    /// The renewal window opened (30 days before expiry by default).
    WindowOpen,
    /// The last notice (7 days before expiry).
    Final,
}

/// Active, not-yet-renewed certificates entering their renewal window (expiring before
/// `window_end`) that have no notice yet: claims a notice for each (one row per certificate,
/// so a notice is claimed once whichever node runs the job) and returns them. One first seen
/// already inside the last `final_end` is claimed for both stages at once and returned as
/// [`NoticeStage::Final`] (one message, the last one).
pub async fn record_renewal_notices<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    window_end: DateTime<Utc>,
    final_end: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(CertificateRow, NoticeStage)>, StoreError> {
    use crate::store::entities::renewal_notice as notice;
    use sea_orm::sea_query::OnConflict;
    let due = to_rows(
        cert::Entity::find()
            .filter(cert::Column::Status.eq(CertStatus::Active.as_str()))
            .filter(cert::Column::RenewedById.is_null())
            .filter(cert::Column::NotAfter.gt(now))
            .filter(cert::Column::NotAfter.lte(window_end))
            .filter(
                cert::Column::Id.not_in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(notice::Column::CertificateId)
                        .from(notice::Entity)
                        .to_owned(),
                ),
            )
            .order_by_asc(cert::Column::NotAfter)
            .limit(limit)
            .all(conn)
            .await?,
    )?;
    let mut fresh = Vec::new();
    for row in due {
        let stage = if row.not_after <= final_end {
            NoticeStage::Final
        } else {
            NoticeStage::WindowOpen
        };
        let inserted = notice::Entity::insert(notice::ActiveModel {
            certificate_id: Set(row.id.to_string()),
            owner_id: Set(row.owner_id.as_str().to_owned()),
            not_after: Set(row.not_after),
            created_at: Set(now),
            final_notice_at: Set((stage == NoticeStage::Final).then_some(now)),
        })
        .on_conflict(
            OnConflict::column(notice::Column::CertificateId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
        if inserted == 1 {
            fresh.push((row, stage));
        }
    }
    Ok(fresh)
}

/// Certificates with a renewal-window notice but no final one, still active and not renewed,
/// now expiring before `final_end`: claims the final notice for each (a compare-and-set on
/// `final_notice_at`, so it is claimed once) and returns them.
pub async fn claim_final_notices<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    final_end: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<CertificateRow>, StoreError> {
    use crate::store::entities::renewal_notice as notice;
    let due = notice::Entity::find()
        .filter(notice::Column::FinalNoticeAt.is_null())
        .filter(notice::Column::NotAfter.gt(now))
        .filter(notice::Column::NotAfter.lte(final_end))
        .order_by_asc(notice::Column::NotAfter)
        .limit(limit)
        .all(conn)
        .await?;
    let mut claimed = Vec::new();
    for n in due {
        let Some(row) = certificate_by_id(conn, &n.certificate_id).await? else {
            continue;
        };
        if row.status != CertStatus::Active || row.renewed_by_id.is_some() {
            continue;
        }
        let done = notice::Entity::update_many()
            .col_expr(notice::Column::FinalNoticeAt, Expr::value(now))
            .filter(notice::Column::CertificateId.eq(n.certificate_id.as_str()))
            .filter(notice::Column::FinalNoticeAt.is_null())
            .exec(conn)
            .await?;
        if done.rows_affected == 1 {
            claimed.push(row);
        }
    }
    Ok(claimed)
}

/// Gives back a claimed notice whose message could not be sent, so the next run tries again:
/// a final notice is cleared; a renewal-window notice (or a final one claimed with it, see
/// [`record_renewal_notices`]) removes the row.
pub async fn release_renewal_notice<C: ConnectionTrait>(
    conn: &C,
    certificate: Uuid,
    stage: NoticeStage,
    claimed_with_window: bool,
) -> Result<(), StoreError> {
    use crate::store::entities::renewal_notice as notice;
    let id = certificate.to_string();
    if stage == NoticeStage::WindowOpen || claimed_with_window {
        notice::Entity::delete_many()
            .filter(notice::Column::CertificateId.eq(id.as_str()))
            .exec(conn)
            .await?;
    } else {
        notice::Entity::update_many()
            .col_expr(
                notice::Column::FinalNoticeAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(notice::Column::CertificateId.eq(id.as_str()))
            .exec(conn)
            .await?;
    }
    Ok(())
}
