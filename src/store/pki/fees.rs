//! The fee ledger (`fee_charges`): general-purpose issuance and renewal.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::store::{StoreError, entities::fee_charge as fee};

pub use fee::Model as FeeRow;

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
