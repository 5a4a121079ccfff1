//! The catalogue's revision and the instances reading it. An import that changes anything bumps
//! `catalog_state.revision` in its transaction and, on PostgreSQL, notifies `CHANNEL` at commit;
//! each running instance keeps its `catalog_readers` row saying which revision it serves.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, DatabaseBackend, Statement};

/// The PostgreSQL notification channel an import's commit announces its revision on.
pub const CHANNEL: &str = "beebox_catalog";

pub mod state {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "catalog_state")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub revision: i64,
        pub changed_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod reader {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "catalog_readers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub instance_id: Uuid,
        pub revision: i64,
        pub seen_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The revision the database holds now.
pub async fn current<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    Ok(state::Entity::find_by_id(1)
        .one(db)
        .await?
        .map_or(0, |s| s.revision))
}

/// Bumps the revision inside an import's transaction; PostgreSQL tells the listeners at commit.
pub async fn bump<C: ConnectionTrait>(txn: &C) -> Result<i64, DbErr> {
    state::Entity::update_many()
        .col_expr(
            state::Column::Revision,
            Expr::col(state::Column::Revision).add(1),
        )
        .col_expr(state::Column::ChangedAt, Expr::value(Utc::now()))
        .filter(state::Column::Id.eq(1))
        .exec(txn)
        .await?;
    let revision = current(txn).await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "select pg_notify($1, $2)",
            [CHANNEL.into(), revision.to_string().into()],
        ))
        .await?;
    }
    Ok(revision)
}

/// Instance `id` serves `revision` (and is alive at `now`).
pub async fn report<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    revision: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    reader::Entity::insert(reader::ActiveModel {
        instance_id: Set(id),
        revision: Set(revision),
        seen_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(reader::Column::InstanceId)
            .update_columns([reader::Column::Revision, reader::Column::SeenAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Instance `id` stopped: no import waits for it.
pub async fn forget<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<(), DbErr> {
    reader::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// The instances seen alive since `alive_since` that still serve a revision before `revision`.
pub async fn behind<C: ConnectionTrait>(
    db: &C,
    revision: i64,
    alive_since: DateTime<Utc>,
) -> Result<Vec<reader::Model>, DbErr> {
    reader::Entity::find()
        .filter(reader::Column::Revision.lt(revision))
        .filter(reader::Column::SeenAt.gte(alive_since))
        .all(db)
        .await
}
