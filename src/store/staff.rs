//! Staff accounts. The login throttle lives in `login_attempts`.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, IntoActiveModel, QueryOrder, QuerySelect};
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
        /// The client address of the last good login: the member's desk, which the
        /// per-username login back-off spares.
        pub last_login_ip: Option<String>,
        /// An agent's village service point.
        pub service_point_id: Option<Uuid>,
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
        last_login_ip: Set(None),
        service_point_id: Set(None),
    }
    .insert(db)
    .await
}

/// One change an admin makes to a member.
pub enum Change {
    Email(Option<String>),
    /// Roles (joined, as stored) and department codes.
    Access {
        roles: String,
        departments: Vec<String>,
    },
    /// Disabled since then, or enabled again.
    Disabled(Option<DateTime<Utc>>),
    PasswordHash(String),
}

/// Applies `change` to `member` and answers the member as changed.
pub async fn change(
    db: &impl ConnectionTrait,
    member: member::Model,
    change: Change,
    now: DateTime<Utc>,
) -> Result<member::Model, DbErr> {
    let mut model = member.into_active_model();
    match change {
        Change::Email(email) => model.email = Set(email),
        Change::Access { roles, departments } => {
            model.roles = Set(roles);
            model.departments = Set(departments.join(","));
        }
        Change::Disabled(at) => model.disabled_at = Set(at),
        Change::PasswordHash(hash) => model.password_hash = Set(hash),
    }
    model.updated_at = Set(now);
    model.update(db).await
}

pub async fn record_login(
    db: &impl ConnectionTrait,
    id: Uuid,
    client_ip: Option<&str>,
) -> Result<(), DbErr> {
    member::Entity::update_many()
        .col_expr(member::Column::LastLoginAt, Expr::value(Utc::now()))
        .col_expr(member::Column::LastLoginIp, Expr::value(client_ip))
        .filter(member::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Attaches an agent to their service point.
pub async fn set_service_point<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    service_point: Option<Uuid>,
) -> Result<(), DbErr> {
    member::Entity::update_many()
        .col_expr(
            member::Column::ServicePointId,
            sea_orm::sea_query::Expr::value(service_point),
        )
        .filter(member::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
