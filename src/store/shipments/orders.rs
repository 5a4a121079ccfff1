//! A leg's partner order: creating the leg with a fresh order id, finding a leg, and moving its
//! `order_status` only from the states a caller expects (zero rows means someone moved it first).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::jobs::JobPayload;

use super::{OrderStatus, closed_orders, shipment, shipment_case};

pub struct NewShipment {
    pub application_id: Uuid,
    /// Other cases the same parcel carries (one pickup of several cases' originals).
    pub also_for: Vec<Uuid>,
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
    let also_for = new.also_for;
    let row = shipment::ActiveModel {
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
        overdue_at: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    if !also_for.is_empty() {
        let rows = also_for
            .iter()
            .map(|application_id| shipment_case::ActiveModel {
                shipment_id: Set(id),
                application_id: Set(*application_id),
            });
        shipment_case::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(row)
}

/// The legs that carry `application_id` besides their first case.
fn carrying(application_id: Uuid) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(shipment_case::Column::ShipmentId)
        .from(shipment_case::Entity)
        .and_where(shipment_case::Column::ApplicationId.eq(application_id))
        .to_owned()
}

/// A leg of `application_id`: its own, or one that carries it with other cases.
fn of_case(application_id: Uuid) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(shipment::Column::ApplicationId.eq(application_id))
        .add(shipment::Column::Id.in_subquery(carrying(application_id)))
}

/// Every case `leg` carries, its first case first.
pub async fn carried<C: ConnectionTrait>(
    db: &C,
    leg: &shipment::Model,
) -> Result<Vec<Uuid>, DbErr> {
    Ok(std::iter::once(leg.application_id)
        .chain(carried_by(db, leg.id).await?)
        .collect())
}

/// The cases a leg carries besides its first, in id order.
pub async fn carried_by<C: ConnectionTrait>(db: &C, shipment_id: Uuid) -> Result<Vec<Uuid>, DbErr> {
    shipment_case::Entity::find()
        .filter(shipment_case::Column::ShipmentId.eq(shipment_id))
        .order_by_asc(shipment_case::Column::ApplicationId)
        .all(db)
        .await
        .map(|rows| rows.into_iter().map(|r| r.application_id).collect())
}

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<shipment::Model>, DbErr> {
    shipment::Entity::find_by_id(id).one(db).await
}

/// The shipment of `partner` with this waybill (a drop code for the box), any order status.
pub async fn by_waybill<C: ConnectionTrait>(
    db: &C,
    partner: &str,
    waybill_no: &str,
) -> Result<Option<shipment::Model>, DbErr> {
    shipment::Entity::find()
        .filter(shipment::Column::Partner.eq(partner))
        .filter(shipment::Column::WaybillNo.eq(waybill_no))
        .order_by_desc(shipment::Column::Id)
        .one(db)
        .await
}

/// As `find`, holding the row for the rest of the write transaction.
pub async fn lock<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<shipment::Model>, DbErr> {
    let mut query = shipment::Entity::find_by_id(id);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(db).await
}

/// Every leg of an application (its own and those that carry it with other cases), oldest
/// first.
pub async fn of_application<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Vec<shipment::Model>, DbErr> {
    shipment::Entity::find()
        .filter(of_case(application_id))
        .order_by_asc(shipment::Column::CreatedAt)
        .order_by_asc(shipment::Column::Id)
        .all(db)
        .await
}

/// The current (not cancelled) shipment of one leg of an application, its own or one that
/// carries it with other cases.
pub async fn current_leg<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    leg: &str,
) -> Result<Option<shipment::Model>, DbErr> {
    shipment::Entity::find()
        .filter(of_case(application_id))
        .filter(shipment::Column::Leg.eq(leg))
        .filter(shipment::Column::OrderStatus.is_not_in(closed_orders()))
        .order_by_desc(shipment::Column::Id)
        .one(db)
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

/// `courier_create_order {shipment_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourierCreateOrder {
    pub shipment_id: Uuid,
}

impl JobPayload for CourierCreateOrder {
    const KIND: &'static str = "courier_create_order";
}

/// `courier_cancel_order {shipment_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourierCancelOrder {
    pub shipment_id: Uuid,
}

impl JobPayload for CourierCancelOrder {
    const KIND: &'static str = "courier_cancel_order";
}

/// In the booking's transaction: make the partner order for `shipment_id`.
pub async fn enqueue_create<C: ConnectionTrait>(
    db: &C,
    shipment_id: Uuid,
) -> Result<(), sea_orm::DbErr> {
    let job = crate::store::jobs::NewJob::of(&CourierCreateOrder { shipment_id })
        .deduped_by(format!("order:create:{shipment_id}"));
    crate::store::jobs::enqueue(db, job).await?;
    Ok(())
}

/// In the cancelling transaction: mark the order for cancellation and queue the partner call.
pub async fn request_cancel<C: ConnectionTrait>(
    db: &C,
    row: &shipment::Model,
) -> Result<(), sea_orm::DbErr> {
    use OrderStatus::*;
    set_order_status(
        db,
        row.id,
        &[Requested, Created, Failed],
        CancelRequested,
        None,
    )
    .await?;
    let job = crate::store::jobs::NewJob::of(&CourierCancelOrder {
        shipment_id: row.id,
    })
    .deduped_by(format!("order:cancel:{}", row.id));
    crate::store::jobs::enqueue(db, job).await?;
    Ok(())
}
