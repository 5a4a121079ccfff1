//! The SF Express adapter's orders against the SF simulator on a real port: waybills, the same
//! order id again, cancelling, and which errors are retryable and which final.

use beebox::integrations::courier::sf::{SfExpress, SfSettings};
use beebox::integrations::courier::sim::SimFault;
use beebox::integrations::courier::{CourierError, CourierPartner};

use crate::support::sf::{DETAIL, PHONE};
use crate::support::sf_peer::{
    CHECK_WORD, Harness, assert_final, assert_retryable, order, settings, unique,
};

#[tokio::test]
async fn creating_an_order_returns_an_sf_waybill() {
    let h = Harness::start().await;
    let waybill = h.create(&unique("o")).await;
    assert!(
        waybill.starts_with("SF") && waybill.len() == 15,
        "{waybill}"
    );
    assert!(waybill[2..].chars().all(|c| c.is_ascii_digit()));
}

#[tokio::test]
async fn creating_again_with_the_same_order_id_returns_the_same_waybill() {
    let h = Harness::start().await;
    let order_id = unique("o");
    let first = h.create(&order_id).await;
    let second = h.create(&order_id).await;
    assert_eq!(first, second);
    let orders = h.sim.orders();
    assert_eq!(orders.len(), 1, "exactly one partner order: {orders:?}");
    assert_eq!(orders[0].create_calls, 2);
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_finds_the_order_instead_of_making_a_second() {
    let h = Harness::start().await;
    let order_id = unique("o");
    h.sim.fail_next(1, SimFault::LoseAnswer);
    assert_retryable(
        h.sf.create_order(&order(&order_id)).await,
        "the lost answer",
    );
    let waybill = h.create(&order_id).await;
    let orders = h.sim.orders();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0].waybill_no, waybill);
}

#[tokio::test]
async fn a_cancelled_order_stops_and_its_id_is_refused_when_reused() {
    let h = Harness::start().await;
    let order_id = unique("o");
    let waybill = h.create(&order_id).await;
    h.sf.cancel_order(&order_id, None).await.unwrap();
    // Cancelling twice is cancelling once.
    h.sf.cancel_order(&order_id, None).await.unwrap();
    assert_eq!(
        h.sim.advance(&waybill),
        None,
        "a cancelled parcel does not move"
    );
    assert_final(h.sf.create_order(&order(&order_id)).await, "reusing the id");
    let orders = h.sim.orders();
    assert_eq!(orders.len(), 1);
    assert!(orders[0].cancelled);
}

#[tokio::test]
async fn a_collected_parcel_cannot_be_cancelled() {
    let h = Harness::start().await;
    let order_id = unique("o");
    let waybill = h.create(&order_id).await;
    assert_eq!(h.sim.advance(&waybill).as_deref(), Some("50"));
    assert_final(
        h.sf.cancel_order(&order_id, None).await,
        "cancelling after pickup",
    );
    assert_final(
        h.sf.cancel_order(&unique("unknown"), None).await,
        "an unknown order",
    );
}

#[tokio::test]
async fn gateway_errors_timeouts_and_busy_answers_are_retryable() {
    let h = Harness::start().await;
    let faults = [
        SimFault::Http(500),
        SimFault::Http(502),
        SimFault::Timeout,
        SimFault::ApiCode("A1099".into()),
        SimFault::ApiCode("A1005".into()),
        SimFault::ApiCode("A1009".into()),
    ];
    for fault in faults {
        h.sim.fail_next(1, fault.clone());
        assert_retryable(
            h.sf.create_order(&order(&unique("o"))).await,
            &format!("{fault:?}"),
        );
    }
    h.sim.fail_next(1, SimFault::Http(503));
    assert_retryable(
        h.sf.query_routes(&["SF1234567890123".into()]).await,
        "a query",
    );
    h.sim.fail_next(1, SimFault::Timeout);
    assert_retryable(h.sf.cancel_order("o", None).await, "a cancel");
    assert!(h.sim.orders().is_empty(), "a failed call creates nothing");
    h.create(&unique("o")).await;
}

#[tokio::test]
async fn a_wrong_check_word_or_partner_is_refused_for_good() {
    let h = Harness::start().await;
    let api_base = format!("{}/std/service", h.sim_url);
    let wrong_word = SfExpress::new(SfSettings {
        check_word: "not-the-check-word".into(),
        ..settings(&api_base)
    });
    let error = wrong_word.create_order(&order("o")).await.unwrap_err();
    assert!(
        matches!(&error, CourierError::Final(m) if m.contains("A1006")),
        "{error:?}"
    );
    assert!(!error.to_string().contains("not-the-check-word"));
    let wrong_partner = SfExpress::new(SfSettings {
        partner_id: "SOMEONE_ELSE".into(),
        ..settings(&api_base)
    });
    assert_final(
        wrong_partner.create_order(&order("o")).await,
        "a wrong partner",
    );
    h.sim.fail_next(1, SimFault::ApiCode("A1004".into()));
    assert_final(h.sf.create_order(&order("o")).await, "no permission");
    assert!(h.sim.orders().is_empty());
}

#[tokio::test]
async fn business_refusals_are_final_and_keep_addresses_and_phones_out() {
    let h = Harness::start().await;
    let mut bad = order(&unique("o"));
    bad.recipient.phone = String::new();
    let error = h.sf.create_order(&bad).await.unwrap_err();
    assert!(
        matches!(&error, CourierError::Final(m) if m.contains("1016")),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(!text.contains(PHONE) && !text.contains(DETAIL) && !text.contains(CHECK_WORD));
}
