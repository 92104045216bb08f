//! The holder's automatic-renewal choices (`auto_renewal_settings`), one row per certificate.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, sea_query::OnConflict};

use crate::store::{StoreError, entities::auto_renewal_setting as setting};

pub use setting::Model as AutoRenewalRow;

/// The holder's choice for `certificate_id`, if they made one.
pub async fn auto_renewal_setting<C: ConnectionTrait>(
    conn: &C,
    certificate_id: &str,
) -> Result<Option<AutoRenewalRow>, StoreError> {
    Ok(setting::Entity::find_by_id(certificate_id.to_owned())
        .one(conn)
        .await?)
}

/// Records the holder's choice (replacing an earlier one).
pub async fn put_auto_renewal_setting<C: ConnectionTrait>(
    conn: &C,
    certificate_id: &str,
    owner_id: &str,
    enabled: bool,
    fee_confirmed_krw: Option<i32>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    setting::Entity::insert(setting::ActiveModel {
        certificate_id: Set(certificate_id.to_owned()),
        owner_id: Set(owner_id.to_owned()),
        enabled: Set(enabled),
        fee_confirmed_krw: Set(fee_confirmed_krw),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(setting::Column::CertificateId)
            .update_columns([
                setting::Column::Enabled,
                setting::Column::FeeConfirmedKrw,
                setting::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}
