//! Which object keys a row still names: the orphan sweep and a deleted page's job delete only
//! objects that no page, thumbnail, wallet document, result file or open upload refers to.
//! Reads only; never deletes a row.

use std::collections::HashSet;

use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::ExprTrait;
use uuid::Uuid;

use super::department::result_file;
use super::documents::document_page;
use super::pages::page;
use super::uploads::upload;

/// The keys among `keys` that a page (its object or thumbnail), a wallet document's page or a
/// result file names.
pub async fn named<C: ConnectionTrait>(db: &C, keys: &[String]) -> Result<HashSet<String>, DbErr> {
    let mut named = HashSet::new();
    if keys.is_empty() {
        return Ok(named);
    }
    let objects: Vec<String> = page::Entity::find()
        .select_only()
        .column(page::Column::ObjectKey)
        .filter(page::Column::ObjectKey.is_in(keys.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    let thumbnails: Vec<Option<String>> = page::Entity::find()
        .select_only()
        .column(page::Column::ThumbnailKey)
        .filter(page::Column::ThumbnailKey.is_in(keys.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    let results: Vec<String> = result_file::Entity::find()
        .select_only()
        .column(result_file::Column::ObjectKey)
        .filter(result_file::Column::ObjectKey.is_in(keys.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    let documents: Vec<(String, Option<String>)> = document_page::Entity::find()
        .select_only()
        .column(document_page::Column::ObjectKey)
        .column(document_page::Column::ThumbnailKey)
        .filter(
            document_page::Column::ObjectKey
                .is_in(keys.iter().cloned())
                .or(document_page::Column::ThumbnailKey.is_in(keys.iter().cloned())),
        )
        .into_tuple()
        .all(db)
        .await?;
    for (object, thumbnail) in documents {
        named.insert(object);
        named.extend(thumbnail);
    }
    named.extend(objects);
    named.extend(thumbnails.into_iter().flatten());
    named.extend(results);
    Ok(named)
}

/// The uploads among `ids` whose staged object is still wanted: not swept yet (the upload
/// sweep deletes those at expiry, completed or not).
pub async fn unswept_uploads<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<HashSet<Uuid>, DbErr> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Uuid> = upload::Entity::find()
        .select_only()
        .column(upload::Column::Id)
        .filter(upload::Column::Id.is_in(ids.iter().copied()))
        .filter(upload::Column::SweptAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().collect())
}
