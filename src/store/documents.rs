//! The citizen's wallet: verified documents, their pages (the case's stored objects, named
//! again, never copied) and each use of one in another case.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::domain::document::DocumentState;
use crate::store::pages::page;

pub mod document {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "documents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub citizen_id: Uuid,
        pub document_type: String,
        pub source_application_id: Uuid,
        pub source_material_code: String,
        pub source_department_code: String,
        /// The reviewer whose pre-review approval made it.
        pub verified_by: Uuid,
        pub verified_at: DateTimeUtc,
        /// The department member whose approval confirmed it.
        pub confirmed_by: Option<Uuid>,
        pub confirmed_at: Option<DateTimeUtc>,
        /// The document's own expiry, as the reviewer recorded it.
        pub expires_on: Option<Date>,
        /// The verifying material's `reuse_valid_days`, if it accepts reuse.
        pub valid_days: Option<i32>,
        pub valid_until: Option<DateTimeUtc>,
        /// A `domain::document::DocumentState`.
        pub state: String,
        pub ended_at: Option<DateTimeUtc>,
        pub ended_by: Option<Uuid>,
        pub end_reason: Option<String>,
        pub created_at: DateTimeUtc,
    }

    impl Model {
        /// Its latest verification: the department's confirmation, or pre-review's.
        pub fn verified(&self) -> DateTimeUtc {
            self.confirmed_at.unwrap_or(self.verified_at)
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod document_page {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "document_pages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub document_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub position: i32,
        pub object_key: String,
        pub thumbnail_key: Option<String>,
        pub content_type: String,
        pub size: i64,
        pub sha256: String,
        pub width: Option<i32>,
        pub height: Option<i32>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod document_use {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "document_uses")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub document_id: Uuid,
        pub application_id: Uuid,
        pub material_code: String,
        pub department_code: String,
        /// When the citizen attached it: their consent for this case and department.
        pub consented_at: DateTimeUtc,
        /// When its last page left the case again (before submission).
        pub removed_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What a new document says, besides its pages.
pub struct NewDocument<'a> {
    pub citizen_id: Uuid,
    pub document_type: &'a str,
    pub application_id: Uuid,
    pub material_code: &'a str,
    pub department_code: &'a str,
    pub verified_by: Uuid,
    pub expires_on: Option<NaiveDate>,
    pub valid_days: Option<i32>,
    pub valid_until: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// Records a verified document whose pages are `pages` (in order).
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewDocument<'_>,
    pages: &[page::Model],
) -> Result<document::Model, DbErr> {
    let id = Uuid::now_v7();
    let model = document::ActiveModel {
        id: Set(id),
        citizen_id: Set(new.citizen_id),
        document_type: Set(new.document_type.to_string()),
        source_application_id: Set(new.application_id),
        source_material_code: Set(new.material_code.to_string()),
        source_department_code: Set(new.department_code.to_string()),
        verified_by: Set(new.verified_by),
        verified_at: Set(new.now),
        confirmed_by: Set(None),
        confirmed_at: Set(None),
        expires_on: Set(new.expires_on),
        valid_days: Set(new.valid_days),
        valid_until: Set(new.valid_until),
        state: Set(DocumentState::Valid.as_str().into()),
        ended_at: Set(None),
        ended_by: Set(None),
        end_reason: Set(None),
        created_at: Set(new.now),
    }
    .insert(db)
    .await?;
    let rows = pages
        .iter()
        .enumerate()
        .map(|(i, p)| document_page::ActiveModel {
            document_id: Set(id),
            position: Set(i as i32 + 1),
            object_key: Set(p.object_key.clone()),
            thumbnail_key: Set(p.thumbnail_key.clone()),
            content_type: Set(p.content_type.clone()),
            size: Set(p.size),
            sha256: Set(p.sha256.clone()),
            width: Set(p.width),
            height: Set(p.height),
        });
    document_page::Entity::insert_many(rows).exec(db).await?;
    Ok(model)
}

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<document::Model>, DbErr> {
    document::Entity::find_by_id(id).one(db).await
}

/// The citizen's document `id`; another citizen's is `None`, as a missing one.
pub async fn find_owned<C: ConnectionTrait>(
    db: &C,
    citizen: Uuid,
    id: Uuid,
) -> Result<Option<document::Model>, DbErr> {
    document::Entity::find_by_id(id)
        .filter(document::Column::CitizenId.eq(citizen))
        .one(db)
        .await
}

pub async fn find_many<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<Vec<document::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    document::Entity::find()
        .filter(document::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

/// The citizen's documents, newest first: the valid ones, or all with `ended`.
pub async fn of_citizen<C: ConnectionTrait>(
    db: &C,
    citizen: Uuid,
    ended: bool,
) -> Result<Vec<document::Model>, DbErr> {
    let mut query = document::Entity::find().filter(document::Column::CitizenId.eq(citizen));
    if !ended {
        query = query.filter(document::Column::State.eq(DocumentState::Valid.as_str()));
    }
    query
        .order_by_desc(document::Column::CreatedAt)
        .order_by_desc(document::Column::Id)
        .all(db)
        .await
}

/// The citizen's valid documents of these types, newest first.
pub async fn valid_of_types<C: ConnectionTrait>(
    db: &C,
    citizen: Uuid,
    types: &[&str],
) -> Result<Vec<document::Model>, DbErr> {
    if types.is_empty() {
        return Ok(Vec::new());
    }
    document::Entity::find()
        .filter(document::Column::CitizenId.eq(citizen))
        .filter(document::Column::State.eq(DocumentState::Valid.as_str()))
        .filter(document::Column::DocumentType.is_in(types.iter().copied()))
        .order_by_desc(document::Column::CreatedAt)
        .all(db)
        .await
}

/// The valid documents that a case's materials made.
pub async fn valid_from<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Vec<document::Model>, DbErr> {
    document::Entity::find()
        .filter(document::Column::SourceApplicationId.eq(application_id))
        .filter(document::Column::State.eq(DocumentState::Valid.as_str()))
        .all(db)
        .await
}

/// The pages of `ids`, by document then position.
pub async fn pages_of<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<Vec<document_page::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    document_page::Entity::find()
        .filter(document_page::Column::DocumentId.is_in(ids.iter().copied()))
        .order_by_asc(document_page::Column::DocumentId)
        .order_by_asc(document_page::Column::Position)
        .all(db)
        .await
}

/// Ends a valid document (`state`: withdrawn, invalidated or replaced). Returns whether it was
/// valid until now.
pub async fn end<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    state: DocumentState,
    by: Option<Uuid>,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = document::Entity::update_many()
        .col_expr(document::Column::State, Expr::value(state.as_str()))
        .col_expr(document::Column::EndedAt, Expr::value(now))
        .col_expr(document::Column::EndedBy, Expr::value(by))
        .col_expr(document::Column::EndReason, Expr::value(reason))
        .filter(document::Column::Id.eq(id))
        .filter(document::Column::State.eq(DocumentState::Valid.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The department's confirmation: its member, when, and the validity counted from then.
pub async fn confirm<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    by: Uuid,
    valid_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    document::Entity::update_many()
        .col_expr(document::Column::ConfirmedBy, Expr::value(by))
        .col_expr(document::Column::ConfirmedAt, Expr::value(now))
        .col_expr(document::Column::ValidUntil, Expr::value(valid_until))
        .filter(document::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// A reviewer's recorded expiry of a document kept through a re-approval.
pub async fn set_expiry<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    expires_on: Option<NaiveDate>,
    valid_until: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    document::Entity::update_many()
        .col_expr(document::Column::ExpiresOn, Expr::value(expires_on))
        .col_expr(document::Column::ValidUntil, Expr::value(valid_until))
        .filter(document::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records the citizen's consent to use `document_id` in a case's material.
pub async fn record_use<C: ConnectionTrait>(
    db: &C,
    document_id: Uuid,
    application_id: Uuid,
    material_code: &str,
    department_code: &str,
    now: DateTime<Utc>,
) -> Result<document_use::Model, DbErr> {
    document_use::ActiveModel {
        id: Set(Uuid::now_v7()),
        document_id: Set(document_id),
        application_id: Set(application_id),
        material_code: Set(material_code.to_string()),
        department_code: Set(department_code.to_string()),
        consented_at: Set(now),
        removed_at: Set(None),
    }
    .insert(db)
    .await
}

/// The uses of a document, oldest first.
pub async fn uses_of<C: ConnectionTrait>(
    db: &C,
    document_id: Uuid,
) -> Result<Vec<document_use::Model>, DbErr> {
    document_use::Entity::find()
        .filter(document_use::Column::DocumentId.eq(document_id))
        .order_by_asc(document_use::Column::ConsentedAt)
        .all(db)
        .await
}

/// The uses in a case, oldest first.
pub async fn uses_in<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Vec<document_use::Model>, DbErr> {
    document_use::Entity::find()
        .filter(document_use::Column::ApplicationId.eq(application_id))
        .order_by_asc(document_use::Column::ConsentedAt)
        .all(db)
        .await
}

/// Marks the standing use of `document_id` in a case's material as removed.
pub async fn remove_use<C: ConnectionTrait>(
    db: &C,
    document_id: Uuid,
    application_id: Uuid,
    material_code: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    document_use::Entity::update_many()
        .col_expr(document_use::Column::RemovedAt, Expr::value(now))
        .filter(document_use::Column::DocumentId.eq(document_id))
        .filter(document_use::Column::ApplicationId.eq(application_id))
        .filter(document_use::Column::MaterialCode.eq(material_code))
        .filter(document_use::Column::RemovedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Removes the pages of documents `ids`; returns the keys of their objects and thumbnails.
pub async fn take_pages<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> Result<Vec<String>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, Option<String>)> = document_page::Entity::find()
        .select_only()
        .column(document_page::Column::ObjectKey)
        .column(document_page::Column::ThumbnailKey)
        .filter(document_page::Column::DocumentId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    document_page::Entity::delete_many()
        .filter(document_page::Column::DocumentId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(rows
        .into_iter()
        .flat_map(|(object, thumbnail)| std::iter::once(object).chain(thumbnail))
        .collect())
}
