//! The SF simulator's route pushes to a webhook that checks each with `verify_push`: order,
//! tampering, garbage, and the simulator's duplicate, reorder, drop, delay and retry modes.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine as _;
use beebox::integrations::courier::sf::msg_digest;
use beebox::integrations::courier::sim::PushMode;
use beebox::integrations::courier::{CourierPartner, PushError, ShipmentStatus};
use poem::http::HeaderMap;

use crate::support::sf_peer::{CHECK_WORD, Harness, SECRET, SF_LOOK, SF_WAIT, push_form, unique};
use crate::support::wait::comes_true;

#[tokio::test]
async fn each_step_is_pushed_in_order_and_verifies() {
    let h = Harness::running(Duration::from_millis(40)).await;
    let waybill = h.create(&unique("o")).await;
    let pushed = h.pushes(5).await;
    let codes: Vec<&str> = pushed.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, ["50", "30", "31", "44", "80"]);
    let received = h.webhook.received.lock().unwrap();
    let statuses: Vec<ShipmentStatus> = received
        .iter()
        .map(|r| r.outcome.as_ref().unwrap().events[0].status)
        .collect();
    use ShipmentStatus::*;
    assert_eq!(
        statuses,
        [PickedUp, InTransit, InTransit, OutForDelivery, Delivered]
    );
    let first = &received[0].outcome.as_ref().unwrap().events[0];
    assert_eq!(first.waybill_no, waybill);
    assert_eq!(first.location.as_deref(), Some("杭州市"));
    assert_eq!(first.description, "顺丰速运 已收取快件");
    assert_eq!(first.raw["opCode"], "50");
    assert!(first.raw["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(
        received.windows(2).all(|w| {
            w[0].outcome.as_ref().unwrap().events[0].occurred_at
                < w[1].outcome.as_ref().unwrap().events[0].occurred_at
        }),
        "steps move forward in time"
    );
    drop(received);
    assert!(h.sim.pushes().iter().all(|p| p.accepted && p.attempt == 1));
    assert_eq!(h.sim.orders()[0].steps_done, 5);
}

