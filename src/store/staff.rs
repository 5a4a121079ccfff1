//! Staff accounts and the login throttle.

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};
use uuid::Uuid;

pub mod member {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "staff")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub username: String,
        pub display_name: String,
        pub password_hash: String,
        /// Comma-separated roles.
        pub roles: String,
        /// Comma-separated department codes.
        pub departments: String,
        pub disabled_at: Option<DateTimeUtc>,
        pub last_login_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        /// Where alerts and digests go; none without one.
        pub email: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod throttle {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_throttle")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub username: String,
        pub failures: i32,
        pub last_failure_at: DateTimeUtc,
        pub locked_until: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn find_by_username<C: ConnectionTrait>(
    db: &C,
    username: &str,
) -> Result<Option<member::Model>, DbErr> {
    member::Entity::find()
        .filter(member::Column::Username.eq(username))
        .one(db)
        .await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<member::Model>, DbErr> {
    member::Entity::find_by_id(id).one(db).await
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<member::Model>, DbErr> {
    let mut query = member::Entity::find();
    if let Some(after) = after {
        query = query.filter(member::Column::Id.gt(after));
    }
    query
        .order_by_asc(member::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    username: &str,
    display_name: &str,
    password_hash: String,
    roles: String,
    departments: String,
    email: Option<String>,
) -> Result<member::Model, DbErr> {
    let now = Utc::now();
    member::ActiveModel {
        id: Set(Uuid::now_v7()),
        username: Set(username.to_string()),
        display_name: Set(display_name.to_string()),
        password_hash: Set(password_hash),
        roles: Set(roles),
        departments: Set(departments),
        disabled_at: Set(None),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        email: Set(email),
    }
    .insert(db)
    .await
}

pub async fn update(
    db: &impl ConnectionTrait,
    model: member::ActiveModel,
) -> Result<member::Model, DbErr> {
    let mut model = model;
    model.updated_at = Set(Utc::now());
    model.update(db).await
}

pub async fn record_login(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    member::Entity::update_many()
        .col_expr(member::Column::LastLoginAt, Expr::value(Utc::now()))
        .filter(member::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The throttle state of a username (lower-cased), existing account or not.
pub async fn throttle_of<C: ConnectionTrait>(
    db: &C,
    username: &str,
) -> Result<Option<throttle::Model>, DbErr> {
    throttle::Entity::find_by_id(username.to_string())
        .one(db)
        .await
}

/// Counts a failure; the `lock_after`-th failure within the window locks for `lock_for`.
/// Failures older than the lock time start the count again.
pub async fn record_failure<C: ConnectionTrait>(
    db: &C,
    username: &str,
    now: DateTime<Utc>,
    lock_after: i32,
    lock_for: Duration,
) -> Result<throttle::Model, DbErr> {
    let current = throttle_of(db, username).await?;
    let failures = match &current {
        Some(t) if now - t.last_failure_at < lock_for => t.failures + 1,
        _ => 1,
    };
    let locked_until = (failures >= lock_after).then(|| now + lock_for);
    let row = throttle::ActiveModel {
        username: Set(username.to_string()),
        failures: Set(failures),
        last_failure_at: Set(now),
        locked_until: Set(locked_until),
    };
    throttle::Entity::insert(row)
        .on_conflict(
            OnConflict::column(throttle::Column::Username)
                .update_columns([
                    throttle::Column::Failures,
                    throttle::Column::LastFailureAt,
                    throttle::Column::LockedUntil,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(throttle::Model {
        username: username.to_string(),
        failures,
        last_failure_at: now,
        locked_until,
    })
}

pub async fn clear_failures<C: ConnectionTrait>(db: &C, username: &str) -> Result<(), DbErr> {
    throttle::Entity::delete_by_id(username.to_string())
        .exec(db)
        .await?;
    Ok(())
}
