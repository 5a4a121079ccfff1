//! Shipments (one courier leg each) and their route events. Order lifecycle and tracking are
//! separate: `order_status` is ours (requested, created, cancel_requested, cancelled, failed),
//! `status` is the parcel's normalised tracking status, which only moves forward.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, QueryOrder};
use uuid::Uuid;

pub use crate::domain::shipment::OrderStatus;
pub use crate::domain::track::Tracking;

pub mod shipment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub application_id: Uuid,
        /// `materials`, `result` or `return`.
        pub leg: String,
        pub partner: String,
        /// Ours, unique, never reused (a reschedule makes a new one).
        pub order_id: String,
        /// `requested`, `created`, `cancel_requested`, `cancelled` or `failed`.
        pub order_status: String,
        /// The normalised tracking status (`ShipmentStatus`).
        pub status: String,
        pub last_op_code: Option<String>,
        pub waybill_no: Option<String>,
        pub courier_name: Option<String>,
        pub courier_phone: Option<String>,
        /// `Contact` as JSON.
        pub sender: String,
        /// `Contact` as JSON.
        pub recipient: String,
        pub pickup_date: Option<String>,
        pub pickup_slot: Option<String>,
        pub pickup_from: Option<DateTimeUtc>,
        pub pickup_until: Option<DateTimeUtc>,
        pub last_event_at: Option<DateTimeUtc>,
        pub delivered_at: Option<DateTimeUtc>,
        /// The furthest forward step of its route events: its rank (`domain::track`)...
        pub forward_rank: Option<i32>,
        /// ... and when it happened.
        pub forward_at: Option<DateTimeUtc>,
        /// The latest side state of its route events (`delivery_failed`, `exception`)...
        pub side_status: Option<String>,
        /// ... and when it happened.
        pub side_at: Option<DateTimeUtc>,
        pub last_error: Option<String>,
        pub version: i32,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod route_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipment_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub partner: String,
        pub partner_event_id: String,
        pub waybill_no: String,
        /// `None` while the waybill is unknown; matched when its shipment appears.
        pub shipment_id: Option<Uuid>,
        pub op_code: String,
        pub status: String,
        pub occurred_at: DateTimeUtc,
        pub location: Option<String>,
        pub description: String,
        /// The event as the partner sent it (JSON).
        pub raw: String,
        /// Whether it moved the shipment (a late or duplicate step does not).
        pub applied: bool,
        pub received_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub const LEG_MATERIALS: &str = "materials";
pub const LEG_RESULT: &str = "result";
pub const LEG_RETURN: &str = "return";

/// Orders cancelled, or on their way to it: no longer the leg's current shipment.
fn closed_orders() -> [&'static str; 2] {
    [
        OrderStatus::Cancelled.as_str(),
        OrderStatus::CancelRequested.as_str(),
    ]
}

pub struct NewShipment {
    pub application_id: Uuid,
    pub leg: &'static str,
    pub partner: String,
    pub sender: serde_json::Value,
    pub recipient: serde_json::Value,
    pub pickup_date: Option<String>,
    pub pickup_slot: Option<String>,
    pub pickup_from: Option<DateTime<Utc>>,
    pub pickup_until: Option<DateTime<Utc>>,
}

