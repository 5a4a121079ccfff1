//! What each citizen consented to in `wx.requestSubscribeMessage`: one acceptance of a template
//! allows one message with it, so each row counts the messages still allowed.

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, QueryOrder};
use uuid::Uuid;

pub mod subscription {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "wechat_subscriptions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub citizen_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub template_id: String,
        pub remaining: i32,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A cap on stored acceptances per template, so a looping client cannot grow one without end.
pub const MAX_REMAINING: i32 = 100;

/// Counts one more acceptance of each template.
pub async fn accept<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
    template_ids: &[String],
) -> Result<(), DbErr> {
    let now = Utc::now();
    for template_id in template_ids {
        let model = subscription::ActiveModel {
            citizen_id: Set(citizen_id),
            template_id: Set(template_id.clone()),
            remaining: Set(1),
            updated_at: Set(now),
        };
        let bumped = Expr::case(
            Expr::col((subscription::Entity, subscription::Column::Remaining)).lt(MAX_REMAINING),
            Expr::col((subscription::Entity, subscription::Column::Remaining)).add(1),
        )
        .finally(MAX_REMAINING);
        subscription::Entity::insert(model)
            .on_conflict(
                OnConflict::columns([
                    subscription::Column::CitizenId,
                    subscription::Column::TemplateId,
                ])
                .value(subscription::Column::Remaining, bumped)
                .update_column(subscription::Column::UpdatedAt)
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Uses one acceptance of `template_id`. False when none is left.
pub async fn take_one<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
    template_id: &str,
) -> Result<bool, DbErr> {
    let result = subscription::Entity::update_many()
        .col_expr(
            subscription::Column::Remaining,
            Expr::col(subscription::Column::Remaining).sub(1),
        )
        .col_expr(subscription::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(subscription::Column::CitizenId.eq(citizen_id))
        .filter(subscription::Column::TemplateId.eq(template_id))
        .filter(subscription::Column::Remaining.gt(0))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// WeChat said the citizen has none left (43101): believe it.
pub async fn clear<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
    template_id: &str,
) -> Result<(), DbErr> {
    subscription::Entity::update_many()
        .col_expr(subscription::Column::Remaining, Expr::value(0))
        .col_expr(subscription::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(subscription::Column::CitizenId.eq(citizen_id))
        .filter(subscription::Column::TemplateId.eq(template_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn of_citizen<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
) -> Result<Vec<subscription::Model>, DbErr> {
    subscription::Entity::find()
        .filter(subscription::Column::CitizenId.eq(citizen_id))
        .order_by_asc(subscription::Column::TemplateId)
        .all(db)
        .await
}

/// Drops every subscription of `citizen` (a deleted account's).
pub async fn delete_all<C: ConnectionTrait>(db: &C, citizen_id: Uuid) -> Result<(), DbErr> {
    subscription::Entity::delete_many()
        .filter(subscription::Column::CitizenId.eq(citizen_id))
        .exec(db)
        .await?;
    Ok(())
}
