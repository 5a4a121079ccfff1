//! The department's decisions (one per case, enforced by a unique index) and the result files
//! it issues: scans of the licence or certificate, cleaned and stored like pages.

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder};
use uuid::Uuid;

use crate::domain::application::ApplicationState;
use crate::store::applications::application;

pub mod decision {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "department_decisions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub application_id: Uuid,
        pub approver_id: Uuid,
        /// `approved` or `refused`.
        pub outcome: String,
        pub note: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod result_file {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "result_files")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub application_id: Uuid,
        pub uploaded_by: Uuid,
        pub object_key: String,
        pub content_type: String,
        pub size: i64,
        pub sha256: String,
        pub width: Option<i32>,
        pub height: Option<i32>,
        pub original_name: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Cases of these departments waiting for a decision, longest waiting first.
pub async fn queue<C: ConnectionTrait>(
    db: &C,
    departments: &[String],
    limit: u64,
) -> Result<Vec<application::Model>, DbErr> {
    use sea_orm::QuerySelect;
    application::Entity::find()
        .filter(application::Column::State.eq(ApplicationState::AtDepartment.as_str()))
        .filter(application::Column::DepartmentCode.is_in(departments.to_vec()))
        .order_by_asc(application::Column::UpdatedAt)
        .order_by_asc(application::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn decision_of<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Option<decision::Model>, DbErr> {
    decision::Entity::find()
        .filter(decision::Column::ApplicationId.eq(application_id))
        .one(db)
        .await
}

pub async fn record_decision<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    approver_id: Uuid,
    outcome: &str,
    note: Option<String>,
) -> Result<decision::Model, super::StoreError> {
    let decided = decision::ActiveModel {
        id: Set(Uuid::now_v7()),
        application_id: Set(application_id),
        approver_id: Set(approver_id),
        outcome: Set(outcome.to_string()),
        note: Set(note),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await;
    super::unique(decided)
}

/// A case's result files, oldest first.
pub async fn result_files<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Vec<result_file::Model>, DbErr> {
    result_file::Entity::find()
        .filter(result_file::Column::ApplicationId.eq(application_id))
        .order_by_asc(result_file::Column::CreatedAt)
        .order_by_asc(result_file::Column::Id)
        .all(db)
        .await
}

pub async fn find_result_file<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    id: Uuid,
) -> Result<Option<result_file::Model>, DbErr> {
    result_file::Entity::find_by_id(id)
        .filter(result_file::Column::ApplicationId.eq(application_id))
        .one(db)
        .await
}

pub async fn insert_result_file<C: ConnectionTrait>(
    db: &C,
    model: result_file::Model,
) -> Result<result_file::Model, super::StoreError> {
    super::unique(result_file::ActiveModel::from(model).insert(db).await)
}

pub async fn delete_result_file<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<(), DbErr> {
    result_file::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}