/// A new leg with a fresh order id, waiting for its order job.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewShipment,
) -> Result<shipment::Model, DbErr> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    shipment::ActiveModel {
        id: Set(id),
        application_id: Set(new.application_id),
        leg: Set(new.leg.to_string()),
        partner: Set(new.partner),
        // Partners cap order ids at 64 characters: "BB" + the 32 hex digits of a UUIDv7.
        order_id: Set(format!("BB{}", id.simple())),
        order_status: Set(OrderStatus::Requested.as_str().into()),
        status: Set("pending".into()),
        last_op_code: Set(None),
        waybill_no: Set(None),
        courier_name: Set(None),
        courier_phone: Set(None),
        sender: Set(new.sender.to_string()),
        recipient: Set(new.recipient.to_string()),
        pickup_date: Set(new.pickup_date),
        pickup_slot: Set(new.pickup_slot),
        pickup_from: Set(new.pickup_from),
        pickup_until: Set(new.pickup_until),
        last_event_at: Set(None),
        delivered_at: Set(None),
        forward_rank: Set(None),
        forward_at: Set(None),
        side_status: Set(None),
        side_at: Set(None),
        last_error: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<shipment::Model>, DbErr> {
    shipment::Entity::find_by_id(id).one(db).await
}

/// Every leg of an application, oldest first.
pub async fn of_application<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Vec<shipment::Model>, DbErr> {
    shipment::Entity::find()
        .filter(shipment::Column::ApplicationId.eq(application_id))
        .order_by_asc(shipment::Column::CreatedAt)
        .order_by_asc(shipment::Column::Id)
        .all(db)
        .await
}

/// The current (not cancelled) shipment of one leg of an application.
pub async fn current_leg<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    leg: &str,
) -> Result<Option<shipment::Model>, DbErr> {
    shipment::Entity::find()
        .filter(shipment::Column::ApplicationId.eq(application_id))
        .filter(shipment::Column::Leg.eq(leg))
        .filter(shipment::Column::OrderStatus.is_not_in(closed_orders()))
        .order_by_desc(shipment::Column::Id)
        .one(db)
        .await
}

