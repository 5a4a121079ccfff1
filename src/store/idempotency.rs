//! Idempotency records: the response a request produced, kept under the client's
//! `Idempotency-Key`, so a mobile client's retry gets the same answer instead of a duplicate.

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DatabaseTransaction};
use uuid::Uuid;

pub mod record {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub request_hash: String,
        pub response_status: i32,
        pub response_body: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn find(
    txn: &DatabaseTransaction,
    subject_id: Uuid,
    scope: &str,
    key: &str,
) -> Result<Option<record::Model>, DbErr> {
    record::Entity::find_by_id((subject_id, scope.to_string(), key.to_string()))
        .one(txn)
        .await
}

pub async fn save(
    txn: &DatabaseTransaction,
    subject_id: Uuid,
    scope: &str,
    key: &str,
    request_hash: String,
    status: u16,
    body: String,
) -> Result<(), super::StoreError> {
    let saved = record::ActiveModel {
        subject_id: Set(subject_id),
        scope: Set(scope.to_string()),
        key: Set(key.to_string()),
        request_hash: Set(request_hash),
        response_status: Set(i32::from(status)),
        response_body: Set(body),
        created_at: Set(Utc::now()),
    }
    .insert(txn)
    .await;
    super::unique(saved).map(drop)
}

/// Forgets every remembered response of `subject` (a deleted account's).
pub async fn forget_subject<C: ConnectionTrait>(db: &C, subject: Uuid) -> Result<(), DbErr> {
    record::Entity::delete_many()
        .filter(record::Column::SubjectId.eq(subject))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets responses remembered before `before`: a retry comes within minutes, and a kept
/// response holds the personal fields it answered with. Returns how many went.
pub async fn prune<C: ConnectionTrait>(
    db: &C,
    before: chrono::DateTime<Utc>,
) -> Result<u64, DbErr> {
    let result = record::Entity::delete_many()
        .filter(record::Column::CreatedAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
