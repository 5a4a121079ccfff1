//! What the pushes lose, found again: the built-in simulator pushing out of order and twice, and
//! reconciliation by route query, run by hand and by the scheduled job.

use std::time::{Duration as StdDuration, Instant};

use beebox::courier::reconcile;
use beebox::integrations::courier::sim::{PushMode, SimFault};
use beebox::store::shipments::{LEG_MATERIALS, LEG_RESULT};
use chrono::Utc;

use crate::support::cases::state_of;
use crate::support::courier::{booking, shipments_until, slots};
use crate::support::seeds::{passed_case, passed_case_uuid};
use crate::support::sf::{order_at_simulator, simulator, spawn_quiet_app};
use crate::support::shipments::{event_count, reload, shipment_of, stored};
use crate::support::spawn_app_with;
use crate::support::wait::eventually;

#[tokio::test]
async fn simulator_pushes_out_of_order_and_twice_end_delivered_once() {
    let app = spawn_quiet_app(4).await;
    let (_, application) = passed_case_uuid(&app, "simulated").await;
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
    eventually(
        "ten accepted pushes",
        StdDuration::from_secs(15),
        StdDuration::from_millis(50),
        || async { sim.pushes().iter().filter(|p| p.accepted).count() == 10 },
    )
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
    let (_, application) = passed_case_uuid(&app, "reconciled").await;
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