/// Records the partner's order: its waybill and courier. Only a `requested` order moves.
pub async fn set_created<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    waybill_no: &str,
    courier_name: Option<String>,
    courier_phone: Option<String>,
) -> Result<bool, DbErr> {
    let result = shipment::Entity::update_many()
        .col_expr(
            shipment::Column::OrderStatus,
            Expr::value(OrderStatus::Created.as_str()),
        )
        .col_expr(shipment::Column::WaybillNo, Expr::value(waybill_no))
        .col_expr(shipment::Column::CourierName, Expr::value(courier_name))
        .col_expr(shipment::Column::CourierPhone, Expr::value(courier_phone))
        .col_expr(
            shipment::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(shipment::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(shipment::Column::Id.eq(id))
        .filter(shipment::Column::OrderStatus.eq(OrderStatus::Requested.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Moves the order from one of `from` to `to`, recording `error` when given.
pub async fn set_order_status<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    from: &[OrderStatus],
    to: OrderStatus,
    error: Option<String>,
) -> Result<bool, DbErr> {
    let result = shipment::Entity::update_many()
        .col_expr(shipment::Column::OrderStatus, Expr::value(to.as_str()))
        .col_expr(shipment::Column::LastError, Expr::value(error))
        .col_expr(shipment::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(shipment::Column::Id.eq(id))
        .filter(shipment::Column::OrderStatus.is_in(from.iter().map(|s| s.as_str())))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

// Route events and tracking upkeep: ingest, reconciliation and the problems list.

use crate::integrations::courier::{ALL_STATUSES, RouteEvent, ShipmentStatus};
use sea_orm::sea_query::{ExprTrait, Query};
use sea_orm::{Condition, FromQueryResult, QueryResult, QuerySelect};
use std::collections::BTreeMap;

/// Tracking statuses no event moves a shipment out of.
pub fn final_statuses() -> Vec<&'static str> {
    ALL_STATUSES
        .into_iter()
        .filter(|s| s.is_final())
        .map(ShipmentStatus::as_str)
        .collect()
}

/// A shipment locked for ingest, and whether events of its waybill wait unattached (stored
/// before the shipment knew its waybill).
#[derive(Debug, Clone)]
pub struct Locked {
    pub row: shipment::Model,
    pub has_late: bool,
}

impl FromQueryResult for Locked {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            row: shipment::Model::from_query_result(res, pre)?,
            has_late: res.try_get::<i32>(pre, "has_late")? != 0,
        })
    }
}

/// The shipments of these waybills of `partner` (the newest of each, should a waybill ever
/// repeat), keyed by waybill and held for the rest of the write transaction: `FOR UPDATE` on
/// PostgreSQL, in waybill order so that concurrent callers lock alike; `BEGIN IMMEDIATE` on
/// SQLite. Each says, in the same statement, whether events wait unattached for its waybill.
pub async fn lock_by_waybills<C: ConnectionTrait>(
    db: &C,
    partner: &str,
    waybills: &[&str],
) -> Result<BTreeMap<String, Locked>, DbErr> {
    let mut newest = BTreeMap::new();
    if waybills.is_empty() {
        return Ok(newest);
    }
    let unattached = Query::select()
        .expr(Expr::val(1))
        .from(route_event::Entity)
        .and_where(Expr::col((route_event::Entity, route_event::Column::ShipmentId)).is_null())
        .and_where(
            Expr::col((route_event::Entity, route_event::Column::Partner))
                .equals((shipment::Entity, shipment::Column::Partner)),
        )
        .and_where(
            Expr::col((route_event::Entity, route_event::Column::WaybillNo))
                .equals((shipment::Entity, shipment::Column::WaybillNo)),
        )
        .to_owned();
    // An integer rather than the bare EXISTS: PostgreSQL answers a boolean, SQLite an integer.
    let has_late: Expr = Expr::case(Expr::exists(unattached), 1).finally(0).into();
    let mut query = shipment::Entity::find()
        .column_as(has_late, "has_late")
        .filter(shipment::Column::Partner.eq(partner))
        .filter(shipment::Column::WaybillNo.is_in(waybills.iter().copied()))
        .order_by_asc(shipment::Column::WaybillNo)
        .order_by_desc(shipment::Column::Id);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    for locked in query.into_model::<Locked>().all(db).await? {
        if let Some(waybill_no) = locked.row.waybill_no.clone() {
            newest.entry(waybill_no).or_insert(locked);
        }
    }
    Ok(newest)
}

/// As `find`, holding the row for the rest of the write transaction.
pub async fn lock<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<shipment::Model>, DbErr> {
    let mut query = shipment::Entity::find_by_id(id);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(db).await
}

/// A route event as it will be stored. Ingest sets `applied` (whether it is the event behind
/// its shipment's status) before the row is written.
pub fn event_row(
    partner: &str,
    event: &RouteEvent,
    shipment_id: Option<Uuid>,
) -> route_event::Model {
    route_event::Model {
        id: Uuid::now_v7(),
        partner: partner.to_string(),
        partner_event_id: event.event_id.clone(),
        waybill_no: event.waybill_no.clone(),
        shipment_id,
        // The column holds 16 characters; partner codes are 2 to 4 digits.
        op_code: event.op_code.chars().take(16).collect(),
        status: event.status.as_str().to_string(),
        occurred_at: event.occurred_at,
        location: event.location.clone(),
        description: event.description.clone(),
        raw: event.raw.to_string(),
        applied: false,
        received_at: Utc::now(),
    }
}

/// The stored events of these shipments, in the order they happened.
pub async fn events_of<C: ConnectionTrait>(
    db: &C,
    shipment_ids: &[Uuid],
) -> Result<Vec<route_event::Model>, DbErr> {
    if shipment_ids.is_empty() {
        return Ok(Vec::new());
    }
    route_event::Entity::find()
        .filter(route_event::Column::ShipmentId.is_in(shipment_ids.iter().copied()))
        .order_by_asc(route_event::Column::OccurredAt)
        .order_by_asc(route_event::Column::Id)
        .all(db)
        .await
}

/// The events of these waybills of `partner` that no shipment has yet, in the order they
/// happened.
pub async fn unattached_of_waybills<C: ConnectionTrait>(
    db: &C,
    partner: &str,
    waybills: &[&str],
) -> Result<Vec<route_event::Model>, DbErr> {
    if waybills.is_empty() {
        return Ok(Vec::new());
    }
    route_event::Entity::find()
        .filter(route_event::Column::Partner.eq(partner))
        .filter(route_event::Column::WaybillNo.is_in(waybills.iter().copied()))
        .filter(route_event::Column::ShipmentId.is_null())
        .order_by_asc(route_event::Column::OccurredAt)
        .order_by_asc(route_event::Column::Id)
        .all(db)
        .await
}

/// Attaches events stored while no shipment had their waybill to `shipment_id`, and records
/// which of them moved it. Callers hold the shipment's row lock, so two callers never attach
/// the same events.
pub async fn attach<C: ConnectionTrait>(
    db: &C,
    shipment_id: Uuid,
    ids: &[Uuid],
    applied: &[Uuid],
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    route_event::Entity::update_many()
        .col_expr(route_event::Column::ShipmentId, Expr::value(shipment_id))
        .filter(route_event::Column::Id.is_in(ids.iter().copied()))
        .filter(route_event::Column::ShipmentId.is_null())
        .exec(db)
        .await?;
    set_applied(db, applied, true).await
}

/// Marks events as the ones that moved their shipment, or not.
pub async fn set_applied<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
    applied: bool,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    route_event::Entity::update_many()
        .col_expr(route_event::Column::Applied, Expr::value(applied))
        .filter(route_event::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Shipments on their way with a partner order and waybill: not final, not cancelled.
fn open() -> Condition {
    Condition::all()
        .add(shipment::Column::OrderStatus.eq(OrderStatus::Created.as_str()))
        .add(shipment::Column::WaybillNo.is_not_null())
        .add(shipment::Column::Status.is_not_in(final_statuses()))
}

/// No route event since `cutoff`: the last event is older, or there is none and the row has not
/// changed since.
fn quiet_since(cutoff: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(shipment::Column::LastEventAt.lt(cutoff))
        .add(
            Condition::all()
                .add(shipment::Column::LastEventAt.is_null())
                .add(shipment::Column::UpdatedAt.lt(cutoff)),
        )
}

/// Open shipments with no route event since `cutoff`, quietest first.
pub async fn quiet_open<C: ConnectionTrait>(
    db: &C,
    cutoff: DateTime<Utc>,
) -> Result<Vec<shipment::Model>, DbErr> {
    shipment::Entity::find()
        .filter(open())
        .filter(quiet_since(cutoff))
        .order_by_asc(shipment::Column::LastEventAt)
        .order_by_asc(shipment::Column::Id)
        .all(db)
        .await
}

/// Candidates for the problems list: failed orders, parcels that failed delivery, came back or
/// hit an exception, and open shipments quiet since `quiet_cutoff`. Cancelled orders are not
/// problems.
pub async fn problem_candidates<C: ConnectionTrait>(
    db: &C,
    quiet_cutoff: DateTime<Utc>,
) -> Result<Vec<shipment::Model>, DbErr> {
    shipment::Entity::find()
        .filter(
            Condition::any()
                .add(shipment::Column::OrderStatus.eq(OrderStatus::Failed.as_str()))
                .add(
                    Condition::all()
                        .add(shipment::Column::OrderStatus.is_not_in(closed_orders()))
                        .add(shipment::Column::Status.is_in([
                            ShipmentStatus::DeliveryFailed.as_str(),
                            ShipmentStatus::Returned.as_str(),
                            ShipmentStatus::Exception.as_str(),
                        ])),
                )
                .add(open().add(quiet_since(quiet_cutoff))),
        )
        .order_by_asc(shipment::Column::Id)
        .all(db)
        .await
}

/// The newest shipment id of each `(application, leg)` among these applications: a leg booked
/// again supersedes its older shipments.
pub async fn newest_per_leg<C: ConnectionTrait>(
    db: &C,
    application_ids: &[Uuid],
) -> Result<std::collections::HashMap<(Uuid, String), Uuid>, DbErr> {
    let mut newest = std::collections::HashMap::new();
    if application_ids.is_empty() {
        return Ok(newest);
    }
    let rows = shipment::Entity::find()
        .filter(shipment::Column::ApplicationId.is_in(application_ids.iter().copied()))
        .order_by_asc(shipment::Column::CreatedAt)
        .order_by_asc(shipment::Column::Id)
        .all(db)
        .await?;
    for row in rows {
        newest.insert((row.application_id, row.leg), row.id);
    }
    Ok(newest)
}

/// Result legs delivered at or before `cutoff` whose receipt nobody has confirmed yet.
pub async fn unconfirmed_results<C: ConnectionTrait>(
    db: &C,
    cutoff: DateTime<Utc>,
) -> Result<Vec<shipment::Model>, DbErr> {
    use crate::store::applications::application;
    use sea_orm::sea_query::Query;
    let unconfirmed = Query::select()
        .column(application::Column::Id)
        .from(application::Entity)
        .and_where(application::Column::ReceiptConfirmedAt.is_null())
        .to_owned();
    shipment::Entity::find()
        .filter(shipment::Column::Leg.eq(LEG_RESULT))
        .filter(shipment::Column::Status.eq("delivered"))
        .filter(shipment::Column::DeliveredAt.lte(cutoff))
        .filter(shipment::Column::ApplicationId.in_subquery(unconfirmed))
        .order_by_asc(shipment::Column::DeliveredAt)
        .all(db)
        .await
}
