//! Bundle filings (一件事): one per bundle a citizen files, with an application per item
//! (`applications.filing_id`).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};
use uuid::Uuid;

pub mod filing {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "filings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub citizen_id: Uuid,
        pub bundle_code: String,
        pub bundle_name: String,
        /// Bumped by every change of the filing as a whole (its submission).
        pub version: i32,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub submitted_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
    bundle_code: &str,
    bundle_name: &str,
    now: DateTime<Utc>,
) -> Result<filing::Model, DbErr> {
    filing::ActiveModel {
        id: Set(Uuid::now_v7()),
        citizen_id: Set(citizen_id),
        bundle_code: Set(bundle_code.to_string()),
        bundle_name: Set(bundle_name.to_string()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        submitted_at: Set(None),
    }
    .insert(db)
    .await
}

/// Any filing by id (staff reading a case's filing: the caller scopes it).
pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<filing::Model>, DbErr> {
    filing::Entity::find_by_id(id).one(db).await
}

/// The citizen's filing `id`; another citizen's is `None`, as a missing one.
pub async fn find_owned<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
    id: Uuid,
) -> Result<Option<filing::Model>, DbErr> {
    filing::Entity::find_by_id(id)
        .filter(filing::Column::CitizenId.eq(citizen_id))
        .one(db)
        .await
}

/// As `find_owned`, holding the row for the rest of the write transaction (PostgreSQL: `FOR
/// UPDATE`; SQLite: the transaction's `BEGIN IMMEDIATE`), so changes of one filing run one
/// after the other.
pub async fn lock_owned<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
    id: Uuid,
) -> Result<Option<filing::Model>, DbErr> {
    let mut query = filing::Entity::find_by_id(id).filter(filing::Column::CitizenId.eq(citizen_id));
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(db).await
}

/// A page of the citizen's filings, newest first; the last id is the next page's cursor.
pub async fn list_owned<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<filing::Model>, DbErr> {
    let mut query = filing::Entity::find().filter(filing::Column::CitizenId.eq(citizen_id));
    if let Some(before) = before {
        query = query.filter(filing::Column::Id.lt(before));
    }
    query
        .order_by_desc(filing::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Records the filing's submission if it is still at `version`. Returns whether it was.
pub async fn mark_submitted<C: ConnectionTrait>(
    db: &C,
    filing: &filing::Model,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = filing::Entity::update_many()
        .col_expr(
            filing::Column::Version,
            Expr::col(filing::Column::Version).add(1),
        )
        .col_expr(filing::Column::UpdatedAt, Expr::value(now))
        .col_expr(filing::Column::SubmittedAt, Expr::value(now))
        .filter(filing::Column::Id.eq(filing.id))
        .filter(filing::Column::Version.eq(filing.version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