#[tokio::test]
async fn query_routes_gives_the_same_event_ids_as_the_pushes() {
    let h = Harness::start().await;
    let waybill = h.create(&unique("o")).await;
    for _ in 0..3 {
        h.sim.advance(&waybill).unwrap();
    }
    let pushed = h.pushes(3).await;
    let queried =
        h.sf.query_routes(std::slice::from_ref(&waybill))
            .await
            .unwrap();
    let queried: Vec<(String, String)> = queried
        .into_iter()
        .map(|e| (e.op_code, e.event_id))
        .collect();
    assert_eq!(queried, pushed);
    assert!(h.sf.query_routes(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_tampered_push_or_a_wrong_secret_is_unauthenticated() {
    let h = Harness::start().await;
    let waybill = h.create(&unique("o")).await;
    h.sim.advance(&waybill).unwrap();
    h.pushes(1).await;
    let (headers, query, body) = {
        let received = h.webhook.received.lock().unwrap();
        let r = &received[0];
        (r.headers.clone(), r.query.clone(), r.body.clone())
    };
    let sf = &h.sf;
    assert!(sf.verify_push(&headers, query.as_deref(), &body).is_ok());

    // The same push with its step changed from 50 (collected) to 80 (delivered).
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("%2250%22", "%2280%22");
    assert_ne!(tampered.as_bytes(), &body[..], "the push carries opCode 50");
    let refused = sf.verify_push(&headers, query.as_deref(), tampered.as_bytes());
    assert_eq!(refused.unwrap_err(), PushError::Unauthenticated);

    for query in [None, Some("secret=wrong"), Some("secret=")] {
        let outcome = sf.verify_push(&HeaderMap::new(), query, &body);
        assert_eq!(
            outcome.unwrap_err(),
            PushError::Unauthenticated,
            "{query:?}"
        );
    }
    // The secret may come in a header instead.
    let mut with_header = HeaderMap::new();
    with_header.insert("X-Beebox-Webhook-Secret", SECRET.parse().unwrap());
    assert!(sf.verify_push(&with_header, None, &body).is_ok());
    with_header.insert("X-Beebox-Webhook-Secret", "wrong".parse().unwrap());
    assert_eq!(
        sf.verify_push(&with_header, None, &body).unwrap_err(),
        PushError::Unauthenticated
    );

    // Signed with another check word.
    let forged = push_form(r#"{"Body":{"WaybillRoute":[]}}"#, "someone-elses-word");
    let outcome = sf.verify_push(
        &HeaderMap::new(),
        Some("secret=test-webhook-secret"),
        &forged,
    );
    assert_eq!(outcome.unwrap_err(), PushError::Unauthenticated);

    let reply = sf.push_refused(&PushError::Unauthenticated);
    assert_eq!(reply.status, 401);
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(json["return_code"], "1000");
}

#[tokio::test]
async fn garbage_with_a_valid_secret_and_digest_is_malformed() {
    let h = Harness::start().await;
    let query = Some("secret=test-webhook-secret");
    for garbage in [
        "not json at all",
        r#"{"Body":{}}"#,
        r#"{"Body":{"WaybillRoute":[{"mailno":"SF1","opCode":"50","acceptTime":"yesterday"}]}}"#,
    ] {
        let body = push_form(garbage, CHECK_WORD);
        let outcome = h.sf.verify_push(&HeaderMap::new(), query, &body);
        assert!(
            matches!(outcome, Err(PushError::Malformed(_))),
            "{garbage}: {outcome:?}"
        );
    }
    let good = push_form(
        r#"{"Body":{"WaybillRoute":[{"mailno":"SF7444400031887","acceptAddress":"深圳市","orderid":"o","acceptTime":"2020-05-11 16:56:54","remark":"顺丰速运 已收取快件","opCode":"50","id":"158918741444476"}]}}"#,
        CHECK_WORD,
    );
    let push = h.sf.verify_push(&HeaderMap::new(), query, &good).unwrap();
    assert_eq!(push.events.len(), 1);
    assert_eq!(
        push.events[0].occurred_at.to_rfc3339(),
        "2020-05-11T08:56:54+00:00",
        "SF's times are China time"
    );

    let reply = h.sf.push_refused(&PushError::Malformed("x".into()));
    assert_eq!(reply.status, 400);
    let accepted = h.sf.push_accepted();
    assert_eq!(accepted.status, 200);
    assert_eq!(
        accepted.body,
        r#"{"return_code":"0000","return_msg":"成功"}"#
    );
    // A digest is the Base64 of a 16-byte MD5.
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(msg_digest("x", "1", CHECK_WORD))
            .unwrap()
            .len(),
        16
    );
}

#[tokio::test]
async fn duplicate_mode_pushes_each_step_twice_with_the_same_ids() {
    let h = Harness::start().await;
    h.sim.set_push_mode(PushMode {
        duplicate: true,
        ..PushMode::default()
    });
    let waybill = h.create(&unique("o")).await;
    h.sim.advance(&waybill).unwrap();
    h.sim.advance(&waybill).unwrap();
    let pushed = h.pushes(4).await;
    assert_eq!(pushed[0], pushed[1]);
    assert_eq!(pushed[2], pushed[3]);
    assert_ne!(pushed[0].1, pushed[2].1);
}

#[tokio::test]
async fn reorder_mode_pushes_delivered_before_picked_up() {
    let h = Harness::start().await;
    h.sim.set_push_mode(PushMode {
        reorder: true,
        ..PushMode::default()
    });
    let waybill = h.create(&unique("o")).await;
    for _ in 0..4 {
        h.sim.advance(&waybill).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        h.webhook.received.lock().unwrap().is_empty(),
        "held until delivered"
    );
    assert_eq!(h.sim.advance(&waybill).as_deref(), Some("80"));
    assert_eq!(h.sim.advance(&waybill), None, "delivered is the last step");
    let codes: Vec<String> = h.pushes(5).await.into_iter().map(|(c, _)| c).collect();
    assert_eq!(codes, ["80", "44", "31", "30", "50"]);
}

#[tokio::test]
async fn drop_mode_pushes_nothing_but_the_query_finds_every_step() {
    let h = Harness::start().await;
    h.sim.set_push_mode(PushMode {
        drop: true,
        ..PushMode::default()
    });
    let waybill = h.create(&unique("o")).await;
    while h.sim.advance(&waybill).is_some() {}
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(h.webhook.received.lock().unwrap().is_empty());
    assert!(h.sim.pushes().is_empty());
    let events =
        h.sf.query_routes(std::slice::from_ref(&waybill))
            .await
            .unwrap();
    let statuses: Vec<ShipmentStatus> = events.iter().map(|e| e.status).collect();
    assert_eq!(statuses.len(), 5);
    assert_eq!(statuses.last(), Some(&ShipmentStatus::Delivered));
}

#[tokio::test]
async fn a_delayed_push_arrives_late() {
    let h = Harness::start().await;
    h.sim.set_push_mode(PushMode {
        delay: Duration::from_millis(300),
        ..PushMode::default()
    });
    let waybill = h.create(&unique("o")).await;
    let started = Instant::now();
    h.sim.advance(&waybill).unwrap();
    h.pushes(1).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_refused_push_is_tried_three_times_then_given_up() {
    let h = Harness::start().await;
    h.webhook.down.store(true, Ordering::SeqCst);
    let waybill = h.create(&unique("o")).await;
    h.sim.advance(&waybill).unwrap();
    let tried = comes_true(SF_WAIT, SF_LOOK, || h.sim.pushes().len() >= 3).await;
    assert!(tried, "timed out waiting for three tries");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let attempts = h.sim.pushes();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert_eq!(
        attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        attempts
            .iter()
            .all(|a| !a.accepted && a.status == Some(500))
    );
}
