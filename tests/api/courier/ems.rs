//! China Post EMS beside SF: the adapter against the in-process EMS simulator (waybills, the
//! same order number again, cancelling, retryable and final errors), its trace pushes through
//! the app's webhook (`/v1/webhooks/courier/ems`), sealed, tampered, garbled and early, and
//! reconciliation by EMS's one-waybill trace query.

use std::time::Duration;

use beebox::courier::ingest;
use beebox::integrations::courier::ems::{ChinaPostEms, EmsSettings, seal_push};
use beebox::integrations::courier::partners::{
    DEV_EMS_AUTHORIZATION, DEV_EMS_SENDER_NO, DEV_EMS_SIGN_KEY, DEV_EMS_WEBHOOK_SECRET,
};
use beebox::integrations::courier::sim::{CourierSimulator, PushMode, SimFault};
use beebox::integrations::courier::{CourierError, CourierPartner, OrderRequest};
use beebox::store::shipments::LEG_MATERIALS;
use serde_json::{Value, json};

use crate::support::seeds::passed_case_uuid;
use crate::support::sf::contact;
use crate::support::shipments::{db, reload, shipment_with, stored};
use crate::support::wait::comes_true;
use crate::support::{TestApp, spawn_app_with};

const WEBHOOK: &str = "/v1/webhooks/courier/ems";
/// A second valid key: what a push sealed by someone else looks like.
const OTHER_KEY: &str = "TvaBgrhE46sft3nZlfe7xw==";

/// An app with EMS enabled beside SF, its simulator's clock stopped (parcels move by hand).
async fn ems_app() -> TestApp {
    spawn_app_with(|c| {
        c.courier.partners = vec!["sf".into(), "ems".into()];
        c.courier.ems.sim_step_ms = 3_600_000;
        c.courier.ems.sim_skip_pickup_wait = true;
        c.courier.ems.timeout_ms = 1_000;
        c.jobs.worker = false;
    })
    .await
}

fn sim(app: &TestApp) -> &CourierSimulator {
    app.state
        .couriers
        .simulator("ems")
        .expect("dev runs the EMS simulator")
}

fn ems(app: &TestApp) -> std::sync::Arc<dyn CourierPartner> {
    app.state.couriers.get("ems").expect("EMS is enabled")
}

