//! Route events into shipments: pushes from SF (signed by the built-in simulator, or by hand),
//! replays, late and unknown events, reconciliation by route query, the citizen's tracking view
//! and the admin problems list. Shipments and applications are seeded through the store; the
//! booking that makes them over HTTP is tested in `pickup.rs`.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};
use uuid::Uuid;

use beebox::courier::ingest::{self, IngestReport};
use beebox::courier::reconcile;
use beebox::integrations::courier::partners::{
    DEV_SF_CHECK_WORD, DEV_SF_PARTNER_ID, DEV_SF_WEBHOOK_SECRET,
};
use beebox::integrations::courier::sf::{SERVICE_ROUTE_PUSH, format_china_time, msg_digest};
use beebox::integrations::courier::sim::{PushMode, SfSimulator, SimFault};
use beebox::integrations::courier::{Contact, OrderRequest, RouteEvent, ShipmentStatus};
use beebox::store::shipments::{
    self, LEG_MATERIALS, LEG_RESULT, NewShipment, route_event, shipment,
};

use crate::helpers::{TestApp, application_row, assert_problem, spawn_app, spawn_app_with};
use crate::staff::staff_token;

const ITEM: &str = "elderly-preferential-card";
const WEBHOOK: &str = "/v1/webhooks/courier/sf";

fn db(app: &TestApp) -> &DatabaseConnection {
    app.state.database().unwrap()
}

/// A case of `ITEM` that passed pre-review, owned by the dev citizen `name`: its token and id.
async fn case_of(app: &TestApp, name: &str) -> (String, Uuid) {
    let token = app.citizen_token(name).await;
    let db = db(app);
    let citizen = beebox::store::citizens::upsert_by_openid(db, &format!("dev-{name}"), None)
        .await
        .unwrap();
    let version = beebox::store::catalog::find(db, ITEM, None)
        .await
        .unwrap()
        .unwrap();
    let row = application_row(citizen.id, &version, "prereview_passed", Utc::now())
        .insert(db)
        .await
        .unwrap();
    (token, row.id)
}

fn contact(name: &str, city: &str) -> Contact {
    Contact {
        name: name.into(),
        phone: "13800138000".into(),
        province: "浙江省".into(),
        city: city.into(),
        district: "西湖区".into(),
        detail: "文三路 100 号".into(),
    }
}

