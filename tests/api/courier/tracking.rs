//! What people read of the route events: the citizen's tracking view of every leg with its
//! timeline, and the admin list of stuck, failed and troubled shipments.

use beebox::courier::ingest;
use beebox::integrations::courier::ShipmentStatus;
use beebox::store::shipments::{self, LEG_MATERIALS, LEG_RESULT, shipment};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::cases::CIVIL;
use crate::support::seeds::passed_case_uuid;
use crate::support::shipments::{base_time, db, event, shipment_of};
use crate::support::staff::staff_token;
use crate::support::{assert_problem, spawn_app};

#[tokio::test]
async fn the_citizen_tracks_every_leg_with_its_timeline() {
    let app = spawn_app().await;
    let (token, application) = passed_case_uuid(&app, "tracker").await;
    let materials = shipment_of(&app, application, LEG_MATERIALS, Some("SF1000000000006")).await;
    let result = shipment_of(&app, application, LEG_RESULT, None).await;
    let t = base_time();
    let w = "SF1000000000006";
    // Pushed out of order; the timeline is in the order things happened.
    ingest::ingest(
        db(&app),
        &app.state.cases,
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
    let (_, application) = passed_case_uuid(&app, "problems").await;
    let (_, other) = passed_case_uuid(&app, "problems2").await;
    let db = db(&app);
    let old = Utc::now().trunc_subsecs(0) - Duration::hours(72);
    let recent = Utc::now().trunc_subsecs(0) - Duration::hours(1);

    // Picked up three days ago and not heard of since (stuck after 48 h by default).
    let stuck = shipment_of(&app, application, LEG_MATERIALS, Some("SF2000000000001")).await;
    ingest::ingest(
        db,
        &app.state.cases,
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
        &app.state.cases,
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
        &app.state.cases,
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
        &app.state.cases,
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
    let (_, third) = passed_case_uuid(&app, "problems3").await;
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

    let reviewer = staff_token(&app, "courier.reviewer", "reviewer", CIVIL).await;
    assert_problem(
        app.get_as(&reviewer, "/v1/admin/shipments/problems").await,
        403,
        "role_required",
    )
    .await;
}
