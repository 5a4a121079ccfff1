//! Applications and their event timeline: the rows and their reads here, the state changes and
//! events in `changes`.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::domain::application::ApplicationState;

mod changes;
pub use changes::{
    change_state, change_state_from, end_claim, record_event, record_event_in_state, transition,
};

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
        /// The bundle filing (一件事) it belongs to, if any.
        pub filing_id: Option<Uuid>,
        /// The agent who filed it for the resident, and their service point (`cases::agents`).
        pub agent_id: Option<Uuid>,
        pub service_point_id: Option<Uuid>,
        /// How the resident authorizes the agent: a `domain::agent::Method`.
        pub authorization_method: Option<String>,
        /// An admin's legal hold: the retention job leaves the case alone while it is set.
        pub held_at: Option<DateTimeUtc>,
        pub held_by: Option<Uuid>,
        pub hold_reason: Option<String>,
        /// When retention (or the account's deletion) destroyed each part of the case.
        pub photos_destroyed_at: Option<DateTimeUtc>,
        pub results_destroyed_at: Option<DateTimeUtc>,
        pub personal_destroyed_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        /// Filed by an agent on a signed authorization form, which is one of its materials.
        pub fn signed_form(&self) -> bool {
            self.authorization_method.as_deref()
                == Some(crate::domain::agent::Method::SignedForm.as_str())
        }
    }
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
        crate::domain::application::Action::Create,
        None,
        ApplicationState::Draft,
        None,
        created.created_at,
    )
    .await?;
    Ok(created)
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

/// Any application by id (staff and the service: the caller scopes it).
pub async fn find<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<application::Model>, DbErr> {
    application::Entity::find_by_id(id).one(db).await
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
) -> Result<Vec<Listed>, DbErr> {
    newest_first(
        db,
        application::Column::CitizenId.eq(citizen_id),
        before,
        limit,
    )
    .await
}

/// The cases a service point filed, newest first.
pub async fn list_of_point<C: ConnectionTrait>(
    db: &C,
    service_point: Uuid,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Listed>, DbErr> {
    let of_point = application::Column::ServicePointId.eq(service_point);
    newest_first(db, of_point, before, limit).await
}

/// An application as a list shows it: the columns a summary needs, not the applicant's
/// details or JSON columns (a list reads many rows).
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct Listed {
    pub id: Uuid,
    pub state: String,
    pub matter_id: Uuid,
    pub matter_code: String,
    pub filing_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub submitted_at: Option<DateTimeUtc>,
}

/// The applications `filter` picks, newest first, after the cursor `before`.
async fn newest_first<C: ConnectionTrait>(
    db: &C,
    filter: sea_orm::sea_query::SimpleExpr,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Listed>, DbErr> {
    use application::Column as C;
    let mut query = application::Entity::find().filter(filter);
    if let Some(before) = before {
        query = query.filter(C::Id.lt(before));
    }
    query
        .select_only()
        .columns([
            C::Id,
            C::State,
            C::MatterId,
            C::MatterCode,
            C::FilingId,
            C::CreatedAt,
            C::UpdatedAt,
            C::SubmittedAt,
        ])
        .order_by_desc(C::Id)
        .limit(limit)
        .into_model::<Listed>()
        .all(db)
        .await
}

/// A service point's cases waiting for their originals to be collected, oldest first, locked
/// for the booking (on PostgreSQL; SQLite's write transaction holds the database).
pub async fn lock_awaiting_pickup_of_point<C: ConnectionTrait>(
    db: &C,
    service_point: Uuid,
) -> Result<Vec<application::Model>, DbErr> {
    let mut query = application::Entity::find()
        .filter(application::Column::ServicePointId.eq(service_point))
        .filter(application::Column::State.eq(ApplicationState::PrereviewPassed.as_str()))
        .order_by_asc(application::Column::Id);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.all(db).await
}

/// Moves an agent-filed case to the resident's own account, once they confirmed.
pub async fn set_owner<C: ConnectionTrait>(db: &C, id: Uuid, citizen: Uuid) -> Result<(), DbErr> {
    application::Entity::update_many()
        .col_expr(application::Column::CitizenId, Expr::value(citizen))
        .filter(application::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The applications of a bundle filing, in the bundle's order (they are made in that order and
/// ids are UUIDv7).
pub async fn of_filing<C: ConnectionTrait>(
    db: &C,
    filing_id: Uuid,
) -> Result<Vec<application::Model>, DbErr> {
    application::Entity::find()
        .filter(application::Column::FilingId.eq(filing_id))
        .order_by_asc(application::Column::Id)
        .all(db)
        .await
}

/// The events of several applications, oldest first.
pub async fn events_of<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<Vec<event::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    event::Entity::find()
        .filter(event::Column::ApplicationId.is_in(ids.iter().copied()))
        .order_by_asc(event::Column::CreatedAt)
        .order_by_asc(event::Column::Id)
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

/// Every application of `citizen`, locked for a change (an account's deletion).
pub async fn of_citizen_all<C: ConnectionTrait>(
    db: &C,
    citizen: Uuid,
) -> Result<Vec<application::Model>, DbErr> {
    let mut query = application::Entity::find()
        .filter(application::Column::CitizenId.eq(citizen))
        .order_by_asc(application::Column::Id);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.all(db).await
}
