//! Citizens, known by their mini-program `openid`.

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection};
use uuid::Uuid;

pub mod citizen {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "citizens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub openid: String,
        pub unionid: Option<String>,
        pub created_at: DateTimeUtc,
        pub last_login_at: DateTimeUtc,
        /// When the citizen deleted the account; its `openid` is forgotten then.
        pub deleted_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Finds or creates the citizen with `openid`, recording the login and any new `unionid`. Safe
/// under concurrent first logins: the unique `openid` decides and both get the same row.
pub async fn upsert_by_openid(
    db: &DatabaseConnection,
    openid: &str,
    unionid: Option<&str>,
) -> Result<citizen::Model, DbErr> {
    let now = Utc::now();
    let mut update = vec![citizen::Column::LastLoginAt];
    if unionid.is_some() {
        update.push(citizen::Column::Unionid);
    }
    citizen::Entity::insert(citizen::ActiveModel {
        id: Set(Uuid::now_v7()),
        openid: Set(openid.to_string()),
        unionid: Set(unionid.map(str::to_string)),
        created_at: Set(now),
        last_login_at: Set(now),
        deleted_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(citizen::Column::Openid)
            .update_columns(update)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    citizen::Entity::find()
        .filter(citizen::Column::Openid.eq(openid))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("citizen just upserted".into()))
}

/// An account for a resident an agent files for, with no WeChat behind it: it owns the case
/// until the resident confirms in the mini-program. Its `openid` can never be a WeChat one.
pub async fn insert_resident<C: ConnectionTrait>(
    db: &C,
    now: chrono::DateTime<Utc>,
) -> Result<Uuid, DbErr> {
    let id = Uuid::now_v7();
    citizen::ActiveModel {
        id: Set(id),
        openid: Set(format!("{RESIDENT_PREFIX}{id}")),
        unionid: Set(None),
        created_at: Set(now),
        last_login_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(id)
}

/// How a resident account's `openid` starts.
pub const RESIDENT_PREFIX: &str = "resident:";

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<citizen::Model>, DbErr> {
    citizen::Entity::find_by_id(id).one(db).await
}

/// Forgets the WeChat identity of a deleted account: its `openid` becomes one WeChat never
/// issues, so the next login of that user makes a new account; its cases keep their owner id.
pub async fn forget<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    citizen::Entity::update_many()
        .col_expr(
            citizen::Column::Openid,
            Expr::value(format!("{DELETED_PREFIX}{id}")),
        )
        .col_expr(
            citizen::Column::Unionid,
            Expr::value(Option::<String>::None),
        )
        .col_expr(citizen::Column::DeletedAt, Expr::value(now))
        .filter(citizen::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The `openid` prefix of deleted accounts.
pub const DELETED_PREFIX: &str = "deleted:";
