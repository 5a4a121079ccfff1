//! Village service points (代办点): where agents file for residents, and the courier address
//! their residents' originals and results travel through.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};
use uuid::Uuid;

pub mod point {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_points")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub code: String,
        pub name: String,
        /// The courier address, as the API's address object.
        pub address: Json,
        /// Comma-separated department codes whose items the point files.
        pub departments: String,
        /// The courier partner of this point's cases; `None`: `courier.default_partner`.
        pub courier_partner: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub struct NewPoint<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub address: serde_json::Value,
    pub departments: &'a [String],
    pub courier_partner: Option<&'a str>,
}

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewPoint<'_>,
    now: DateTime<Utc>,
) -> Result<point::Model, DbErr> {
    point::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(new.code.to_string()),
        name: Set(new.name.to_string()),
        address: Set(new.address),
        departments: Set(new.departments.join(",")),
        courier_partner: Set(new.courier_partner.map(String::from)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<point::Model>, DbErr> {
    point::Entity::find_by_id(id).one(db).await
}

pub async fn find_by_code<C: ConnectionTrait>(
    db: &C,
    code: &str,
) -> Result<Option<point::Model>, DbErr> {
    point::Entity::find()
        .filter(point::Column::Code.eq(code))
        .one(db)
        .await
}

/// Oldest first, after `after`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<point::Model>, DbErr> {
    let mut query = point::Entity::find();
    if let Some(after) = after {
        query = query.filter(point::Column::Id.gt(after));
    }
    query
        .order_by_asc(point::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Replaces the point's name, address, departments and courier partner.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    point: point::Model,
    new: NewPoint<'_>,
    now: DateTime<Utc>,
) -> Result<point::Model, DbErr> {
    let mut active: point::ActiveModel = point.into();
    active.name = Set(new.name.to_string());
    active.address = Set(new.address);
    active.departments = Set(new.departments.join(","));
    active.courier_partner = Set(new.courier_partner.map(String::from));
    active.updated_at = Set(now);
    active.update(db).await
}
