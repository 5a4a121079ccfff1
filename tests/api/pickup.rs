//! Booking, rebooking and cancelling the courier pickup of the originals (leg 1).

use chrono::Utc;
use serde_json::{Value, json};

use crate::support::cases::{create, state_of};
use crate::support::courier::{booking, shipments_until, slots};
use crate::support::seeds::passed_case;
use crate::support::{assert_problem, spawn_app, spawn_app_with};

const ITEM: &str = "elderly-preferential-card";

#[tokio::test]
async fn slots_offer_a_week_of_future_windows() {
    let app = spawn_app().await;
    let token = app.citizen_token("slots").await;
    let items = slots(&app, &token).await;
    assert!(items.len() >= 18 && items.len() <= 21, "{}", items.len());
    let now = Utc::now();
    for item in &items {
        let starts: chrono::DateTime<Utc> = item["starts_at"].as_str().unwrap().parse().unwrap();
        assert!(starts > now);
        assert!(
            ["09:00-12:00", "12:00-15:00", "15:00-18:00"].contains(&item["slot"].as_str().unwrap())
        );
    }
    let missing_city = app.get_as(&token, "/v1/pickup-slots").await;
    assert_problem(missing_city, 400, "invalid_parameter").await;
}

#[tokio::test]
async fn a_pickup_is_booked_once_rebooked_and_cancelled_before_the_courier_comes() {
    let app = spawn_app().await;
    let (token, id) = passed_case(&app, "pickup-owner").await;
    let offered = slots(&app, &token).await;
    let (first, second) = (&offered[0], &offered[1]);
    let path = format!("/v1/applications/{id}/pickup");

    // A window that is not on offer, and a bad phone, are 422 naming the fields.
    let problem = assert_problem(
        app.post_as(&token, &path, &booking("2020-01-01", "09:00-12:00"))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "window");
    let mut bad_phone = booking(
        first["date"].as_str().unwrap(),
        first["slot"].as_str().unwrap(),
    );
    bad_phone["address"]["phone"] = json!("12345");
    let problem = assert_problem(
        app.post_as(&token, &path, &bad_phone).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "address.phone");

    let body = booking(
        first["date"].as_str().unwrap(),
        first["slot"].as_str().unwrap(),
    );
    let booked = app.post_as(&token, &path, &body).await;
    assert_eq!(booked.status(), 201);
    let booked: Value = booked.json().await.unwrap();
    assert_eq!(booked["window"]["slot"], first["slot"]);
    assert_eq!(booked["status"], "pending");
    assert_eq!(state_of(&app, &token, &id).await, "pickup_scheduled");

    // The mini-program retries: the same booking comes back, nothing new is made.
    let again = app.post_as(&token, &path, &body).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["shipment_id"], booked["shipment_id"]);
    // A different one must be a PUT.
    let other = booking(
        second["date"].as_str().unwrap(),
        second["slot"].as_str().unwrap(),
    );
    assert_problem(
        app.post_as(&token, &path, &other).await,
        409,
        "pickup_already_scheduled",
    )
    .await;

    let moved = app.put_as(&token, &path, &other).await;
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.unwrap();
    assert_ne!(
        moved["shipment_id"], booked["shipment_id"],
        "a new order id for a new window"
    );
    assert_eq!(moved["window"]["slot"], second["slot"]);
    let current: Value = app.get_as(&token, &path).await.json().await.unwrap();
    assert_eq!(current["shipment_id"], moved["shipment_id"]);

    // Another citizen sees none of it.
    let stranger = app.citizen_token("pickup-stranger").await;
    assert_problem(
        app.get_as(&stranger, &path).await,
        404,
        "application_not_found",
    )
    .await;
    assert_problem(
        app.post_as(&stranger, &path, &other).await,
        404,
        "application_not_found",
    )
    .await;

    let cancelled = app.delete_as(&token, &path).await;
    assert_eq!(cancelled.status(), 204);
    assert_eq!(state_of(&app, &token, &id).await, "prereview_passed");
    assert_problem(app.get_as(&token, &path).await, 404, "pickup_not_found").await;
    assert_problem(app.delete_as(&token, &path).await, 404, "pickup_not_found").await;

    // Every order ever made was a separate, never-reused id; both old ones are being cancelled.
    let db = app.state.database().unwrap();
    let legs = beebox::store::shipments::of_application(db, id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(legs.len(), 2);
    assert_ne!(legs[0].order_id, legs[1].order_id);
    for leg in &legs {
        assert!(
            ["cancel_requested", "cancelled"].contains(&leg.order_status.as_str()),
            "{}",
            leg.order_status
        );
    }

    // The timeline tells the story.
    let actions = app.timeline_actions(&token, &id).await;
    assert_eq!(
        actions,
        ["schedule_pickup", "reschedule_pickup", "cancel_pickup"]
    );
}

