//! A resident's authorization of the agent who files their case: one per agent-filed case, by
//! confirmation in the mini-program (a short code) or by a signed form the reviewer accepts.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, QuerySelect};
use uuid::Uuid;

pub mod authorization {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "authorizations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub application_id: Uuid,
        pub agent_id: Uuid,
        pub service_point_id: Uuid,
        /// A `domain::agent::Method`.
        pub method: String,
        /// SHA-256 of the outstanding confirmation code; `None` once used or never issued.
        pub code_hash: Option<String>,
        pub code_expires_at: Option<DateTimeUtc>,
        /// The resident's citizen account that confirmed in the mini-program.
        pub citizen_id: Option<Uuid>,
        /// When the resident confirmed, or when pre-review accepted the signed form.
        pub granted_at: Option<DateTimeUtc>,
        pub expires_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
        /// When the agent handed the result to the resident.
        pub handed_over_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use authorization::Model as Authorization;

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    agent_id: Uuid,
    service_point_id: Uuid,
    method: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Authorization, DbErr> {
    authorization::ActiveModel {
        id: Set(Uuid::now_v7()),
        application_id: Set(application_id),
        agent_id: Set(agent_id),
        service_point_id: Set(service_point_id),
        method: Set(method.to_string()),
        code_hash: Set(None),
        code_expires_at: Set(None),
        citizen_id: Set(None),
        granted_at: Set(None),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        handed_over_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await
}

pub async fn of_application<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Option<Authorization>, DbErr> {
    authorization::Entity::find()
        .filter(authorization::Column::ApplicationId.eq(application_id))
        .one(db)
        .await
}

/// The authorization whose outstanding code hashes to `code_hash`, locked for its use on
/// PostgreSQL (SQLite's write transaction already holds the database).
pub async fn lock_by_code<C: ConnectionTrait>(
    db: &C,
    code_hash: &str,
) -> Result<Option<Authorization>, DbErr> {
    let mut query =
        authorization::Entity::find().filter(authorization::Column::CodeHash.eq(code_hash));
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(db).await
}

/// The authorization whose outstanding code hashes to `code_hash`.
pub async fn find_by_code<C: ConnectionTrait>(
    db: &C,
    code_hash: &str,
) -> Result<Option<Authorization>, DbErr> {
    authorization::Entity::find()
        .filter(authorization::Column::CodeHash.eq(code_hash))
        .one(db)
        .await
}

/// A new confirmation code replaces any earlier one, which stops working.
pub async fn set_code<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    code_hash: &str,
    code_expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    authorization::Entity::update_many()
        .col_expr(authorization::Column::CodeHash, Expr::value(code_hash))
        .col_expr(
            authorization::Column::CodeExpiresAt,
            Expr::value(code_expires_at),
        )
        .filter(authorization::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records the grant; the code, if any, is spent.
pub async fn grant<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    citizen_id: Option<Uuid>,
    granted_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let mut update = authorization::Entity::update_many()
        .col_expr(
            authorization::Column::CodeHash,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            authorization::Column::CodeExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(authorization::Column::GrantedAt, Expr::value(granted_at))
        .filter(authorization::Column::Id.eq(id));
    if let Some(citizen) = citizen_id {
        update = update.col_expr(authorization::Column::CitizenId, Expr::value(citizen));
    }
    if let Some(expires) = expires_at {
        update = update.col_expr(authorization::Column::ExpiresAt, Expr::value(expires));
    }
    update.exec(db).await?;
    Ok(())
}

/// Ends the authorization; revoking twice keeps the first time. `true` when this call did it.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let done = authorization::Entity::update_many()
        .col_expr(authorization::Column::RevokedAt, Expr::value(now))
        .col_expr(
            authorization::Column::CodeHash,
            Expr::value(Option::<String>::None),
        )
        .filter(authorization::Column::Id.eq(id))
        .filter(authorization::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Records the hand-over of the result; a second time keeps the first. `true` when this call
/// did it.
pub async fn hand_over<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let done = authorization::Entity::update_many()
        .col_expr(authorization::Column::HandedOverAt, Expr::value(now))
        .filter(authorization::Column::Id.eq(id))
        .filter(authorization::Column::HandedOverAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}
