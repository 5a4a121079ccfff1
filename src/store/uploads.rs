//! Direct uploads (path B): a presigned PUT the citizen makes straight to the object store,
//! completed into a page afterwards. Every upload's staged key is swept once it expires,
//! completed or not: a presigned S3 PUT cannot be revoked, so a PUT after `complete` may still
//! land there until the URL expires.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};
use uuid::Uuid;

pub mod upload {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "uploads")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub application_id: Uuid,
        pub citizen_id: Uuid,
        pub material_code: String,
        /// Where the client PUTs the bytes: a staging key, never a page's key.
        pub object_key: String,
        pub content_type: String,
        pub size: i64,
        pub sha256: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub completed_at: Option<DateTimeUtc>,
        pub page_id: Option<Uuid>,
        pub swept_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A direct-upload ticket as it is issued.
pub struct NewTicket {
    pub id: Uuid,
    pub application_id: Uuid,
    pub citizen_id: Uuid,
    pub material_code: String,
    pub object_key: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert<C: ConnectionTrait>(db: &C, ticket: NewTicket) -> Result<upload::Model, DbErr> {
    upload::ActiveModel {
        id: Set(ticket.id),
        application_id: Set(ticket.application_id),
        citizen_id: Set(ticket.citizen_id),
        material_code: Set(ticket.material_code),
        object_key: Set(ticket.object_key),
        content_type: Set(ticket.content_type),
        size: Set(ticket.size),
        sha256: Set(ticket.sha256),
        created_at: Set(ticket.created_at),
        expires_at: Set(ticket.expires_at),
        completed_at: Set(None),
        page_id: Set(None),
        swept_at: Set(None),
    }
    .insert(db)
    .await
}

pub async fn find_owned<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
    id: Uuid,
) -> Result<Option<upload::Model>, DbErr> {
    upload::Entity::find_by_id(id)
        .filter(upload::Column::CitizenId.eq(citizen_id))
        .one(db)
        .await
}

/// Any upload by id, whoever owns it: the filesystem store's PUT route asks whether its ticket
/// still takes data.
pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<upload::Model>, DbErr> {
    upload::Entity::find_by_id(id).one(db).await
}

/// Open tickets of an application (neither completed nor expired), and the earliest expiry
/// among them.
pub async fn open_of_application<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(u64, Option<DateTime<Utc>>), DbErr> {
    let open = upload::Entity::find()
        .filter(upload::Column::ApplicationId.eq(application_id))
        .filter(upload::Column::CompletedAt.is_null())
        .filter(upload::Column::ExpiresAt.gt(now));
    let count = open.clone().count(db).await?;
    let earliest = open
        .order_by_asc(upload::Column::ExpiresAt)
        .one(db)
        .await?
        .map(|u| u.expires_at);
    Ok((count, earliest))
}

pub async fn mark_completed<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    page_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = upload::Entity::update_many()
        .col_expr(upload::Column::CompletedAt, Expr::value(now))
        .col_expr(upload::Column::PageId, Expr::value(page_id))
        .filter(upload::Column::Id.eq(id))
        .filter(upload::Column::CompletedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Uploads past their expiry, completed or not, whose staged keys have not been swept yet.
pub async fn expired<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<upload::Model>, DbErr> {
    upload::Entity::find()
        .filter(upload::Column::SweptAt.is_null())
        .filter(upload::Column::ExpiresAt.lt(now))
        .order_by_asc(upload::Column::ExpiresAt)
        .limit(limit)
        .all(db)
        .await
}

pub async fn mark_swept<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    upload::Entity::update_many()
        .col_expr(upload::Column::SweptAt, Expr::value(now))
        .filter(upload::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
