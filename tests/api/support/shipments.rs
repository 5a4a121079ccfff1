//! Shipments and their route events straight in the store, for the ingest tests: a leg whose
//! order is placed, a route event as a partner would report it, and what the store then holds.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use beebox::integrations::courier::{RouteEvent, ShipmentStatus};
use beebox::store::shipments::{self, NewShipment, route_event, shipment};

use super::TestApp;
use super::sf::contact;

pub fn db(app: &TestApp) -> &DatabaseConnection {
    app.state.database().unwrap()
}

/// A leg of `application` whose order is placed, under `waybill` when given.
pub async fn shipment_of(
    app: &TestApp,
    application: Uuid,
    leg: &'static str,
    waybill: Option<&str>,
) -> shipment::Model {
    shipment_with(app, application, leg, "sf", waybill).await
}

/// As `shipment_of`, with `partner`'s order.
pub async fn shipment_with(
    app: &TestApp,
    application: Uuid,
    leg: &'static str,
    partner: &str,
    waybill: Option<&str>,
) -> shipment::Model {
    let db = db(app);
    let from = Utc::now().trunc_subsecs(0) + Duration::hours(1);
    let row = shipments::insert(
        db,
        NewShipment {
            application_id: application,
            also_for: Vec::new(),
            leg,
            partner: partner.into(),
            sender: serde_json::to_value(contact("张三", "杭州市")).unwrap(),
            recipient: serde_json::to_value(contact("收件室", "杭州市")).unwrap(),
            pickup_date: Some(from.format("%Y-%m-%d").to_string()),
            pickup_slot: Some("09:00-12:00".into()),
            pickup_from: Some(from),
            pickup_until: Some(from + Duration::hours(3)),
        },
    )
    .await
    .unwrap();
    if let Some(waybill) = waybill {
        assert!(
            shipments::set_created(
                db,
                row.id,
                waybill,
                Some("王师傅".into()),
                Some("13900139000".into())
            )
            .await
            .unwrap()
        );
    }
    shipments::find(db, row.id).await.unwrap().unwrap()
}

pub fn base_time() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0) - Duration::hours(6)
}

pub fn event(waybill: &str, id: &str, status: ShipmentStatus, at: DateTime<Utc>) -> RouteEvent {
    let op_code = match status {
        ShipmentStatus::PickedUp => "50",
        ShipmentStatus::InTransit => "30",
        ShipmentStatus::OutForDelivery => "44",
        ShipmentStatus::Delivered => "80",
        ShipmentStatus::DeliveryFailed => "70",
        ShipmentStatus::Exception => "33",
        ShipmentStatus::Returned => "99",
        _ => "0",
    };
    RouteEvent {
        event_id: id.into(),
        waybill_no: waybill.into(),
        op_code: op_code.into(),
        status,
        occurred_at: at,
        location: Some("杭州市".into()),
        description: format!("{status} at 杭州市"),
        raw: json!({"id": id, "opCode": op_code}),
    }
}

pub async fn stored(app: &TestApp, waybill: &str) -> Vec<route_event::Model> {
    route_event::Entity::find()
        .filter(route_event::Column::WaybillNo.eq(waybill))
        .all(db(app))
        .await
        .unwrap()
}

pub async fn event_count(app: &TestApp) -> u64 {
    route_event::Entity::find().count(db(app)).await.unwrap()
}

pub async fn reload(app: &TestApp, id: Uuid) -> shipment::Model {
    shipments::find(db(app), id).await.unwrap().unwrap()
}
