//! Applications and their event timeline. A state change is one conditional UPDATE on
//! `(id, state, version)` plus its event, in one transaction; zero rows updated means someone
//! else changed the application first, and the caller answers 409. The service's own moves (a
//! parcel collected or delivered) are conditional on the state alone (`change_state_from`).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, InsertStatement};
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect, QueryTrait, UpdateMany};
use uuid::Uuid;

use crate::domain::application::ApplicationState;
use crate::notify::outbox::{self, Channels};

pub mod application {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "applications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub citizen_id: Uuid,
        pub matter_id: Uuid,
        pub matter_code: String,
        pub state: String,
        pub version: i32,
        pub applicant_name: String,
        pub applicant_phone: String,
        pub applicant_id_number_enc: Option<String>,
        pub applicant_id_number_masked: Option<String>,
        pub return_address: Option<Json>,
        pub note: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub submitted_at: Option<DateTimeUtc>,
        pub first_submitted_at: Option<DateTimeUtc>,
        /// The department of the application's item, for queues and staff scoping.
        pub department_code: String,
        /// The reviewer holding the claim lease, if it has not expired.
        pub claimed_by: Option<Uuid>,
        pub claim_expires_at: Option<DateTimeUtc>,
        /// Higher first: resubmitted cases come ahead of new ones.
        pub queue_priority: i32,
        /// The reasons of the latest return: `[{material_code, reason}]`.
        pub return_reasons: Option<Json>,
        /// Pre-review deadline, set at the first submission from the item's `prereview_hours`.
        pub prereview_due_at: Option<DateTimeUtc>,
        /// Where email notifications go, when the citizen gave an address.
        pub applicant_email: Option<String>,
        /// When staff were told the pre-review is overdue (once per case).
        pub overdue_alerted_at: Option<DateTimeUtc>,
        /// The dispatch batch that carried the originals to the department.
        pub batch_id: Option<Uuid>,
        /// When reception confirmed the originals.
        pub received_at: Option<DateTimeUtc>,
        /// When the citizen confirmed (or the system assumed) receipt of a posted result.
        pub receipt_confirmed_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "application_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub application_id: Uuid,
        pub actor_kind: String,
        pub actor_id: Option<Uuid>,
        pub action: String,
        pub from_state: Option<String>,
        pub to_state: String,
        pub reason: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::application::Entity",
            from = "Column::ApplicationId",
            to = "super::application::Column::Id"
        )]
        Application,
    }

    impl Related<super::application::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Application.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// Who caused an event.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub kind: &'static str,
    pub id: Option<Uuid>,
}

impl Actor {
    pub fn citizen(id: Uuid) -> Self {
        Self {
            kind: "citizen",
            id: Some(id),
        }
    }

    /// The service itself: a courier event, a schedule.
    pub fn system() -> Self {
        Self {
            kind: "system",
            id: None,
        }
    }

    pub fn staff(id: Uuid) -> Self {
        Self {
            kind: "staff",
            id: Some(id),
        }
    }
}

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    model: application::ActiveModel,
    actor: Actor,
) -> Result<application::Model, DbErr> {
    let created = model.insert(db).await?;
    record_event(
        db,
        created.id,
        actor,
        "create",
        None,
        ApplicationState::Draft,
        None,
    )
    .await?;
    Ok(created)
}

pub async fn record_event<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    actor: Actor,
    action: &str,
    from: Option<ApplicationState>,
    to: ApplicationState,
    reason: Option<String>,
) -> Result<Uuid, DbErr> {
    let (id, insert) = event_insert(application_id, actor, action, from, to, reason);
    db.execute(&insert).await?;
    Ok(id)
}

/// `record_event` as a statement, with the id the event gets.
fn event_insert(
    application_id: Uuid,
    actor: Actor,
    action: &str,
    from: Option<ApplicationState>,
    to: ApplicationState,
    reason: Option<String>,
) -> (Uuid, InsertStatement) {
    let id = Uuid::now_v7();
    let model = event::ActiveModel {
        id: Set(id),
        application_id: Set(application_id),
        actor_kind: Set(actor.kind.to_string()),
        actor_id: Set(actor.id),
        action: Set(action.to_string()),
        from_state: Set(from.map(|s| s.as_str().to_string())),
        to_state: Set(to.as_str().to_string()),
        reason: Set(reason),
        created_at: Set(Utc::now()),
    };
    (id, event::Entity::insert(model).into_query())
}

/// The citizen's own application; `None` for another citizen's id, exactly as for a missing one.
pub async fn find_owned<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
    id: Uuid,
) -> Result<Option<application::Model>, DbErr> {
    application::Entity::find_by_id(id)
        .filter(application::Column::CitizenId.eq(citizen_id))
        .one(db)
        .await
}

/// As `find_owned`, inside a write transaction, holding the row until it ends: on PostgreSQL
/// with `FOR UPDATE`, on SQLite by the `BEGIN IMMEDIATE` the transaction already holds. Page
/// edits and submits of one application then run one after the other.
pub async fn lock_owned<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
    id: Uuid,
) -> Result<Option<application::Model>, DbErr> {
    let mut query =
        application::Entity::find_by_id(id).filter(application::Column::CitizenId.eq(citizen_id));
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(db).await
}

