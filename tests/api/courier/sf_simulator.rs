//! The SF simulator's own controls: a frozen or shifted clock, pickup times, the control
//! endpoint, queries split by ten waybills, and stale pushes refused in SF's format.

use std::time::Duration;

use beebox::integrations::courier::{CourierPartner, PushError};
use chrono::SubsecRound as _;
use poem::http::HeaderMap;

use crate::support::sf_peer::{
    CHECK_WORD, Harness, SF_LOOK, SF_WAIT, assert_retryable, order, push_form_at, unique,
};
use crate::support::wait::comes_true;

#[tokio::test]
async fn a_frozen_clock_moves_parcels_only_by_hand() {
    let h = Harness::running(Duration::from_millis(20)).await;
    h.sim.freeze(true);
    let waybill = h.create(&unique("o")).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(h.sim.orders()[0].steps_done, 0);
    assert_eq!(h.sim.advance(&waybill).as_deref(), Some("50"));
    assert_eq!(h.sim.orders()[0].steps_done, 1);
    h.sim.freeze(false);
    let delivered = comes_true(SF_WAIT, SF_LOOK, || h.sim.orders()[0].steps_done == 5).await;
    assert!(delivered, "timed out waiting for delivery");
}

#[tokio::test]
async fn a_query_for_more_than_ten_waybills_is_split() {
    let h = Harness::start().await;
    let mut waybills = Vec::new();
    for _ in 0..12 {
        let waybill = h.create(&unique("o")).await;
        h.sim.advance(&waybill).unwrap();
        waybills.push(waybill);
    }
    let events = h.sf.query_routes(&waybills).await.unwrap();
    let found: Vec<&str> = events.iter().map(|e| e.waybill_no.as_str()).collect();
    assert_eq!(
        found,
        waybills.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_control_endpoint_scripts_the_simulator() {
    let h = Harness::start().await;
    let client = reqwest::Client::new();
    let control = format!("{}/control", h.sim_url);
    let answer = client
        .post(&control)
        .json(
            &serde_json::json!({"action": "fail_next", "count": 1, "fault": "http", "status": 500}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_retryable(
        h.sf.create_order(&order(&unique("o"))).await,
        "scripted 500",
    );
    let waybill = h.create(&unique("o")).await;
    let answer: serde_json::Value = client
        .post(&control)
        .json(&serde_json::json!({"action": "advance", "waybill": waybill}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["op_code"], "50");
    let state: serde_json::Value = client
        .get(&control)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["orders"][0]["waybill_no"], waybill.as_str());
    assert_eq!(state["orders"][0]["steps_done"], 1);
}

#[tokio::test]
async fn a_parcel_waits_for_its_pickup_time_on_the_simulators_clock() {
    let h = Harness::with_pickup_wait(Duration::from_millis(20), true).await;
    let order = order(&unique("o"));
    let pickup_from = order.pickup_from.unwrap();
    let waybill = h.sf.create_order(&order).await.unwrap().waybill_no;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.sim.orders()[0].steps_done, 0, "nothing before the window");
    assert!(h.webhook.received.lock().unwrap().is_empty());

    // Two hours pass on the simulator's clock: the courier comes, then every step follows.
    h.sim.shift_clock(Duration::from_secs(2 * 3600 + 60));
    let pushed = h.pushes(5).await;
    let codes: Vec<&str> = pushed.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, ["50", "30", "31", "44", "80"]);
    let received = h.webhook.received.lock().unwrap();
    let collected = &received[0].outcome.as_ref().unwrap().events[0];
    assert_eq!(collected.waybill_no, waybill);
    assert!(collected.occurred_at >= pickup_from.trunc_subsecs(0));
}

#[tokio::test]
async fn the_control_endpoint_shifts_the_simulators_clock() {
    let h = Harness::start().await;
    let before = h.sim.now();
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/control", h.sim_url))
        .json(&serde_json::json!({"action": "shift_clock", "secs": 86400}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["ok"], true);
    let now = h.sim.now();
    assert!(
        now - before >= chrono::Duration::hours(24),
        "{before} -> {now}"
    );
}

#[tokio::test]
async fn a_push_signed_outside_the_window_is_stale_in_sfs_format() {
    let h = Harness::start().await;
    let query = Some("secret=test-webhook-secret");
    let msg = r#"{"Body":{"WaybillRoute":[{"mailno":"SF7444400031887","acceptAddress":"深圳市","orderid":"o","acceptTime":"2020-05-11 16:56:54","remark":"顺丰速运 已收取快件","opCode":"50","id":"158918741444476"}]}}"#;
    let now = chrono::Utc::now();
    for signed_at in [
        now - chrono::Duration::minutes(16),
        now + chrono::Duration::minutes(16),
    ] {
        let body = push_form_at(msg, CHECK_WORD, signed_at);
        let outcome = h.sf.verify_push(&HeaderMap::new(), query, &body);
        assert_eq!(outcome.unwrap_err(), PushError::Stale, "{signed_at}");
    }
    let body = push_form_at(msg, CHECK_WORD, now - chrono::Duration::minutes(14));
    assert!(h.sf.verify_push(&HeaderMap::new(), query, &body).is_ok());
    // A forged old push is still unauthenticated, not stale: the signature comes first.
    let forged = push_form_at(msg, "someone-elses-word", now - chrono::Duration::hours(1));
    assert_eq!(
        h.sf.verify_push(&HeaderMap::new(), query, &forged)
            .unwrap_err(),
        PushError::Unauthenticated
    );

    for (error, status) in [(PushError::Stale, 401), (PushError::RateLimited, 429)] {
        let reply = h.sf.push_refused(&error);
        assert_eq!(reply.status, status);
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(json["return_code"], "1000");
    }
}