/// A leg of `application` whose order is placed, under `waybill` when given.
async fn shipment_of(
    app: &TestApp,
    application: Uuid,
    leg: &'static str,
    waybill: Option<&str>,
) -> shipment::Model {
    let db = db(app);
    let from = Utc::now().trunc_subsecs(0) + Duration::hours(1);
    let row = shipments::insert(
        db,
        NewShipment {
            application_id: application,
            leg,
            partner: "sf".into(),
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

fn base_time() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0) - Duration::hours(6)
}

fn event(waybill: &str, id: &str, status: ShipmentStatus, at: DateTime<Utc>) -> RouteEvent {
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

async fn stored(app: &TestApp, waybill: &str) -> Vec<route_event::Model> {
    route_event::Entity::find()
        .filter(route_event::Column::WaybillNo.eq(waybill))
        .all(db(app))
        .await
        .unwrap()
}

async fn event_count(app: &TestApp) -> u64 {
    route_event::Entity::find().count(db(app)).await.unwrap()
}

async fn reload(app: &TestApp, id: Uuid) -> shipment::Model {
    shipments::find(db(app), id).await.unwrap().unwrap()
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

/// Polls `check` until it holds, for up to 15 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + StdDuration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_same_event_ten_times_is_stored_once() {
    let app = spawn_app().await;
    let (_, application) = case_of(&app, "replay").await;
    let row = shipment_of(&app, application, LEG_MATERIALS, Some("SF1000000000001")).await;
    let picked = event(
        "SF1000000000001",
        "e-1",
        ShipmentStatus::PickedUp,
        base_time(),
    );

    let first = ingest::ingest(
        db(&app),
        &app.state.channels,
        "sf",
        std::slice::from_ref(&picked),
    )
    .await
    .unwrap();
    assert_eq!((first.stored, first.duplicates), (1, 0));
    assert_eq!(first.changes.len(), 1);
    let change = &first.changes[0];
    assert_eq!(change.shipment_id, row.id);
    assert_eq!(change.application_id, application);
    assert_eq!(change.leg, LEG_MATERIALS);
    assert_eq!(
        (change.old, change.new),
        (ShipmentStatus::Pending, ShipmentStatus::PickedUp)
    );
    for _ in 0..9 {
        let again = ingest::ingest(
            db(&app),
            &app.state.channels,
            "sf",
            std::slice::from_ref(&picked),
        )
        .await
        .unwrap();
        assert_eq!(
            again,
            IngestReport {
                duplicates: 1,
                ..IngestReport::default()
            }
        );
    }
    // Twice in one batch counts once as well.
    let batch = ingest::ingest(
        db(&app),
        &app.state.channels,
        "sf",
        &[picked.clone(), picked.clone()],
    )
    .await
    .unwrap();
    assert_eq!((batch.stored, batch.duplicates), (0, 2));

    let events = stored(&app, "SF1000000000001").await;
    assert_eq!(events.len(), 1);
    assert!(events[0].applied);
    assert_eq!(events[0].shipment_id, Some(row.id));
    let after = reload(&app, row.id).await;
    assert_eq!(after.status, "picked_up");
    assert_eq!(after.last_op_code.as_deref(), Some("50"));
    assert_eq!(after.last_event_at, Some(picked.occurred_at));
    assert_eq!(after.version, row.version + 1, "replays change nothing");
}

/// Event ids are unique per partner: an id already stored under another waybill is a replay,
/// and the rest of its batch is applied as if it had not come.
#[tokio::test]
async fn an_event_id_stored_under_another_waybill_is_a_replay() {
    let app = spawn_app().await;
    let (_, application) = case_of(&app, "elsewhere").await;
    let row = shipment_of(&app, application, LEG_MATERIALS, Some("SF1000000000031")).await;
    let t = base_time();
    let first = ingest::ingest(
        db(&app),
        &app.state.channels,
        "sf",
        &[event(
            "SF1000000000039",
            "e-x",
            ShipmentStatus::Delivered,
            t,
        )],
    )
    .await
    .unwrap();
    assert_eq!(first.unknown_waybill, 1);

    // With "e-x" taken as new, its delivery would end the route and the later step would not
    // apply; as a replay it changes nothing and the step moves the shipment.
    let report = ingest::ingest(
        db(&app),
        &app.state.channels,
        "sf",
        &[
            event("SF1000000000031", "e-x", ShipmentStatus::Delivered, t),
            event(
                "SF1000000000031",
                "e-y",
                ShipmentStatus::InTransit,
                t + Duration::hours(1),
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!((report.stored, report.duplicates), (1, 1), "{report:?}");
    assert_eq!(report.changes.len(), 1);
    assert_eq!(report.changes[0].new, ShipmentStatus::InTransit);

    let after = reload(&app, row.id).await;
    assert_eq!(after.status, "in_transit");
    assert_eq!(after.delivered_at, None);
    let mine: Vec<(String, bool)> = stored(&app, "SF1000000000031")
        .await
        .into_iter()
        .map(|e| (e.partner_event_id, e.applied))
        .collect();
    assert_eq!(mine, [("e-y".to_string(), true)]);
    let other = stored(&app, "SF1000000000039").await;
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].shipment_id, None);
}

#[tokio::test]
async fn a_late_event_never_moves_a_shipment_backwards() {
    let app = spawn_app().await;
    let (_, application) = case_of(&app, "late").await;
    let row = shipment_of(&app, application, LEG_RESULT, Some("SF1000000000002")).await;
    let t = base_time();
    let delivered = event(
        "SF1000000000002",
        "e-80",
        ShipmentStatus::Delivered,
        t + Duration::hours(3),
    );
    let report = ingest::ingest(db(&app), &app.state.channels, "sf", &[delivered])
        .await
        .unwrap();
    assert_eq!(report.changes[0].new, ShipmentStatus::Delivered);

    let late = [
        event("SF1000000000002", "e-50", ShipmentStatus::PickedUp, t),
        event(
            "SF1000000000002",
            "e-33",
            ShipmentStatus::Exception,
            t + Duration::hours(4),
        ),
    ];
    let report = ingest::ingest(db(&app), &app.state.channels, "sf", &late)
        .await
        .unwrap();
    assert_eq!(report.stored, 2);
    assert!(report.changes.is_empty(), "{report:?}");

    let after = reload(&app, row.id).await;
    assert_eq!(after.status, "delivered");
    assert_eq!(after.delivered_at, Some(t + Duration::hours(3)));
    assert_eq!(after.last_op_code.as_deref(), Some("80"));
    let mut applied: Vec<(String, bool)> = stored(&app, "SF1000000000002")
        .await
        .into_iter()
        .map(|e| (e.partner_event_id, e.applied))
        .collect();
    applied.sort();
    assert_eq!(
        applied,
        [
            ("e-33".to_string(), false),
            ("e-50".to_string(), false),
            ("e-80".to_string(), true)
        ]
    );
}

#[tokio::test]
async fn a_failed_delivery_lasts_until_the_next_step() {
    let app = spawn_app().await;
    let (_, application) = case_of(&app, "retry").await;
    let row = shipment_of(&app, application, LEG_RESULT, Some("SF1000000000003")).await;
    let t = base_time();
    let w = "SF1000000000003";
    ingest::ingest(
        db(&app),
        &app.state.channels,
        "sf",
        &[
            event(w, "a", ShipmentStatus::PickedUp, t),
            event(
                w,
                "b",
                ShipmentStatus::OutForDelivery,
                t + Duration::hours(1),
            ),
            event(
                w,
                "c",
                ShipmentStatus::DeliveryFailed,
                t + Duration::hours(2),
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!(reload(&app, row.id).await.status, "delivery_failed");
    // The second attempt goes out again: the failure is over.
    let report = ingest::ingest(
        db(&app),
        &app.state.channels,
        "sf",
        &[event(
            w,
            "d",
            ShipmentStatus::OutForDelivery,
            t + Duration::hours(3),
        )],
    )
    .await
    .unwrap();
    assert_eq!(
        (report.changes[0].old, report.changes[0].new),
        (
            ShipmentStatus::DeliveryFailed,
            ShipmentStatus::OutForDelivery
        )
    );
}

#[tokio::test]
async fn a_shipment_moving_across_the_upgrade_keeps_its_route() {
    use migration::MigratorTrait;

    let app = spawn_app().await;
    let (_, application) = case_of(&app, "upgraded").await;
    let w = "SF1000000000009";
    let row = shipment_of(&app, application, LEG_RESULT, Some(w)).await;
    let t = base_time();
    let hours = |n| t + Duration::hours(n);
    let app = &app;
    let push = |events: Vec<RouteEvent>| async move {
        ingest::ingest(db(app), &app.state.channels, "sf", &events)
            .await
            .unwrap()
    };
    push(vec![
        event(w, "u1", ShipmentStatus::PickedUp, t),
        event(w, "u2", ShipmentStatus::OutForDelivery, hours(2)),
        event(w, "u3", ShipmentStatus::DeliveryFailed, hours(3)),
    ])
    .await;
    let before = reload(app, row.id).await;
    assert_eq!(
        (before.forward_rank, before.forward_at),
        (Some(3), Some(hours(2)))
    );
    assert_eq!(
        (before.side_status.as_deref(), before.side_at),
        (Some("delivery_failed"), Some(hours(3)))
    );

    // As a release before the summary left it: the columns gone, then added and filled in
    // from the stored events by the migration.
    // Down to just before the summary's migration, whatever came after it.
    let steps = migration::Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name() == "m20261129_000015_shipment_route_summary")
        .expect("the summary's migration")
        + 1;
    migration::Migrator::down(db(app), Some(steps as u32))
        .await
        .unwrap();
    migration::Migrator::up(db(app), None).await.unwrap();
    let after = reload(app, row.id).await;
    assert_eq!(after, before);

    // A late step changes nothing; the next attempt ends the failure.
    let late = push(vec![event(w, "u4", ShipmentStatus::InTransit, hours(1))]).await;
    assert!(late.changes.is_empty());
    assert_eq!(reload(app, row.id).await.status, "delivery_failed");
    let next = push(vec![event(
        w,
        "u5",
        ShipmentStatus::OutForDelivery,
        hours(4),
    )])
    .await;
    assert_eq!(
        (next.changes[0].old, next.changes[0].new),
        (
            ShipmentStatus::DeliveryFailed,
            ShipmentStatus::OutForDelivery
        )
    );
}

#[tokio::test]
async fn events_of_an_unknown_waybill_wait_for_their_shipment() {
    let app = spawn_app().await;
    let (_, application) = case_of(&app, "early").await;
    let t = base_time();
    let w = "SF1000000000004";
    let report = ingest::ingest(
        db(&app),
        &app.state.channels,
        "sf",
        &[
            event(w, "u-1", ShipmentStatus::PickedUp, t),
            event(w, "u-2", ShipmentStatus::InTransit, t + Duration::hours(1)),
        ],
    )
    .await
    .unwrap();
    assert_eq!((report.unknown_waybill, report.stored), (2, 0));
    assert!(report.changes.is_empty());
    assert!(
        stored(&app, w)
            .await
            .iter()
            .all(|e| e.shipment_id.is_none() && !e.applied)
    );

    // The order's answer arrives: the waybill becomes known and its events apply.
    let row = shipment_of(&app, application, LEG_MATERIALS, Some(w)).await;
    let matched = ingest::match_unknown(db(&app), &app.state.channels, "sf", w, row.id)
        .await
        .unwrap();
    assert_eq!(matched.stored, 2);
    assert_eq!(matched.changes.len(), 1);
    assert_eq!(
        (matched.changes[0].old, matched.changes[0].new),
        (ShipmentStatus::Pending, ShipmentStatus::InTransit)
    );
    let events = stored(&app, w).await;
    assert!(events.iter().all(|e| e.shipment_id == Some(row.id)));
    assert!(events.iter().all(|e| e.applied));
    assert_eq!(reload(&app, row.id).await.status, "in_transit");
    // Matching again finds nothing more.
    let again = ingest::match_unknown(db(&app), &app.state.channels, "sf", w, row.id)
        .await
        .unwrap();
    assert_eq!(again, IngestReport::default());

    // An event stored unmatched while the shipment already existed joins with the next one.
    let w2 = "SF1000000000005";
    ingest::ingest(
        db(&app),
        &app.state.channels,
        "sf",
        &[event(w2, "v-1", ShipmentStatus::PickedUp, t)],
    )
    .await
    .unwrap();
    let other = shipment_of(&app, application, LEG_RESULT, Some(w2)).await;
    let report = ingest::ingest(
        db(&app),
        &app.state.channels,
        "sf",
        &[event(
            w2,
            "v-2",
            ShipmentStatus::InTransit,
            t + Duration::hours(1),
        )],
    )
    .await
    .unwrap();
    assert_eq!(report.stored, 1);
    assert_eq!(report.changes[0].old, ShipmentStatus::Pending);
    assert_eq!(report.changes[0].new, ShipmentStatus::InTransit);
    assert!(
        stored(&app, w2)
            .await
            .iter()
            .all(|e| e.shipment_id == Some(other.id) && e.applied)
    );
}

#[tokio::test]
async fn the_citizen_tracks_every_leg_with_its_timeline() {
    let app = spawn_app().await;
    let (token, application) = case_of(&app, "tracker").await;
    let materials = shipment_of(&app, application, LEG_MATERIALS, Some("SF1000000000006")).await;
    let result = shipment_of(&app, application, LEG_RESULT, None).await;
    let t = base_time();
    let w = "SF1000000000006";
    // Pushed out of order; the timeline is in the order things happened.
    ingest::ingest(
        db(&app),
        &app.state.channels,
        "sf",
        &[
            event(w, "t-3", ShipmentStatus::Delivered, t + Duration::hours(2)),
            event(w, "t-1", ShipmentStatus::PickedUp, t),
            event(w, "t-2", ShipmentStatus::InTransit, t + Duration::hours(1)),
        ],
    )
    .await
    .unwrap();

    let path = format!("/v1/applications/{application}/shipments");
    let response = app.get_as(&token, &path).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{body}");
    let first = &items[0];
    assert_eq!(first["id"], materials.id.to_string());
    assert_eq!(first["leg"], "materials");
    assert_eq!(first["partner"], "sf");
    assert_eq!(first["waybill_no"], w);
    assert_eq!(first["status"], "delivered");
    assert_eq!(first["order_status"], "created");
    assert_eq!(first["courier_name"], "王师傅");
    assert_eq!(first["courier_phone"], "13900139000");
    assert_eq!(first["pickup_slot"], "09:00-12:00");
    assert!(first["pickup_date"].is_string() && first["pickup_from"].is_string());
    assert!(first["pickup_until"].is_string() && first["delivered_at"].is_string());
    let timeline: Vec<(&str, &str)> = first["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["status"].as_str().unwrap(),
                s["op_code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        timeline,
        [
            ("picked_up", "50"),
            ("in_transit", "30"),
            ("delivered", "80")
        ]
    );
    let step = &first["timeline"][0];
    assert_eq!(step["location"], "杭州市");
    assert_eq!(step["description"], "picked_up at 杭州市");
    let time: DateTime<Utc> = step["time"].as_str().unwrap().parse().unwrap();
    assert_eq!(time, t);

    let second = &items[1];
    assert_eq!(second["id"], result.id.to_string());
    assert_eq!(second["leg"], "result");
    assert_eq!(second["status"], "pending");
    assert_eq!(second["order_status"], "requested");
    assert!(second.get("waybill_no").is_none());
    assert_eq!(second["timeline"], json!([]));

    // Someone else's application, or none at all, is the same 404.
    let stranger = app.citizen_token("stranger").await;
    assert_problem(
        app.get_as(&stranger, &path).await,
        404,
        "application_not_found",
    )
    .await;
    assert_problem(
        app.get_as(
            &token,
            &format!("/v1/applications/{}/shipments", Uuid::now_v7()),
        )
        .await,
        404,
        "application_not_found",
    )
    .await;
    assert_problem(app.get(&path).await, 401, "unauthorized").await;
}

#[tokio::test]
async fn admins_see_stuck_failed_and_troubled_shipments() {
    let app = spawn_app().await;
    let (_, application) = case_of(&app, "problems").await;
    let (_, other) = case_of(&app, "problems2").await;
    let db = db(&app);
    let old = Utc::now().trunc_subsecs(0) - Duration::hours(72);
    let recent = Utc::now().trunc_subsecs(0) - Duration::hours(1);

    // Picked up three days ago and not heard of since (stuck after 48 h by default).
    let stuck = shipment_of(&app, application, LEG_MATERIALS, Some("SF2000000000001")).await;
    ingest::ingest(
        db,
        &app.state.channels,
        "sf",
        &[event(
            "SF2000000000001",
            "p-1",
            ShipmentStatus::PickedUp,
            old,
        )],
    )
    .await
    .unwrap();
    // An exception an hour ago.
    let troubled = shipment_of(&app, application, LEG_RESULT, Some("SF2000000000002")).await;
    ingest::ingest(
        db,
        &app.state.channels,
        "sf",
        &[event(
            "SF2000000000002",
            "p-2",
            ShipmentStatus::Exception,
            recent,
        )],
    )
    .await
    .unwrap();
    // The partner refused the order.
    let failed = shipment_of(&app, other, LEG_MATERIALS, None).await;
    shipments::set_order_status(
        db,
        failed.id,
        &[shipments::OrderStatus::Requested],
        shipments::OrderStatus::Failed,
        Some("SF 1016: 到件电话不能为空".into()),
    )
    .await
    .unwrap();
    // Fine: moving, delivered long ago, and a refused order booked again since.
    let moving = shipment_of(&app, other, LEG_RESULT, Some("SF2000000000003")).await;
    ingest::ingest(
        db,
        &app.state.channels,
        "sf",
        &[event(
            "SF2000000000003",
            "p-3",
            ShipmentStatus::InTransit,
            recent,
        )],
    )
    .await
    .unwrap();
    let done = shipment_of(&app, other, shipments::LEG_RETURN, Some("SF2000000000004")).await;
    ingest::ingest(
        db,
        &app.state.channels,
        "sf",
        &[event(
            "SF2000000000004",
            "p-4",
            ShipmentStatus::Delivered,
            old,
        )],
    )
    .await
    .unwrap();
    let (_, third) = case_of(&app, "problems3").await;
    let superseded = shipment_of(&app, third, LEG_MATERIALS, None).await;
    shipments::set_order_status(
        db,
        superseded.id,
        &[shipments::OrderStatus::Requested],
        shipments::OrderStatus::Failed,
        None,
    )
    .await
    .unwrap();
    let rebooked = shipment_of(&app, third, LEG_MATERIALS, Some("SF2000000000005")).await;
    // Waiting for a pickup window that has not ended is not stuck, however old the row.
    shipments::shipment::Entity::update_many()
        .col_expr(shipment::Column::UpdatedAt, Expr::value(old))
        .filter(shipment::Column::Id.eq(rebooked.id))
        .exec(db)
        .await
        .unwrap();

    let admin = staff_token(&app, "courier.admin", "admin", "").await;
    let response = app.get_as(&admin, "/v1/admin/shipments/problems").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let listed: Vec<(String, String)> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["shipment_id"].as_str().unwrap().to_string(),
                p["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |row: &shipment::Model, reason: &str| (row.id.to_string(), reason.to_string());
    assert_eq!(listed.len(), 3, "{body}");
    assert!(listed.contains(&expect(&stuck, "stuck")), "{body}");
    assert!(listed.contains(&expect(&troubled, "exception")), "{body}");
    assert!(listed.contains(&expect(&failed, "order_failed")), "{body}");
    for fine in [&moving, &done, &superseded, &rebooked] {
        assert!(
            !listed.iter().any(|(id, _)| *id == fine.id.to_string()),
            "{} listed: {body}",
            fine.leg
        );
    }
    // The quietest first.
    assert_eq!(listed[0], expect(&stuck, "stuck"));
    let first = &body["items"][0];
    assert_eq!(first["application_id"], application.to_string());
    assert_eq!(first["status"], "picked_up");
    assert_eq!(first["waybill_no"], "SF2000000000001");
    assert!(first["quiet_hours"].as_i64().unwrap() >= 71);
    let failed_row = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["reason"] == "order_failed")
        .unwrap();
    assert_eq!(failed_row["order_status"], "failed");
    assert_eq!(failed_row["last_error"], "SF 1016: 到件电话不能为空");

    let reviewer = staff_token(&app, "courier.reviewer", "reviewer", "civil-affairs").await;
    assert_problem(
        app.get_as(&reviewer, "/v1/admin/shipments/problems").await,
        403,
        "role_required",
    )
    .await;
}

/// A push form as SF sends it, signed with `check_word` now.
fn signed_push(msg_data: &str, check_word: &str) -> Vec<(&'static str, String)> {
    signed_push_at(msg_data, check_word, Utc::now())
}

/// A push form as SF sends it, signed with `check_word` at `signed_at`.
fn signed_push_at(
    msg_data: &str,
    check_word: &str,
    signed_at: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let timestamp = signed_at.timestamp_millis().to_string();
    vec![
        ("partnerID", DEV_SF_PARTNER_ID.to_string()),
        ("requestID", Uuid::new_v4().simple().to_string()),
        ("serviceCode", SERVICE_ROUTE_PUSH.to_string()),
        ("msgDigest", msg_digest(msg_data, &timestamp, check_word)),
        ("timestamp", timestamp),
        ("msgData", msg_data.to_string()),
    ]
}

fn route_push(waybill: &str, steps: &[(&str, DateTime<Utc>)]) -> String {
    let routes: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(i, (op_code, at))| {
            json!({"mailno": waybill, "acceptAddress": "杭州市", "reasonName": "",
                   "orderid": "x", "acceptTime": format_china_time(*at),
                   "remark": format!("step {i}"), "opCode": op_code,
                   "id": format!("{}", 158_918_741_444_476u64 + i as u64), "reasonCode": ""})
        })
        .collect();
    json!({"Body": {"WaybillRoute": routes}}).to_string()
}

async fn post_push(
    app: &TestApp,
    query: &str,
    form: &[(&'static str, String)],
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("{WEBHOOK}{query}")))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn sf_answer(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["return_code"], code, "{body}");
}

#[tokio::test]
async fn an_unknown_partner_is_a_404_problem() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/v1/webhooks/courier/ems?secret=x"))
        .body("{}")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "partner_not_found").await;
}

#[tokio::test]
async fn a_push_without_the_right_secret_or_signature_stores_nothing() {
    let app = spawn_app().await;
    let (_, application) = case_of(&app, "refused").await;
    shipment_of(&app, application, LEG_MATERIALS, Some("SF3000000000001")).await;
    let msg = route_push("SF3000000000001", &[("50", base_time())]);
    let good_secret = format!("?secret={DEV_SF_WEBHOOK_SECRET}");

    // No secret, a wrong one, and the right one with a digest of the wrong check word.
    sf_answer(
        post_push(&app, "", &signed_push(&msg, DEV_SF_CHECK_WORD)).await,
        401,
        "1000",
    )
    .await;
    sf_answer(
        post_push(&app, "?secret=guess", &signed_push(&msg, DEV_SF_CHECK_WORD)).await,
        401,
        "1000",
    )
    .await;
    sf_answer(
        post_push(&app, &good_secret, &signed_push(&msg, "not-the-check-word")).await,
        401,
        "1000",
    )
    .await;
    // Any content type reaches the adapter: a JSON body is simply not a signed form.
    let response = app
        .client
        .post(app.url(&format!("{WEBHOOK}{good_secret}")))
        .header("content-type", "application/json")
        .body(json!({"msgData": msg}).to_string())
        .send()
        .await
        .unwrap();
    sf_answer(response, 401, "1000").await;
    // Signed, but not readable: 400, still nothing stored.
    sf_answer(
        post_push(
            &app,
            &good_secret,
            &signed_push("not json", DEV_SF_CHECK_WORD),
        )
        .await,
        400,
        "1000",
    )
    .await;

    assert_eq!(event_count(&app).await, 0);
    let metrics = metrics(&app).await;
    assert!(
        metrics
            .contains(r#"beebox_webhook_rejected_total{partner="sf",reason="unauthenticated"} 4"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"beebox_webhook_rejected_total{partner="sf",reason="malformed"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_signed_push_outside_the_freshness_window_is_refused_and_counted() {
    let app = spawn_app_with(|c| c.courier.sf.push_max_age_secs = 600).await;
    let (_, application) = case_of(&app, "stale").await;
    let row = shipment_of(&app, application, LEG_MATERIALS, Some("SF3000000000003")).await;
    let msg = route_push("SF3000000000003", &[("50", base_time())]);
    let query = format!("?secret={DEV_SF_WEBHOOK_SECRET}");
    let now = Utc::now();

    // Validly signed, but eleven minutes ago, or eleven minutes ahead of our clock.
    for signed_at in [now - Duration::minutes(11), now + Duration::minutes(11)] {
        let form = signed_push_at(&msg, DEV_SF_CHECK_WORD, signed_at);
        sf_answer(post_push(&app, &query, &form).await, 401, "1000").await;
    }
    assert_eq!(event_count(&app).await, 0);
    assert_eq!(reload(&app, row.id).await.status, "pending");
    let counted = metrics(&app).await;
    assert!(
        counted.contains(r#"beebox_webhook_rejected_total{partner="sf",reason="stale"} 2"#),
        "{counted}"
    );

    // Nine minutes old is inside the window; its replay stays a duplicate.
    let form = signed_push_at(&msg, DEV_SF_CHECK_WORD, now - Duration::minutes(9));
    sf_answer(post_push(&app, &query, &form).await, 200, "0000").await;
    sf_answer(post_push(&app, &query, &form).await, 200, "0000").await;
    assert_eq!(event_count(&app).await, 1);
    assert_eq!(reload(&app, row.id).await.status, "picked_up");
    let metrics = metrics(&app).await;
    assert!(
        metrics.contains(r#"beebox_webhook_events_total{outcome="duplicate",partner="sf"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_signed_push_is_stored_once_and_moves_its_shipment() {
    let app = spawn_app().await;
    let (_, application) = case_of(&app, "pushed").await;
    let row = shipment_of(&app, application, LEG_MATERIALS, Some("SF3000000000002")).await;
    let t = base_time();
    let msg = route_push(
        "SF3000000000002",
        &[("50", t), ("30", t + Duration::hours(1))],
    );
    let query = format!("?secret={DEV_SF_WEBHOOK_SECRET}");
    sf_answer(
        post_push(&app, &query, &signed_push(&msg, DEV_SF_CHECK_WORD)).await,
        200,
        "0000",
    )
    .await;
    let after = reload(&app, row.id).await;
    assert_eq!(after.status, "in_transit");
    assert_eq!(after.last_op_code.as_deref(), Some("30"));

    // SF pushes again (its answer was lost): accepted, nothing new.
    sf_answer(
        post_push(&app, &query, &signed_push(&msg, DEV_SF_CHECK_WORD)).await,
        200,
        "0000",
    )
    .await;
    // The secret may come as a header instead; an unknown waybill is kept for later.
    let response = app
        .client
        .post(app.url(WEBHOOK))
        .header("X-Beebox-Webhook-Secret", DEV_SF_WEBHOOK_SECRET)
        .form(&signed_push(
            &route_push("SF3999999999999", &[("50", t)]),
            DEV_SF_CHECK_WORD,
        ))
        .send()
        .await
        .unwrap();
    sf_answer(response, 200, "0000").await;

    // Ten copies at once: each accepted, one stored.
    let copies = (0..10).map(|_| {
        let form = signed_push(
            &route_push("SF3000000000002", &[("44", t + Duration::hours(2))]),
            DEV_SF_CHECK_WORD,
        );
        let query = query.clone();
        let app = &app;
        async move { post_push(app, &query, &form).await }
    });
    for response in futures_util::future::join_all(copies).await {
        sf_answer(response, 200, "0000").await;
    }
    let after = reload(&app, row.id).await;
    assert_eq!(after.status, "out_for_delivery");

    assert_eq!(event_count(&app).await, 4);
    assert_eq!(reload(&app, row.id).await.version, after.version);
    let metrics = metrics(&app).await;
    for line in [
        r#"beebox_webhook_events_total{outcome="stored",partner="sf"} 3"#,
        r#"beebox_webhook_events_total{outcome="duplicate",partner="sf"} 11"#,
        r#"beebox_webhook_events_total{outcome="unknown_waybill",partner="sf"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

fn simulator(app: &TestApp) -> &SfSimulator {
    app.state
        .couriers
        .simulator
        .as_ref()
        .expect("dev runs the SF simulator")
}

/// Places the shipment's order at the simulator and records its waybill, as the order job does.
async fn order_at_simulator(app: &TestApp, row: &shipment::Model) -> String {
    let partner = app.state.couriers.get("sf").unwrap();
    let created = partner
        .create_order(&OrderRequest {
            order_id: row.order_id.clone(),
            sender: contact("张三", "杭州市"),
            recipient: contact("收件室", "杭州市"),
            pickup_from: row.pickup_from,
            pickup_until: row.pickup_until,
            cargo: "文件".into(),
            remark: None,
        })
        .await
        .unwrap();
    shipments::set_created(db(app), row.id, &created.waybill_no, None, None)
        .await
        .unwrap();
    created.waybill_no
}

/// The simulator's clock is stopped (a step an hour); tests move parcels by hand.
async fn spawn_quiet_app(reconcile_after_hours: u64) -> TestApp {
    spawn_app_with(|c| {
        c.courier.sf.sim_step_ms = 3_600_000;
        c.courier.reconcile_after_hours = reconcile_after_hours;
        // No scheduled reconciliation racing the test's own.
        c.jobs.worker = false;
    })
    .await
}

#[tokio::test]
async fn simulator_pushes_out_of_order_and_twice_end_delivered_once() {
    let app = spawn_quiet_app(4).await;
    let (_, application) = case_of(&app, "simulated").await;
    let row = shipment_of(&app, application, LEG_RESULT, None).await;
    let sim = simulator(&app);
    sim.set_push_mode(PushMode {
        reorder: true,
        duplicate: true,
        ..PushMode::default()
    });
    let waybill = order_at_simulator(&app, &row).await;
    for _ in 0..5 {
        sim.advance(&waybill).unwrap();
    }
    eventually("ten accepted pushes", || async {
        sim.pushes().iter().filter(|p| p.accepted).count() == 10
    })
    .await;
    assert!(sim.pushes().iter().all(|p| p.accepted && p.attempt == 1));

    let after = reload(&app, row.id).await;
    assert_eq!(after.status, "delivered");
    assert_eq!(after.last_op_code.as_deref(), Some("80"));
    let events = stored(&app, &waybill).await;
    assert_eq!(events.len(), 5);
    // Delivered came first; the four steps before it arrived late and moved nothing.
    assert_eq!(events.iter().filter(|e| e.applied).count(), 1);
    assert!(events.iter().any(|e| e.applied && e.op_code == "80"));
}

#[tokio::test]
async fn reconciliation_finds_what_pushes_lost() {
    // Every open shipment counts as quiet at once.
    let app = spawn_quiet_app(0).await;
    let (_, application) = case_of(&app, "reconciled").await;
    let row = shipment_of(&app, application, LEG_MATERIALS, None).await;
    let sim = simulator(&app);
    sim.set_push_mode(PushMode {
        drop: true,
        ..PushMode::default()
    });
    let waybill = order_at_simulator(&app, &row).await;
    sim.advance(&waybill).unwrap();
    sim.advance(&waybill).unwrap();
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    assert_eq!(event_count(&app).await, 0, "the simulator pushed nothing");

    // The partner is down: the run fails, to be retried, and nothing changes.
    sim.fail_next(1, SimFault::Http(502));
    assert!(
        reconcile::run(&app.state.job_context().unwrap())
            .await
            .is_err()
    );
    assert_eq!(reload(&app, row.id).await.status, "pending");

    reconcile::run(&app.state.job_context().unwrap())
        .await
        .unwrap();
    let after = reload(&app, row.id).await;
    assert_eq!(after.status, "in_transit");
    assert_eq!(stored(&app, &waybill).await.len(), 2);
    // Nothing new the next time: the same events are not stored twice.
    reconcile::run(&app.state.job_context().unwrap())
        .await
        .unwrap();
    assert_eq!(stored(&app, &waybill).await.len(), 2);
    assert_eq!(reload(&app, row.id).await.version, after.version);

    // A final shipment is not asked about again.
    for _ in 0..3 {
        sim.advance(&waybill).unwrap();
    }
    // The simulator keeps steps a second apart, a little ahead of the clock: let it catch up so
    // the shipment is quiet again.
    let last = after.last_event_at.unwrap();
    while Utc::now() <= last {
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    reconcile::run(&app.state.job_context().unwrap())
        .await
        .unwrap();
    assert_eq!(reload(&app, row.id).await.status, "delivered");
    sim.fail_next(1, SimFault::Http(502));
    reconcile::run(&app.state.job_context().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn pushes_dropped_entirely_are_caught_up_by_the_scheduled_reconciliation() {
    use crate::pickup::{booking, passed_case, shipments_until, slots, state_of};
    let app = spawn_app_with(|c| {
        c.courier.sf.sim_step_ms = 100;
        c.courier.reconcile_after_hours = 0;
        c.courier.reconcile_every_secs = 2;
        c.jobs.poll_ms = 50;
    })
    .await;
    let sim = simulator(&app);
    sim.set_push_mode(PushMode {
        drop: true,
        ..PushMode::default()
    });
    let (token, id) = passed_case(&app, "unpushed").await;
    let window = slots(&app, &token).await[0].clone();
    let body = booking(
        window["date"].as_str().unwrap(),
        window["slot"].as_str().unwrap(),
    );
    let booked = app
        .post_as(&token, &format!("/v1/applications/{id}/pickup"), &body)
        .await;
    assert_eq!(booked.status(), 201);
    let started = Instant::now();
    // The parcel's whole route happens at the partner and nothing is pushed; the scheduled
    // reconciliation (every 2 s here) brings it in through the same ingest.
    let legs = shipments_until(&app, &token, &id, "delivered by reconciliation", |items| {
        items
            .iter()
            .any(|s| s["leg"] == "materials" && s["status"] == "delivered")
    })
    .await;
    assert!(
        started.elapsed() < StdDuration::from_secs(20),
        "caught up in {:?}",
        started.elapsed()
    );
    assert!(sim.pushes().is_empty(), "the simulator pushed nothing");
    let steps = legs[0]["timeline"].as_array().unwrap();
    assert_eq!(steps.first().unwrap()["status"], "picked_up");
    assert_eq!(steps.last().unwrap()["status"], "delivered");
    assert_eq!(state_of(&app, &token, &id).await, "originals_in_transit");
    assert_eq!(
        app.timeline_actions(&token, &id).await,
        ["schedule_pickup", "pick_up", "originals_delivered"]
    );
}

/// Pushes that arrive together are written together: each keeps its own report.
#[tokio::test]
async fn pushes_ingested_together_each_get_their_own_report() {
    let app = spawn_app().await;
    let (_, first_case) = case_of(&app, "batch-one").await;
    let (_, second_case) = case_of(&app, "batch-two").await;
    let one = shipment_of(&app, first_case, LEG_MATERIALS, Some("SF3200000000001")).await;
    let two = shipment_of(&app, second_case, LEG_MATERIALS, Some("SF3200000000002")).await;
    let t = base_time();
    let a = [
        event("SF3200000000001", "b-1", ShipmentStatus::PickedUp, t),
        event(
            "SF3200000000002",
            "b-2",
            ShipmentStatus::InTransit,
            t + Duration::hours(1),
        ),
    ];
    let b = [
        // The same event as the first push carries, an unknown waybill's, and a later step.
        a[0].clone(),
        event("SF3299999999999", "b-3", ShipmentStatus::PickedUp, t),
        event(
            "SF3200000000001",
            "b-4",
            ShipmentStatus::Delivered,
            t + Duration::hours(2),
        ),
    ];
    let empty: [RouteEvent; 0] = [];
    let reports = ingest::ingest_pushes(db(&app), &app.state.channels, "sf", &[&a, &b, &empty])
        .await
        .unwrap();
    assert_eq!(reports.len(), 3);
    assert_eq!(
        (
            reports[0].stored,
            reports[0].duplicates,
            reports[0].unknown_waybill
        ),
        (2, 0, 0)
    );
    assert_eq!(
        (
            reports[1].stored,
            reports[1].duplicates,
            reports[1].unknown_waybill
        ),
        (1, 1, 1)
    );
    assert_eq!(reports[2], IngestReport::default());
    // Each move is reported with the push whose event made it.
    let moved = |report: &IngestReport| -> Vec<(Uuid, ShipmentStatus)> {
        report
            .changes
            .iter()
            .map(|c| (c.shipment_id, c.new))
            .collect()
    };
    assert_eq!(moved(&reports[0]), [(two.id, ShipmentStatus::InTransit)]);
    assert_eq!(moved(&reports[1]), [(one.id, ShipmentStatus::Delivered)]);

    assert_eq!(reload(&app, one.id).await.status, "delivered");
    assert_eq!(reload(&app, two.id).await.status, "in_transit");
    assert_eq!(event_count(&app).await, 4);
    let unknown = stored(&app, "SF3299999999999").await;
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].shipment_id, None);
}

/// One SF push per event, every step of several shipments at once, newest step first and each
/// push sent twice: every push is answered, every event stored once, and every shipment ends
/// where its own events say.
#[tokio::test]
async fn a_burst_of_concurrent_pushes_lands_each_event_once() {
    let app = spawn_app().await;
    let t = base_time();
    let steps = [("50", 0), ("30", 1), ("44", 2), ("80", 3)];
    let mut rows = Vec::new();
    let mut forms = Vec::new();
    for i in 0..6u64 {
        let (_, application) = case_of(&app, &format!("burst-{i}")).await;
        let waybill = format!("SF33000000000{i:02}");
        rows.push(shipment_of(&app, application, LEG_MATERIALS, Some(&waybill)).await);
        for (op_code, hours) in steps.iter().rev() {
            let at = t + Duration::hours(*hours);
            let id = 158_900_000_000_000u64 + i * 10 + *hours as u64;
            let msg = json!({"Body": {"WaybillRoute": [{
                "mailno": waybill, "acceptAddress": "杭州市", "reasonName": "",
                "orderid": "x", "acceptTime": format_china_time(at), "remark": op_code,
                "opCode": op_code, "id": id.to_string(), "reasonCode": ""}]}})
            .to_string();
            for _ in 0..2 {
                forms.push(signed_push(&msg, DEV_SF_CHECK_WORD));
            }
        }
    }
    let query = format!("?secret={DEV_SF_WEBHOOK_SECRET}");
    let sends = forms.iter().map(|form| post_push(&app, &query, form));
    for response in futures_util::future::join_all(sends).await {
        sf_answer(response, 200, "0000").await;
    }

    assert_eq!(event_count(&app).await, 24);
    for row in &rows {
        let after = reload(&app, row.id).await;
        assert_eq!(after.status, "delivered", "{}", after.order_id);
        assert_eq!(after.last_op_code.as_deref(), Some("80"));
        assert_eq!(after.delivered_at, Some(t + Duration::hours(3)));
        let events = stored(&app, row.waybill_no.as_deref().unwrap()).await;
        assert_eq!(events.len(), 4);
        assert!(events.iter().all(|e| e.shipment_id == Some(row.id)));
        let applied: Vec<&str> = events
            .iter()
            .filter(|e| e.applied)
            .map(|e| e.op_code.as_str())
            .collect();
        assert!(applied.contains(&"80"), "{applied:?}");
    }
    let metrics = metrics(&app).await;
    for line in [
        r#"beebox_webhook_events_total{outcome="stored",partner="sf"} 24"#,
        r#"beebox_webhook_events_total{outcome="duplicate",partner="sf"} 24"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