#[tokio::test]
async fn pickups_need_a_passed_case_of_an_item_whose_originals_are_posted() {
    let app = spawn_app().await;
    let token = app.citizen_token("too-early").await;
    let draft = create(&app, &token, ITEM).await;
    let id = draft["id"].as_str().unwrap();
    let first = slots(&app, &token).await[0].clone();
    let body = booking(
        first["date"].as_str().unwrap(),
        first["slot"].as_str().unwrap(),
    );
    let response = app
        .post_as(&token, &format!("/v1/applications/{id}/pickup"), &body)
        .await;
    assert_problem(response, 409, "invalid_state").await;

    let other = create(&app, &token, "social-security-card-replacement").await;
    let id = other["id"].as_str().unwrap();
    let response = app
        .post_as(&token, &format!("/v1/applications/{id}/pickup"), &body)
        .await;
    assert_problem(response, 409, "pickup_not_needed").await;
}

#[tokio::test]
async fn the_courier_collects_the_originals_and_the_citizen_follows_the_parcel() {
    // Dev defaults: the SF simulator answers on the app's own port and pushes to its webhook.
    let app = spawn_app_with(|c| {
        c.courier.sf.sim_step_ms = 150;
        c.jobs.poll_ms = 50;
    })
    .await;
    let (token, id) = passed_case(&app, "followed").await;
    let first = slots(&app, &token).await[0].clone();
    let body = booking(
        first["date"].as_str().unwrap(),
        first["slot"].as_str().unwrap(),
    );
    let booked = app
        .post_as(&token, &format!("/v1/applications/{id}/pickup"), &body)
        .await;
    assert_eq!(booked.status(), 201);

    // The order job gets a waybill from the partner; the parcel then moves along on its own.
    let legs = shipments_until(&app, &token, &id, "delivered to the centre", |items| {
        items.len() == 1 && items[0]["status"] == "delivered"
    })
    .await;
    let leg = &legs[0];
    assert_eq!(leg["leg"], "materials");
    assert_eq!(leg["partner"], "sf");
    assert_eq!(leg["order_status"], "created");
    let waybill = leg["waybill_no"].as_str().unwrap();
    assert!(
        waybill.starts_with("SF") && waybill.len() == 15,
        "{waybill}"
    );
    let steps: Vec<&str> = leg["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "picked_up",
            "in_transit",
            "in_transit",
            "out_for_delivery",
            "delivered"
        ]
    );
    let pickup: Value = app
        .get_as(&token, &format!("/v1/applications/{id}/pickup"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pickup["waybill_no"], waybill);

    // The case moved on when the courier came, and its timeline says the originals arrived.
    assert_eq!(state_of(&app, &token, &id).await, "originals_in_transit");
    let actions = app.timeline_actions(&token, &id).await;
    assert_eq!(
        actions,
        ["schedule_pickup", "pick_up", "originals_delivered"]
    );
    // Once collected, the pickup can no longer be changed.
    let late = app
        .put_as(&token, &format!("/v1/applications/{id}/pickup"), &body)
        .await;
    assert_problem(late, 409, "pickup_in_progress").await;

    // Exactly one partner order was made for the booking.
    let simulator = app.state.couriers.simulator("sf").unwrap();
    let orders = simulator.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].create_calls, 1);
}

#[tokio::test]
async fn the_simulated_courier_comes_in_the_booked_window_not_before() {
    // Without the dev switch the simulator waits for the window, on its own clock.
    let app = spawn_app_with(|c| {
        c.courier.sf.sim_skip_pickup_wait = false;
        c.courier.sf.sim_step_ms = 50;
        c.jobs.poll_ms = 50;
    })
    .await;
    let (token, id) = passed_case(&app, "waits").await;
    let first = slots(&app, &token).await[0].clone();
    let body = booking(
        first["date"].as_str().unwrap(),
        first["slot"].as_str().unwrap(),
    );
    let booked = app
        .post_as(&token, &format!("/v1/applications/{id}/pickup"), &body)
        .await;
    assert_eq!(booked.status(), 201);
    let legs = shipments_until(&app, &token, &id, "an SF waybill", |items| {
        items.len() == 1 && items[0]["waybill_no"].is_string()
    })
    .await;
    let starts_at = chrono::DateTime::parse_from_rfc3339(first["starts_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);

    // Twenty steps of the simulator's clock later, nothing has been collected or pushed.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let simulator = app.state.couriers.simulator("sf").unwrap();
    assert!(simulator.now() < starts_at);
    assert_eq!(simulator.orders()[0].steps_done, 0);
    assert!(simulator.pushes().is_empty());
    let unchanged: Value = app
        .get_as(&token, &format!("/v1/applications/{id}/shipments"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged["items"][0]["status"], "pending");
    assert_eq!(legs[0]["status"], "pending");
    assert_eq!(state_of(&app, &token, &id).await, "pickup_scheduled");

    // The window opens on the simulator's clock: the courier comes, the parcel moves on.
    let until_window = (starts_at - simulator.now()).to_std().unwrap();
    simulator.shift_clock(until_window + std::time::Duration::from_secs(60));
    let legs = shipments_until(&app, &token, &id, "collected in the window", |items| {
        items[0]["status"] != "pending"
    })
    .await;
    let collected = &legs[0]["timeline"][0];
    assert_eq!(collected["status"], "picked_up");
    let at = chrono::DateTime::parse_from_rfc3339(collected["time"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    assert!(
        at >= starts_at,
        "collected at {at}, the window opens {starts_at}"
    );
}