fn order(order_id: &str) -> OrderRequest {
    let from = chrono::Utc::now() + chrono::Duration::hours(1);
    OrderRequest {
        order_id: order_id.into(),
        sender: contact("张三", "杭州市"),
        recipient: contact("收件室", "杭州市"),
        pickup_from: Some(from),
        pickup_until: Some(from + chrono::Duration::hours(3)),
        cargo: "文件".into(),
        remark: None,
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

async fn create(app: &TestApp, order_id: &str) -> String {
    ems(app)
        .create_order(&order(order_id))
        .await
        .unwrap()
        .waybill_no
}

fn assert_retryable<T: std::fmt::Debug>(result: Result<T, CourierError>, what: &str) {
    assert!(
        matches!(result, Err(CourierError::Retryable(_))),
        "{what}: {result:?}"
    );
}

/// The webhook's answer: its status and EMS's `code`.
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    (status, response.json().await.unwrap())
}

/// A push as EMS sends it: the trace sealed with `key` in EMS's JSON envelope.
fn push_body(trace: &Value, key: &str) -> Value {
    json!({
        "logitcsInterface": seal_push(&trace.to_string(), key).unwrap(),
        "method": "040002",
        "msgType": "0",
        "senderNo": "",
        "serialNo": "C3E7E1A2E6F44EB9B09EB9116C89FC86",
        "timeStamp": "2026-12-07 10:00:00",
        "version": "v1.0.0",
    })
}

fn trace(waybill: &str, op_code: &str, time: &str) -> Value {
    json!({
        "waybillNo": waybill, "opCode": op_code, "opName": "收寄", "opTime": time,
        "opDesc": "【杭州市揽投部】已收寄", "opOrgCity": "杭州市", "opOrgName": "杭州市揽投部",
        "opOrgCode": "31000100", "operatorNo": "1", "operatorName": "揽投员",
    })
}

async fn post(app: &TestApp, query: &str, body: String) -> reqwest::Response {
    app.client
        .post(app.url(&format!("{WEBHOOK}{query}")))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_ems_order_gets_a_waybill_and_the_same_number_again_gets_the_same_one() {
    let app = ems_app().await;
    let order_id = unique("o");
    let first = create(&app, &order_id).await;
    assert!(
        first.len() == 13 && first.chars().all(|c| c.is_ascii_digit()),
        "{first}"
    );
    // A lost answer: the retry meets the order the first call made.
    let second_id = unique("o");
    sim(&app).fail_next(1, SimFault::LoseAnswer);
    assert_retryable(
        ems(&app).create_order(&order(&second_id)).await,
        "a lost answer",
    );
    let second = create(&app, &second_id).await;
    assert_eq!(create(&app, &order_id).await, first);
    let orders = sim(&app).orders();
    assert_eq!(
        orders.len(),
        2,
        "one partner order per order number: {orders:?}"
    );
    assert!(orders.iter().all(|o| o.create_calls == 2), "{orders:?}");
    assert_eq!(orders[1].waybill_no, second);
}

#[tokio::test]
async fn cancelling_before_pickup_is_idempotent_and_after_pickup_is_refused_for_good() {
    let app = ems_app().await;
    let order_id = unique("o");
    let waybill = create(&app, &order_id).await;
    ems(&app)
        .cancel_order(&order_id, Some(&waybill))
        .await
        .unwrap();
    ems(&app)
        .cancel_order(&order_id, Some(&waybill))
        .await
        .unwrap();
    assert_eq!(
        sim(&app).advance(&waybill),
        None,
        "a cancelled parcel stays"
    );
    assert!(sim(&app).orders()[0].cancelled);
    // A cancelled order number is not made again.
    let again = ems(&app).create_order(&order(&order_id)).await;
    assert!(matches!(again, Err(CourierError::Final(_))), "{again:?}");

    let collected_id = unique("o");
    let collected = create(&app, &collected_id).await;
    assert_eq!(sim(&app).advance(&collected).as_deref(), Some("203"));
    let refused = ems(&app)
        .cancel_order(&collected_id, Some(&collected))
        .await;
    assert!(
        matches!(&refused, Err(CourierError::Final(m)) if m.contains("B00001")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn emss_own_failures_are_retried_and_bad_credentials_are_final() {
    let app = ems_app().await;
    for fault in [
        SimFault::ApiCode("S00001".into()),
        SimFault::Http(502),
        SimFault::Timeout,
    ] {
        sim(&app).fail_next(1, fault.clone());
        assert_retryable(
            ems(&app).create_order(&order(&unique("o"))).await,
            &format!("{fault:?}"),
        );
    }
    sim(&app).fail_next(1, SimFault::Http(503));
    assert_retryable(
        ems(&app).query_routes(&["1100000000001".into()]).await,
        "a query",
    );
    assert!(
        sim(&app).orders().is_empty(),
        "a failed call creates nothing"
    );

    let api_base = app.url("/_sim/ems/api/open");
    let settings = |authorization: &str, sign_key: &str| EmsSettings {
        api_base: api_base.clone(),
        sender_no: DEV_EMS_SENDER_NO.into(),
        authorization: authorization.into(),
        sign_key: sign_key.into(),
        webhook_secret: DEV_EMS_WEBHOOK_SECRET.into(),
        biz_product_no: "1".into(),
        timeout: Duration::from_secs(2),
    };
    for (wrong, secret) in [
        (
            ChinaPostEms::new(settings("not-the-authorization", DEV_EMS_SIGN_KEY)),
            "not-the-authorization",
        ),
        (
            ChinaPostEms::new(settings(DEV_EMS_AUTHORIZATION, OTHER_KEY)),
            OTHER_KEY,
        ),
    ] {
        let error = wrong.create_order(&order("o")).await.unwrap_err();
        assert!(
            matches!(&error, CourierError::Final(m) if m.contains("B00001")),
            "{error:?}"
        );
        assert!(!error.to_string().contains(secret));
    }
    assert!(sim(&app).orders().is_empty());
    // Refused business input names what is wrong, without the phone number.
    let mut blank = order("o");
    blank.recipient.detail = String::new();
    let error = ems(&app).create_order(&blank).await.unwrap_err();
    assert_eq!(
        error,
        CourierError::Final("EMS B00001: 收件人地址不能为空".into())
    );
}

#[tokio::test]
async fn each_step_is_pushed_sealed_in_order_and_a_query_finds_the_same_events() {
    let app = ems_app().await;
    sim(&app).set_push_mode(PushMode {
        duplicate: true,
        ..PushMode::default()
    });
    let (_, application) = passed_case_uuid(&app, "ems-steps").await;
    let order_id = unique("o");
    let waybill = create(&app, &order_id).await;
    let row = shipment_with(&app, application, LEG_MATERIALS, "ems", Some(&waybill)).await;
    let mut codes = Vec::new();
    while let Some(code) = sim(&app).advance(&waybill) {
        codes.push(code);
    }
    assert_eq!(codes, ["203", "389", "954", "702", "704"]);
    let settled = comes_true(Duration::from_secs(10), Duration::from_millis(20), || {
        sim(&app).pushes().len() == 10
    })
    .await;
    assert!(settled, "{:?}", sim(&app).pushes());
    assert!(
        sim(&app)
            .pushes()
            .iter()
            .all(|p| p.accepted && p.status == Some(200)),
        "{:?}",
        sim(&app).pushes()
    );
    // Each step once, though pushed twice; the shipment delivered.
    let events = stored(&app, &waybill).await;
    assert_eq!(events.len(), 5, "{events:?}");
    assert_eq!(reload(&app, row.id).await.status, "delivered");
    let mut pushed: Vec<String> = events.iter().map(|e| e.partner_event_id.clone()).collect();
    pushed.sort();
    let mut queried: Vec<String> = ems(&app)
        .query_routes(std::slice::from_ref(&waybill))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    queried.sort();
    assert_eq!(queried, pushed);
    assert!(
        ems(&app)
            .query_routes(&["1999999999999".into()])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_push_with_a_bad_seal_or_secret_is_401_and_garbage_400_in_emss_format() {
    let app = ems_app().await;
    let good = format!("?secret={DEV_EMS_WEBHOOK_SECRET}");
    let waybill = "1100000000777";
    let valid = push_body(
        &trace(waybill, "203", "2026-12-07 09:00:00"),
        DEV_EMS_SIGN_KEY,
    );
    // No secret, a wrong one, and the right one with a trace sealed by another key.
    for (query, body) in [
        ("", valid.to_string()),
        ("?secret=guess", valid.to_string()),
        (
            good.as_str(),
            push_body(&trace(waybill, "203", "2026-12-07 09:00:00"), OTHER_KEY).to_string(),
        ),
        (
            good.as_str(),
            json!({"logitcsInterface": "|$4|AAAA"}).to_string(),
        ),
        (good.as_str(), "not json".to_string()),
    ] {
        let (status, body) = answer(post(&app, query, body).await).await;
        assert_eq!(status, 401, "{query}: {body}");
        assert_eq!(body["code"], "S00001", "{body}");
    }
    // Sealed with our key, but no trace inside: 400.
    for inside in [json!({"hello": "world"}), json!([]), json!("text")] {
        let sealed = json!({"logitcsInterface": seal_push(&inside.to_string(), DEV_EMS_SIGN_KEY).unwrap(), "method": "040002"});
        let (status, body) = answer(post(&app, &good, sealed.to_string()).await).await;
        assert_eq!(status, 400, "{inside}: {body}");
        assert_eq!(body["code"], "S00001");
    }
    assert!(stored(&app, waybill).await.is_empty(), "nothing stored");
    // The right push is taken, and taken again as a replay without a second event.
    for _ in 0..2 {
        let (status, body) = answer(post(&app, &good, valid.to_string()).await).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["code"], "00000");
        assert_eq!(body["senderNo"], DEV_EMS_SENDER_NO);
    }
    assert_eq!(stored(&app, waybill).await.len(), 1);
}

#[tokio::test]
async fn an_early_ems_push_waits_for_its_shipment_and_applies_when_the_waybill_is_known() {
    let app = ems_app().await;
    let (_, application) = passed_case_uuid(&app, "ems-early").await;
    let waybill = "1100000000888";
    let good = format!("?secret={DEV_EMS_WEBHOOK_SECRET}");
    let body = push_body(
        &trace(waybill, "203", "2026-12-07 09:00:00"),
        DEV_EMS_SIGN_KEY,
    );
    let (status, _) = answer(post(&app, &good, body.to_string()).await).await;
    assert_eq!(status, 200);
    let early = stored(&app, waybill).await;
    assert_eq!(early.len(), 1);
    assert!(early[0].shipment_id.is_none() && !early[0].applied);
    let row = shipment_with(&app, application, LEG_MATERIALS, "ems", Some(waybill)).await;
    let matched = ingest::match_unknown(db(&app), &app.state.cases, "ems", waybill, row.id)
        .await
        .unwrap();
    assert_eq!(matched.stored, 1);
    assert_eq!(reload(&app, row.id).await.status, "picked_up");
    assert_eq!(reload(&app, row.id).await.partner, "ems");
}
