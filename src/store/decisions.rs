//! Pre-review decisions, one row per decision, never changed.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder};
use uuid::Uuid;

pub mod decision {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "decisions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub application_id: Uuid,
        pub reviewer_id: Uuid,
        pub outcome: String,
        /// `[{material_code, reason}]`.
        pub reasons: Json,
        pub note: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    reviewer_id: Uuid,
    outcome: &str,
    reasons: Json,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    decision::ActiveModel {
        id: Set(Uuid::now_v7()),
        application_id: Set(application_id),
        reviewer_id: Set(reviewer_id),
        outcome: Set(outcome.to_string()),
        reasons: Set(reasons),
        note: Set(note),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn of_application<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Vec<decision::Model>, DbErr> {
    decision::Entity::find()
        .filter(decision::Column::ApplicationId.eq(application_id))
        .order_by_asc(decision::Column::Id)
        .all(db)
        .await
}
