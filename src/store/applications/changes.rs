//! State changes and the timeline: one conditional UPDATE on `(id, state, version)` plus its
//! event and the citizen's notifications, in the caller's transaction; zero rows updated means
//! someone else changed the application first, and the caller answers 409. The service's own
//! moves (a parcel collected or delivered) are conditional on the state alone
//! (`change_state_from`).

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, Iterable, QueryTrait, UpdateMany};
use uuid::Uuid;

use super::{Actor, application, event};
use crate::domain::application::{Action, ApplicationState};
use crate::store::outbox::{self, Channels};
use crate::store::stats;

/// An event of the timeline that moves nothing, or whose move was written already.
#[allow(clippy::too_many_arguments)] // the event's fields, each plain
pub async fn record_event<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    actor: Actor,
    action: Action,
    from: Option<ApplicationState>,
    to: ApplicationState,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<Uuid, DbErr> {
    let (id, model) = event_model(application_id, actor, action, from, to, reason, now);
    db.execute(&event::Entity::insert(model).into_query())
        .await?;
    Ok(id)
}

/// A new event's row, with the id it gets.
fn event_model(
    application_id: Uuid,
    actor: Actor,
    action: Action,
    from: Option<ApplicationState>,
    to: ApplicationState,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> (Uuid, event::ActiveModel) {
    let id = Uuid::now_v7();
    let model = event::ActiveModel {
        id: Set(id),
        application_id: Set(application_id),
        actor_kind: Set(actor.kind.to_string()),
        actor_id: Set(actor.id),
        action: Set(action.as_str().to_string()),
        from_state: Set(from.map(|s| s.as_str().to_string())),
        to_state: Set(to.as_str().to_string()),
        reason: Set(reason),
        created_at: Set(now),
    };
    (id, model)
}

/// Moves `app` from its current state to `to` if nobody changed it meanwhile. Returns false
/// when the state or version moved on (the caller answers 409).
pub async fn transition<C: ConnectionTrait>(
    db: &C,
    app: &application::Model,
    to: ApplicationState,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut update = application::Entity::update_many()
        .col_expr(application::Column::State, Expr::value(to.as_str()))
        .col_expr(application::Column::Version, Expr::value(app.version + 1))
        .col_expr(application::Column::UpdatedAt, Expr::value(now));
    if to == ApplicationState::Submitted {
        update = update.col_expr(application::Column::SubmittedAt, Expr::value(now));
        if app.first_submitted_at.is_none() {
            update = update.col_expr(application::Column::FirstSubmittedAt, Expr::value(now));
        }
        // A resubmitted case goes ahead of new ones.
        if app.state == ApplicationState::Returned.as_str() {
            update = update.col_expr(application::Column::QueuePriority, Expr::value(1));
        }
    } else {
        update = end_claim(update);
    }
    let result = update
        .filter(application::Column::Id.eq(app.id))
        .filter(application::Column::State.eq(app.state.as_str()))
        .filter(application::Column::Version.eq(app.version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Leaving `submitted` ends any claim, as releasing it and its lease running out do (`claims`).
pub fn end_claim(update: UpdateMany<application::Entity>) -> UpdateMany<application::Entity> {
    update
        .col_expr(
            application::Column::ClaimedBy,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            application::Column::ClaimExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
}

/// `change_state` for the service's own moves (a parcel collected or delivered), without reading
/// the application first: moves it from `from` to `to` and writes the event and notifications.
/// Returns false (and writes nothing) when it is not in `from`. Not for a submission, whose
/// columns depend on the application's history.
#[allow(clippy::too_many_arguments)] // the change's fields, each plain
pub async fn change_state_from<C: ConnectionTrait>(
    db: &C,
    channels: &Channels,
    id: Uuid,
    from: ApplicationState,
    to: ApplicationState,
    action: Action,
    reason: Option<String>,
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> Result<bool, DbErr> {
    debug_assert_ne!(to, ApplicationState::Submitted);
    // The UPDATE answers the application as moved, for its notifications: one round trip
    // instead of a read and a write.
    let moved = end_claim(application::Entity::update_many())
        .col_expr(application::Column::State, Expr::value(to.as_str()))
        .col_expr(
            application::Column::Version,
            Expr::col(application::Column::Version).add(1),
        )
        .col_expr(application::Column::UpdatedAt, Expr::value(now))
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::State.eq(from.as_str()))
        .exec_with_returning(db)
        .await?;
    let Some(app) = moved.into_iter().next() else {
        return Ok(false);
    };
    record_change(
        db,
        channels,
        &app,
        Some(from),
        to,
        Actor::system(),
        action,
        reason,
        now,
        offset,
    )
    .await?;
    Ok(true)
}

/// Records an event of the application `id` that leaves its state as it is, if it is in
/// `state`, without reading it first. Returns whether it was.
pub async fn record_event_in_state<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    actor: Actor,
    action: Action,
    state: ApplicationState,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Query;
    let (_, model) = event_model(id, actor, action, Some(state), state, reason, now);
    // The row's values, selected from the application only while it is in `state`.
    let (columns, values): (Vec<_>, Vec<_>) = event::Column::iter()
        .filter_map(|column| Some((column, Expr::val(model.get(column).into_value()?))))
        .unzip();
    let insert = Query::insert()
        .into_table(event::Entity)
        .columns(columns)
        .select_from(
            Query::select()
                .exprs(values)
                .from(application::Entity)
                .and_where(application::Column::Id.eq(id))
                .and_where(application::Column::State.eq(state.as_str()))
                .to_owned(),
        )
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    let result = db.execute(&insert).await?;
    Ok(result.rows_affected() == 1)
}

/// `transition` and its event together, with the citizen's notifications of the event (by
/// `channels`): how `cases` writes a state change the domain allowed. Returns false (and writes
/// nothing) when the application moved on meanwhile.
#[allow(clippy::too_many_arguments)] // the change's fields, each plain
pub async fn change_state<C: ConnectionTrait>(
    db: &C,
    channels: &Channels,
    app: &application::Model,
    to: ApplicationState,
    actor: Actor,
    action: Action,
    reason: Option<String>,
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> Result<bool, DbErr> {
    let from = ApplicationState::parse(&app.state);
    if !transition(db, app, to, now).await? {
        return Ok(false);
    }
    record_change(
        db, channels, app, from, to, actor, action, reason, now, offset,
    )
    .await?;
    Ok(true)
}

/// The event of a state change just written, the citizen's notifications of it and the
/// dashboard's rollup rows it adds (`store::stats`; `offset` is the centre's, for local days).
#[allow(clippy::too_many_arguments)] // the event's fields, each plain
async fn record_change<C: ConnectionTrait>(
    db: &C,
    channels: &Channels,
    app: &application::Model,
    from: Option<ApplicationState>,
    to: ApplicationState,
    actor: Actor,
    action: Action,
    reason: Option<String>,
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> Result<(), DbErr> {
    let rollups = stats::rollups::for_change(db, app, from, action, now, offset).await?;
    let (event_id, model) = event_model(app.id, actor, action, from, to, reason, now);
    let mut inserts = vec![event::Entity::insert(model).into_query()];
    inserts.extend(rollups);
    if let Some(name) = to.citizen_event() {
        // The outbox: the citizen's messages are written in the transaction of the change.
        inserts.extend(outbox::inserts_for_new_event(channels, app, event_id, name));
    }
    crate::store::insert_all(db, inserts).await
}
