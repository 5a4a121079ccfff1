//! The emptyings of the 24-hour box (`box_runs`) and every envelope scanned in one
//! (`box_scans`), matched to its case or not: the record reception and operators look back on.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use uuid::Uuid;

pub mod run {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "box_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub started_by: Uuid,
        pub started_at: DateTimeUtc,
        pub closed_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod scan {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "box_scans")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub run_id: Uuid,
        /// As typed or scanned.
        pub typed: String,
        /// The code it reads as, when it can be one.
        pub drop_code: Option<String>,
        /// `received`, or why not (`courier::drop_box::Outcome`).
        pub outcome: String,
        pub application_id: Option<Uuid>,
        pub staff_id: Uuid,
        pub scanned_at: DateTimeUtc,
        /// The scanner's `Idempotency-Key`, unique within the run.
        pub idempotency_key: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn start<C: ConnectionTrait>(
    db: &C,
    staff: Uuid,
    now: DateTime<Utc>,
) -> Result<run::Model, DbErr> {
    run::ActiveModel {
        id: Set(Uuid::now_v7()),
        started_by: Set(staff),
        started_at: Set(now),
        closed_at: Set(None),
    }
    .insert(db)
    .await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<run::Model>, DbErr> {
    run::Entity::find_by_id(id).one(db).await
}

/// Closes an open run; `false` when it was closed already.
pub async fn close<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = run::Entity::update_many()
        .col_expr(
            run::Column::ClosedAt,
            sea_orm::sea_query::Expr::value(Some(now)),
        )
        .filter(run::Column::Id.eq(id))
        .filter(run::Column::ClosedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A scan to record.
pub struct NewScan<'a> {
    pub run_id: Uuid,
    pub typed: &'a str,
    pub drop_code: Option<String>,
    pub outcome: &'static str,
    pub application_id: Option<Uuid>,
    pub staff_id: Uuid,
    pub scanned_at: DateTime<Utc>,
    pub idempotency_key: Option<&'a str>,
}

pub async fn record<C: ConnectionTrait>(db: &C, new: NewScan<'_>) -> Result<scan::Model, DbErr> {
    scan::ActiveModel {
        id: Set(Uuid::now_v7()),
        run_id: Set(new.run_id),
        typed: Set(new.typed.chars().take(64).collect()),
        drop_code: Set(new.drop_code),
        outcome: Set(new.outcome.to_string()),
        application_id: Set(new.application_id),
        staff_id: Set(new.staff_id),
        scanned_at: Set(new.scanned_at),
        idempotency_key: Set(new.idempotency_key.map(str::to_string)),
    }
    .insert(db)
    .await
}

/// The scan made in `run_id` under the scanner's `key`, if there was one.
pub async fn scan_by_key<C: ConnectionTrait>(
    db: &C,
    run_id: Uuid,
    key: &str,
) -> Result<Option<scan::Model>, DbErr> {
    scan::Entity::find()
        .filter(scan::Column::RunId.eq(run_id))
        .filter(scan::Column::IdempotencyKey.eq(key))
        .one(db)
        .await
}

/// The runs started since `since`, oldest first: the schedule's view of today.
pub async fn started_since<C: ConnectionTrait>(
    db: &C,
    since: DateTime<Utc>,
) -> Result<Vec<run::Model>, DbErr> {
    run::Entity::find()
        .filter(run::Column::StartedAt.gte(since))
        .order_by_asc(run::Column::StartedAt)
        .all(db)
        .await
}

/// A run's scans, in the order they were made.
pub async fn scans_of<C: ConnectionTrait>(db: &C, run_id: Uuid) -> Result<Vec<scan::Model>, DbErr> {
    scan::Entity::find()
        .filter(scan::Column::RunId.eq(run_id))
        .order_by_asc(scan::Column::ScannedAt)
        .order_by_asc(scan::Column::Id)
        .all(db)
        .await
}
