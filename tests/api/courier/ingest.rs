//! Route events into shipments through `ingest`: the same event again, replays, late and failed
//! steps, a shipment across the upgrade, and events that come before their shipment.
//! Shipments and applications are seeded through the store; the booking that makes them over
//! HTTP is tested in `pickup.rs`.

use beebox::courier::ingest::{self, IngestReport};
use beebox::integrations::courier::{RouteEvent, ShipmentStatus};
use beebox::store::shipments::{LEG_MATERIALS, LEG_RESULT};
use chrono::Duration;

use crate::support::seeds::passed_case_uuid;
use crate::support::shipments::{base_time, db, event, reload, shipment_of, stored};
use crate::support::spawn_app;

#[tokio::test]
async fn the_same_event_ten_times_is_stored_once() {
    let app = spawn_app().await;
    let (_, application) = passed_case_uuid(&app, "replay").await;
    let row = shipment_of(&app, application, LEG_MATERIALS, Some("SF1000000000001")).await;
    let picked = event(
        "SF1000000000001",
        "e-1",
        ShipmentStatus::PickedUp,
        base_time(),
    );

    let first = ingest::ingest(
        db(&app),
        &app.state.cases,
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
            &app.state.cases,
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
        &app.state.cases,
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
    let (_, application) = passed_case_uuid(&app, "elsewhere").await;
    let row = shipment_of(&app, application, LEG_MATERIALS, Some("SF1000000000031")).await;
    let t = base_time();
    let first = ingest::ingest(
        db(&app),
        &app.state.cases,
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
        &app.state.cases,
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
    let (_, application) = passed_case_uuid(&app, "late").await;
    let row = shipment_of(&app, application, LEG_RESULT, Some("SF1000000000002")).await;
    let t = base_time();
    let delivered = event(
        "SF1000000000002",
        "e-80",
        ShipmentStatus::Delivered,
        t + Duration::hours(3),
    );
    let report = ingest::ingest(db(&app), &app.state.cases, "sf", &[delivered])
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
    let report = ingest::ingest(db(&app), &app.state.cases, "sf", &late)
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
    let (_, application) = passed_case_uuid(&app, "retry").await;
    let row = shipment_of(&app, application, LEG_RESULT, Some("SF1000000000003")).await;
    let t = base_time();
    let w = "SF1000000000003";
    ingest::ingest(
        db(&app),
        &app.state.cases,
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
        &app.state.cases,
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
    let (_, application) = passed_case_uuid(&app, "upgraded").await;
    let w = "SF1000000000009";
    let row = shipment_of(&app, application, LEG_RESULT, Some(w)).await;
    let t = base_time();
    let hours = |n| t + Duration::hours(n);
    let app = &app;
    let push = |events: Vec<RouteEvent>| async move {
        ingest::ingest(db(app), &app.state.cases, "sf", &events)
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
    let (_, application) = passed_case_uuid(&app, "early").await;
    let t = base_time();
    let w = "SF1000000000004";
    let report = ingest::ingest(
        db(&app),
        &app.state.cases,
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
    let matched = ingest::match_unknown(db(&app), &app.state.cases, "sf", w, row.id)
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
    let again = ingest::match_unknown(db(&app), &app.state.cases, "sf", w, row.id)
        .await
        .unwrap();
    assert_eq!(again, IngestReport::default());

    // An event stored unmatched while the shipment already existed joins with the next one.
    let w2 = "SF1000000000005";
    ingest::ingest(
        db(&app),
        &app.state.cases,
        "sf",
        &[event(w2, "v-1", ShipmentStatus::PickedUp, t)],
    )
    .await
    .unwrap();
    let other = shipment_of(&app, application, LEG_RESULT, Some(w2)).await;
    let report = ingest::ingest(
        db(&app),
        &app.state.cases,
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