/// Any application by id, locked for a change (the staff and system side of `lock_owned`).
pub async fn lock<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<application::Model>, DbErr> {
    let mut query = application::Entity::find_by_id(id);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(db).await
}

/// A page of the citizen's applications, newest first. Ids are UUIDv7, so id order is creation
/// order and the last id of a page is the cursor of the next.
pub async fn list_owned<C: ConnectionTrait>(
    db: &C,
    citizen_id: Uuid,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<application::Model>, DbErr> {
    let mut query =
        application::Entity::find().filter(application::Column::CitizenId.eq(citizen_id));
    if let Some(before) = before {
        query = query.filter(application::Column::Id.lt(before));
    }
    query
        .order_by_desc(application::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn events<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Vec<event::Model>, DbErr> {
    event::Entity::find()
        .filter(event::Column::ApplicationId.eq(application_id))
        .order_by_asc(event::Column::CreatedAt)
        .order_by_asc(event::Column::Id)
        .all(db)
        .await
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
pub async fn change_state_from<C: ConnectionTrait>(
    db: &C,
    channels: &Channels,
    id: Uuid,
    from: ApplicationState,
    to: ApplicationState,
    action: &str,
    reason: Option<String>,
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
        .col_expr(application::Column::UpdatedAt, Expr::value(Utc::now()))
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
    action: &str,
    state: ApplicationState,
    reason: Option<String>,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Query;
    let values = [
        Expr::value(Uuid::now_v7()),
        Expr::value(id),
        Expr::value(actor.kind),
        Expr::value(actor.id),
        Expr::value(action),
        Expr::value(state.as_str()),
        Expr::value(state.as_str()),
        Expr::value(reason),
        Expr::value(Utc::now()),
    ];
    let insert = Query::insert()
        .into_table(event::Entity)
        .columns([
            event::Column::Id,
            event::Column::ApplicationId,
            event::Column::ActorKind,
            event::Column::ActorId,
            event::Column::Action,
            event::Column::FromState,
            event::Column::ToState,
            event::Column::Reason,
            event::Column::CreatedAt,
        ])
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
/// `channels`): the one way a state change is written. Returns false (and writes nothing) when
/// the application moved on meanwhile.
pub async fn change_state<C: ConnectionTrait>(
    db: &C,
    channels: &Channels,
    app: &application::Model,
    to: ApplicationState,
    actor: Actor,
    action: &str,
    reason: Option<String>,
) -> Result<bool, DbErr> {
    let from = ApplicationState::parse(&app.state);
    if !transition(db, app, to, Utc::now()).await? {
        return Ok(false);
    }
    record_change(db, channels, app, from, to, actor, action, reason).await?;
    Ok(true)
}

/// The event of a state change just written, and the citizen's notifications of it.
#[allow(clippy::too_many_arguments)] // the event's fields, each plain
async fn record_change<C: ConnectionTrait>(
    db: &C,
    channels: &Channels,
    app: &application::Model,
    from: Option<ApplicationState>,
    to: ApplicationState,
    actor: Actor,
    action: &str,
    reason: Option<String>,
) -> Result<(), DbErr> {
    let (event_id, insert) = event_insert(app.id, actor, action, from, to, reason);
    let mut inserts = vec![insert];
    if let Some(name) = to.citizen_event() {
        // The outbox: the citizen's messages are written in the transaction of the change.
        inserts.extend(outbox::inserts_for_new_event(channels, app, event_id, name));
    }
    crate::store::insert_all(db, inserts).await
}

/// Sets the pre-review deadline of a first submission.
pub async fn set_prereview_due<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    due: DateTime<Utc>,
) -> Result<(), DbErr> {
    application::Entity::update_many()
        .col_expr(application::Column::PrereviewDueAt, Expr::value(due))
        .filter(application::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records (or clears) the reasons of the latest return.
pub async fn set_return_reasons<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    reasons: Option<Json>,
) -> Result<(), DbErr> {
    application::Entity::update_many()
        .col_expr(application::Column::ReturnReasons, Expr::value(reasons))
        .filter(application::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Bumps the version without changing the state: page edits do this so that a submit racing
/// an upload loses cleanly.
pub async fn touch<C: ConnectionTrait>(
    db: &C,
    app: &application::Model,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = application::Entity::update_many()
        .col_expr(application::Column::Version, Expr::value(app.version + 1))
        .col_expr(application::Column::UpdatedAt, Expr::value(now))
        .filter(application::Column::Id.eq(app.id))
        .filter(application::Column::Version.eq(app.version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records the receipt of a posted result, once: false when it was already recorded.
pub async fn set_receipt_confirmed<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = application::Entity::update_many()
        .col_expr(application::Column::ReceiptConfirmedAt, Expr::value(at))
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::ReceiptConfirmedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
