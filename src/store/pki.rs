//! PKI queries: authorities, certificates and their status, fees, CRLs.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};

use super::{
    StoreError,
    entities::{authority, certificate as cert, crl, fee_charge as fee},
};

pub use authority::Model as AuthorityRow;
pub use cert::Model as CertificateRow;
pub use fee::Model as FeeRow;

/// Every authority row (root, issuing, ocsp).
pub async fn authorities<C: ConnectionTrait>(conn: &C) -> Result<Vec<AuthorityRow>, StoreError> {
    Ok(authority::Entity::find()
        .order_by_asc(authority::Column::Id)
        .all(conn)
        .await?)
}

/// Inserts an authority.
pub async fn insert_authority<C: ConnectionTrait>(
    conn: &C,
    row: AuthorityRow,
) -> Result<(), StoreError> {
    authority::Entity::insert(authority::ActiveModel {
        id: Set(row.id),
        algorithm: Set(row.algorithm),
        key_kind: Set(row.key_kind),
        custody_key_id: Set(row.custody_key_id),
        kms_key_id: Set(row.kms_key_id),
        certificate_der: Set(row.certificate_der),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Inserts an issued certificate.
pub async fn insert_certificate<C: ConnectionTrait>(
    conn: &C,
    row: CertificateRow,
) -> Result<(), StoreError> {
    cert::Entity::insert(cert::ActiveModel {
        id: Set(row.id),
        owner_id: Set(row.owner_id),
        kind: Set(row.kind),
        usage: Set(row.usage),
        storage: Set(row.storage),
        status: Set(row.status),
        serial_hex: Set(row.serial_hex),
        subject: Set(row.subject),
        not_before: Set(row.not_before),
        not_after: Set(row.not_after),
        issuer_id: Set(row.issuer_id),
        custody_key_id: Set(row.custody_key_id),
        certificate_der: Set(row.certificate_der),
        revoked_at: Set(row.revoked_at),
        revocation_reason: Set(row.revocation_reason),
        replaces_id: Set(row.replaces_id),
        renewed_by_id: Set(row.renewed_by_id),
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
    Ok(cert::Entity::find_by_id(id.to_owned())
        .filter(cert::Column::OwnerId.eq(owner))
        .one(conn)
        .await?)
}

/// A certificate by serial (hex, lower case).
pub async fn certificate_by_serial<C: ConnectionTrait>(
    conn: &C,
    serial_hex: &str,
) -> Result<Option<CertificateRow>, StoreError> {
    Ok(cert::Entity::find()
        .filter(cert::Column::SerialHex.eq(serial_hex))
        .one(conn)
        .await?)
}

/// Every certificate of `owner`, newest first.
pub async fn certificates_of<C: ConnectionTrait>(
    conn: &C,
    owner: &str,
) -> Result<Vec<CertificateRow>, StoreError> {
    Ok(cert::Entity::find()
        .filter(cert::Column::OwnerId.eq(owner))
        .order_by_desc(cert::Column::CreatedAt)
        .all(conn)
        .await?)
}

/// What a status change does to the revocation fields.
#[derive(Debug, Clone, Copy)]
pub enum Revocation {
    /// Leave them.
    Keep,
    /// Set time and RFC 5280 reason code.
    Set(DateTime<Utc>, i32),
    /// Clear them (resume from hold).
    Clear,
}

/// Moves a certificate from `from` status to `to`, only if it is still in `from` (so two
/// concurrent transitions cannot both apply); returns whether it moved.
pub async fn transition<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    from: &str,
    to: &str,
    revocation: Revocation,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut update = cert::Entity::update_many()
        .col_expr(cert::Column::Status, Expr::value(to))
        .col_expr(cert::Column::UpdatedAt, Expr::value(now));
    match revocation {
        Revocation::Keep => {}
        Revocation::Set(at, reason) => {
            update = update
                .col_expr(cert::Column::RevokedAt, Expr::value(at))
                .col_expr(cert::Column::RevocationReason, Expr::value(reason));
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
        .filter(cert::Column::Id.eq(id))
        .filter(cert::Column::Status.eq(from))
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        // Every node's cached signing checks must see the new status within a second.
        super::epochs::bump(conn).await?;
    }
    Ok(res.rows_affected == 1)
}

/// Records that `id` was renewed by `successor`, only if it was not renewed before.
pub async fn mark_renewed<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    successor: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = cert::Entity::update_many()
        .col_expr(cert::Column::RenewedById, Expr::value(successor))
        .col_expr(cert::Column::UpdatedAt, Expr::value(now))
        .filter(cert::Column::Id.eq(id))
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
    Ok(cert::Entity::find()
        .filter(cert::Column::IssuerId.eq(issuer))
        .filter(cert::Column::Status.is_in(["revoked", "suspended"]))
        .filter(cert::Column::NotAfter.gt(now))
        .order_by_asc(cert::Column::SerialHex)
        .all(conn)
        .await?)
}

/// Marks every active or suspended certificate past its `not_after` as expired; returns them.
pub async fn expire_due<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<CertificateRow>, StoreError> {
    let due = cert::Entity::find()
        .filter(cert::Column::Status.is_in(["active", "suspended"]))
        .filter(cert::Column::NotAfter.lte(now))
        .limit(limit)
        .all(conn)
        .await?;
    let mut expired = Vec::new();
    for row in due {
        if transition(conn, &row.id, &row.status, "expired", Revocation::Keep, now).await? {
            expired.push(row);
        }
    }
    Ok(expired)
}

/// Records a fee.
pub async fn insert_fee<C: ConnectionTrait>(conn: &C, row: FeeRow) -> Result<(), StoreError> {
    fee::Entity::insert(fee::ActiveModel {
        id: Set(row.id),
        owner_id: Set(row.owner_id),
        certificate_id: Set(row.certificate_id),
        event: Set(row.event),
        amount_krw: Set(row.amount_krw),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Fees charged to `owner`, oldest first.
pub async fn fees_of<C: ConnectionTrait>(conn: &C, owner: &str) -> Result<Vec<FeeRow>, StoreError> {
    Ok(fee::Entity::find()
        .filter(fee::Column::OwnerId.eq(owner))
        .order_by_asc(fee::Column::CreatedAt)
        .order_by_asc(fee::Column::Id)
        .all(conn)
        .await?)
}

/// The newest CRL of an issuer: `(number, this_update, next_update, der)`.
pub async fn latest_crl<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
) -> Result<Option<(i64, DateTime<Utc>, DateTime<Utc>, Vec<u8>)>, StoreError> {
    Ok(crl::Entity::find()
        .filter(crl::Column::IssuerId.eq(issuer))
        .order_by_desc(crl::Column::CrlNumber)
        .one(conn)
        .await?
        .map(|m| (m.crl_number, m.this_update, m.next_update, m.der)))
}

/// Stores a CRL.
pub async fn insert_crl<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
    number: i64,
    this_update: DateTime<Utc>,
    next_update: DateTime<Utc>,
    der: Vec<u8>,
) -> Result<(), StoreError> {
    crl::Entity::insert(crl::ActiveModel {
        issuer_id: Set(issuer.to_owned()),
        crl_number: Set(number),
        this_update: Set(this_update),
        next_update: Set(next_update),
        der: Set(der),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Active, not-yet-renewed certificates entering their renewal window (expiring before
/// `window_end`) that have no notice yet; records a notice for each and returns them.
pub async fn record_renewal_notices<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    window_end: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<CertificateRow>, StoreError> {
    use super::entities::renewal_notice as notice;
    use sea_orm::sea_query::OnConflict;
    let due = cert::Entity::find()
        .filter(cert::Column::Status.eq("active"))
        .filter(cert::Column::RenewedById.is_null())
        .filter(cert::Column::NotAfter.gt(now))
        .filter(cert::Column::NotAfter.lte(window_end))
        .order_by_asc(cert::Column::NotAfter)
        .limit(limit)
        .all(conn)
        .await?;
    let mut fresh = Vec::new();
    for row in due {
        let inserted = notice::Entity::insert(notice::ActiveModel {
            certificate_id: Set(row.id.clone()),
            owner_id: Set(row.owner_id.clone()),
            not_after: Set(row.not_after),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(notice::Column::CertificateId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
        if inserted == 1 {
            fresh.push(row);
        }
    }
    Ok(fresh)
}

/// Takes a PostgreSQL transaction-scoped advisory lock if free (always true on SQLite, which
/// has one writer); background jobs run only on the node that gets it.
pub async fn try_job_lock<C: ConnectionTrait>(conn: &C, job: i64) -> Result<bool, StoreError> {
    use sea_orm::{DbBackend, Statement};
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS locked",
            [job.into()],
        ))
        .await?;
    Ok(row
        .and_then(|r| r.try_get::<bool>("", "locked").ok())
        .unwrap_or(false))
}

pub use super::entities::foreign_certificate::Model as ForeignRow;

/// Whether `owner` already registered the certificate `(issuer, serial)`.
pub async fn foreign_exists<C: ConnectionTrait>(
    conn: &C,
    owner: &str,
    issuer_dn: &str,
    serial_hex: &str,
) -> Result<bool, StoreError> {
    use super::entities::foreign_certificate as f;
    Ok(f::Entity::find()
        .filter(f::Column::OwnerId.eq(owner))
        .filter(f::Column::IssuerDn.eq(issuer_dn))
        .filter(f::Column::SerialHex.eq(serial_hex))
        .one(conn)
        .await?
        .is_some())
}

/// Stores a registered foreign certificate.
pub async fn insert_foreign<C: ConnectionTrait>(
    conn: &C,
    row: ForeignRow,
) -> Result<(), StoreError> {
    use super::entities::foreign_certificate as f;
    f::Entity::insert(f::ActiveModel {
        id: Set(row.id),
        owner_id: Set(row.owner_id),
        usage: Set(row.usage),
        source: Set(row.source),
        issuer_dn: Set(row.issuer_dn),
        serial_hex: Set(row.serial_hex),
        subject: Set(row.subject),
        not_before: Set(row.not_before),
        not_after: Set(row.not_after),
        certificate_der: Set(row.certificate_der),
        chain_der: Set(row.chain_der),
        custody_key_id: Set(row.custody_key_id),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Foreign certificates of `owner`, newest first.
pub async fn foreign_of<C: ConnectionTrait>(
    conn: &C,
    owner: &str,
) -> Result<Vec<ForeignRow>, StoreError> {
    use super::entities::foreign_certificate as f;
    Ok(f::Entity::find()
        .filter(f::Column::OwnerId.eq(owner))
        .order_by_desc(f::Column::CreatedAt)
        .all(conn)
        .await?)
}

/// A certificate by id, whoever owns it (sign-in starts from the certificate the user picks).
pub async fn certificate_by_id<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<CertificateRow>, StoreError> {
    Ok(cert::Entity::find_by_id(id.to_owned()).one(conn).await?)
}
