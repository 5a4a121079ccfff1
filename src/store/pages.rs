//! Pages of an application's materials, in display order per material.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, QueryOrder};
use uuid::Uuid;

use crate::store::applications::application;

pub mod page {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub application_id: Uuid,
        pub material_code: String,
        /// 1-based order within the material.
        pub position: i32,
        pub object_key: String,
        pub thumbnail_key: Option<String>,
        pub content_type: String,
        pub size: i64,
        pub sha256: String,
        pub width: Option<i32>,
        pub height: Option<i32>,
        pub original_name: Option<String>,
        pub created_at: DateTimeUtc,
        pub thumbnail_attempts: i32,
        /// The wallet document this page came from (`store::documents`): the same object.
        pub document_id: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "crate::store::applications::application::Entity",
            from = "Column::ApplicationId",
            to = "crate::store::applications::application::Column::Id"
        )]
        Application,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

// Here rather than beside the application entity: pages know applications, not the reverse.
impl Related<page::Entity> for application::Entity {
    fn to() -> RelationDef {
        page::Relation::Application.def().rev()
    }
}

/// The citizen's application `id` with every page of it, by material then position: one
/// statement (a left join), the citizen's most frequent read.
pub async fn owned_with_pages<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
    id: Uuid,
) -> Result<Option<(application::Model, Vec<page::Model>)>, DbErr> {
    use sea_orm::{FromQueryResult, QueryTrait};
    let joined = application::Entity::find_by_id(id)
        .filter(application::Column::CitizenId.eq(citizen_id))
        .find_with_related(page::Entity)
        .order_by_asc(page::Column::MaterialCode)
        .order_by_asc(page::Column::Position)
        .build(db.get_database_backend());
    // Read by hand rather than with `SelectTwoMany::all`, which decodes the application (JSON
    // columns and all) again from every page's row.
    let rows = db.query_all_raw(joined).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let application = application::Model::from_query_result(first, "A_")?;
    let mut pages = Vec::with_capacity(rows.len());
    for row in &rows {
        pages.extend(page::Model::from_query_result_optional(row, "B_")?);
    }
    Ok(Some((application, pages)))
}

/// Every page of an application, by material then position.
pub async fn of_application<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Vec<page::Model>, DbErr> {
    page::Entity::find()
        .filter(page::Column::ApplicationId.eq(application_id))
        .order_by_asc(page::Column::MaterialCode)
        .order_by_asc(page::Column::Position)
        .all(db)
        .await
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    id: Uuid,
) -> Result<Option<page::Model>, DbErr> {
    page::Entity::find_by_id(id)
        .filter(page::Column::ApplicationId.eq(application_id))
        .one(db)
        .await
}

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    model: page::ActiveModel,
) -> Result<page::Model, super::StoreError> {
    super::unique(model.insert(db).await)
}

pub async fn delete<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<(), DbErr> {
    page::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Sets the positions of one material's pages to the order of `ids` (1-based).
pub async fn set_order<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> Result<(), DbErr> {
    for (index, id) in ids.iter().enumerate() {
        page::Entity::update_many()
            .col_expr(page::Column::Position, Expr::value(index as i32 + 1))
            .filter(page::Column::Id.eq(*id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Photos that can have a thumbnail and have none yet, oldest first.
pub async fn needing_thumbnails<C: ConnectionTrait>(
    db: &C,
    max_attempts: i32,
    limit: u64,
) -> Result<Vec<page::Model>, DbErr> {
    use sea_orm::QuerySelect;
    page::Entity::find()
        .filter(page::Column::ThumbnailKey.is_null())
        .filter(page::Column::ContentType.is_in(["image/jpeg", "image/png", "image/webp"]))
        .filter(page::Column::ThumbnailAttempts.lt(max_attempts))
        .order_by_asc(page::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn set_thumbnail<C: ConnectionTrait>(db: &C, id: Uuid, key: &str) -> Result<(), DbErr> {
    page::Entity::update_many()
        .col_expr(page::Column::ThumbnailKey, Expr::value(key))
        .filter(page::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn count_thumbnail_attempt<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<(), DbErr> {
    page::Entity::update_many()
        .col_expr(
            page::Column::ThumbnailAttempts,
            Expr::col(page::Column::ThumbnailAttempts).add(1),
        )
        .filter(page::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub fn new_model(
    id: Uuid,
    application_id: Uuid,
    material_code: &str,
    position: i32,
) -> page::ActiveModel {
    page::ActiveModel {
        id: Set(id),
        application_id: Set(application_id),
        material_code: Set(material_code.to_string()),
        position: Set(position),
        thumbnail_attempts: Set(0),
        ..Default::default()
    }
}

/// `delete_objects {keys}`: the objects of a deleted page, queued in the deleting transaction
/// (run by `jobs::periodic`). A failing store makes it retry with backoff; deleting a missing
/// object succeeds, so a repeat is harmless.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeleteObjects {
    pub keys: Vec<String>,
}

impl super::jobs::JobPayload for DeleteObjects {
    const KIND: &'static str = "delete_objects";
}
