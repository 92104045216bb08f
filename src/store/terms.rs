//! Terms documents queries.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{
    StoreError,
    entities::{terms_document, terms_translation},
};
use crate::domain::terms::{TermsDocument, Translation};

/// Every document version already in effect at `now`.
pub async fn in_effect<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> Result<Vec<TermsDocument>, StoreError> {
    let rows = terms_document::Entity::find()
        .filter(terms_document::Column::EffectiveAt.lte(now))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| TermsDocument {
            code: m.code,
            version: m.version,
            title: m.title,
            body: m.body,
            required: m.required,
            effective_at: m.effective_at,
            lang: m.lang,
        })
        .collect())
}

/// Every translation into `lang`.
pub async fn translations<C: ConnectionTrait>(
    conn: &C,
    lang: &str,
) -> Result<Vec<Translation>, StoreError> {
    let rows = terms_translation::Entity::find()
        .filter(terms_translation::Column::Lang.eq(lang))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| Translation {
            code: m.code,
            version: m.version,
            lang: m.lang,
            title: m.title,
            body: m.body,
        })
        .collect())
}
