//! The history of notifications to citizens: one row per event and channel, written with the
//! event (`store::outbox`) and updated by the send job. The row is also the send's idempotency
//! key: a job that finds its row `sent` or `skipped` does nothing, and one that finds it
//! `sending` knows a worker died mid-send and does not send again.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, QueryOrder, QueryTrait, TryInsertResult};
use uuid::Uuid;

pub mod notification {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notifications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub application_id: Uuid,
        pub citizen_id: Uuid,
        /// The application event that caused it.
        pub event_id: Uuid,
        /// `submitted`, `returned`, `rejected`, `prereview_passed`, ...
        pub event: String,
        /// `wechat` or `email`.
        pub channel: String,
        /// `pending`, `sending`, `sent`, `skipped` or `failed`.
        pub status: String,
        pub detail: Option<String>,
        pub attempts: i32,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub sent_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use crate::domain::notification::NotificationStatus;

pub struct NewNotification<'a> {
    pub application_id: Uuid,
    pub citizen_id: Uuid,
    pub event_id: Uuid,
    pub event: &'a str,
    pub channel: &'a str,
    pub status: NotificationStatus,
    pub detail: Option<String>,
}

/// Creates the rows of one event's channels, each unless it exists, and returns the event's
/// rows for those channels either way (in no particular order).
pub async fn create_all<C: ConnectionTrait>(
    db: &C,
    rows: Vec<NewNotification<'_>>,
) -> Result<Vec<notification::Model>, DbErr> {
    let Some(event_id) = rows.first().map(|new| new.event_id) else {
        return Ok(Vec::new());
    };
    let channels: Vec<String> = rows.iter().map(|new| new.channel.to_string()).collect();
    let now = Utc::now();
    let models = rows
        .into_iter()
        .map(|new| active_model(Uuid::now_v7(), new, now));
    let inserted = notification::Entity::insert_many(models)
        .on_conflict(
            OnConflict::columns([notification::Column::EventId, notification::Column::Channel])
                .do_nothing()
                .to_owned(),
        )
        .try_insert()
        .exec_with_returning_many(db)
        .await?;
    if let TryInsertResult::Inserted(written) = inserted
        && written.len() == channels.len()
    {
        return Ok(written);
    }
    // The event's notifications were written before (a fan-out job that ran again): its rows.
    notification::Entity::find()
        .filter(notification::Column::EventId.eq(event_id))
        .filter(notification::Column::Channel.is_in(channels))
        .all(db)
        .await
}

/// The rows of a new event, with the ids they get, as one statement to run with others
/// (`store::insert_all`). A new event has no rows yet, so nothing can conflict.
pub fn insert_new(rows: Vec<(Uuid, NewNotification<'_>)>) -> sea_orm::sea_query::InsertStatement {
    let now = Utc::now();
    let models = rows.into_iter().map(|(id, new)| active_model(id, new, now));
    notification::Entity::insert_many(models).into_query()
}

fn active_model(
    id: Uuid,
    new: NewNotification<'_>,
    now: DateTime<Utc>,
) -> notification::ActiveModel {
    notification::ActiveModel {
        id: Set(id),
        application_id: Set(new.application_id),
        citizen_id: Set(new.citizen_id),
        event_id: Set(new.event_id),
        event: Set(new.event.to_string()),
        channel: Set(new.channel.to_string()),
        status: Set(new.status.as_str().to_string()),
        detail: Set(new.detail),
        attempts: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        sent_at: Set(None),
    }
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<notification::Model>, DbErr> {
    notification::Entity::find_by_id(id).one(db).await
}

/// Moves a `pending` row to `sending` and counts the attempt. False if it was not pending.
pub async fn start_sending<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<bool, DbErr> {
    let result = notification::Entity::update_many()
        .col_expr(
            notification::Column::Status,
            Expr::value(NotificationStatus::Sending.as_str()),
        )
        .col_expr(
            notification::Column::Attempts,
            Expr::col(notification::Column::Attempts).add(1),
        )
        .col_expr(notification::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::Status.eq(NotificationStatus::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records where a notification got to.
pub async fn finish<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    status: NotificationStatus,
    detail: Option<String>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let sent_at: Option<DateTime<Utc>> = (status == NotificationStatus::Sent).then_some(now);
    notification::Entity::update_many()
        .col_expr(notification::Column::Status, Expr::value(status.as_str()))
        .col_expr(notification::Column::Detail, Expr::value(detail))
        .col_expr(notification::Column::SentAt, Expr::value(sent_at))
        .col_expr(notification::Column::UpdatedAt, Expr::value(now))
        .filter(notification::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Every notification of an application, oldest first.
pub async fn of_application<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Vec<notification::Model>, DbErr> {
    notification::Entity::find()
        .filter(notification::Column::ApplicationId.eq(application_id))
        .order_by_asc(notification::Column::CreatedAt)
        .order_by_asc(notification::Column::Id)
        .all(db)
        .await
}
