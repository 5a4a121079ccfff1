//! SF's route pushes over HTTP at `/v1/webhooks/courier/sf`: the secret and the signature,
//! the freshness window, a push stored once, and pushes that arrive together or in a burst.

use beebox::courier::ingest::{self, IngestReport};
use beebox::integrations::courier::partners::{DEV_SF_CHECK_WORD, DEV_SF_WEBHOOK_SECRET};
use beebox::integrations::courier::wire::format_china_time;
use beebox::integrations::courier::{RouteEvent, ShipmentStatus};
use beebox::store::shipments::LEG_MATERIALS;
use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::support::seeds::passed_case_uuid;
use crate::support::sf::{
    WEBHOOK, metrics, post_push, route_push, sf_answer, signed_push, signed_push_at,
};
use crate::support::shipments::{base_time, db, event, event_count, reload, shipment_of, stored};
use crate::support::{assert_problem, spawn_app, spawn_app_with};

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
    let (_, application) = passed_case_uuid(&app, "refused").await;
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
    let (_, application) = passed_case_uuid(&app, "stale").await;
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
    let (_, application) = passed_case_uuid(&app, "pushed").await;
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

/// Pushes that arrive together are written together: each keeps its own report.
#[tokio::test]
async fn pushes_ingested_together_each_get_their_own_report() {
    let app = spawn_app().await;
    let (_, first_case) = passed_case_uuid(&app, "batch-one").await;
    let (_, second_case) = passed_case_uuid(&app, "batch-two").await;
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
    let reports = ingest::ingest_pushes(db(&app), &app.state.cases, "sf", &[&a, &b, &empty])
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
        let (_, application) = passed_case_uuid(&app, &format!("burst-{i}")).await;
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
