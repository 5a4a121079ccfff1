//! Route events: storing them as partners send them, attaching those that arrived before their
//! shipment knew its waybill, and locking shipments by waybill so that ingest folds each one
//! under a row lock.

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{FromQueryResult, QueryOrder, QueryResult, QuerySelect};
use uuid::Uuid;

use super::{route_event, shipment};
use crate::integrations::courier::RouteEvent;

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
