//! SF Express as the app meets it: route pushes signed as SF signs them, posted to the webhook
//! and answered in SF's format, and the in-process simulator that dev runs, on an app whose
//! simulator clock is stopped.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use beebox::integrations::courier::partners::DEV_SF_PARTNER_ID;
use beebox::integrations::courier::sf::{SERVICE_ROUTE_PUSH, msg_digest};
use beebox::integrations::courier::sim::CourierSimulator;
use beebox::integrations::courier::wire::format_china_time;
use beebox::integrations::courier::{Contact, OrderRequest};
use beebox::store::shipments::{self, shipment};

use super::shipments::db;
use super::{TestApp, spawn_app_with};

pub const PHONE: &str = "13812345678";
pub const DETAIL: &str = "文三路 90 号 1 幢 101 室";

/// A sender or recipient in Hangzhou.
pub fn contact(name: &str, city: &str) -> Contact {
    Contact {
        name: name.into(),
        phone: PHONE.into(),
        province: "浙江省".into(),
        city: city.into(),
        district: "西湖区".into(),
        detail: DETAIL.into(),
    }
}

pub const WEBHOOK: &str = "/v1/webhooks/courier/sf";

/// The app's `/metrics` text.
pub async fn metrics(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

/// A push form as SF sends it, signed with `check_word` now.
pub fn signed_push(msg_data: &str, check_word: &str) -> Vec<(&'static str, String)> {
    signed_push_at(msg_data, check_word, Utc::now())
}

/// A push form as SF sends it, signed with `check_word` at `signed_at`.
pub fn signed_push_at(
    msg_data: &str,
    check_word: &str,
    signed_at: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    signed_push_from(DEV_SF_PARTNER_ID, msg_data, check_word, signed_at)
}

/// A push form as SF sends it for `partner`, signed with `check_word` at `signed_at`.
pub fn signed_push_from(
    partner: &str,
    msg_data: &str,
    check_word: &str,
    signed_at: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let timestamp = signed_at.timestamp_millis().to_string();
    vec![
        ("partnerID", partner.to_string()),
        ("requestID", Uuid::new_v4().simple().to_string()),
        ("serviceCode", SERVICE_ROUTE_PUSH.to_string()),
        ("msgDigest", msg_digest(msg_data, &timestamp, check_word)),
        ("timestamp", timestamp),
        ("msgData", msg_data.to_string()),
    ]
}

/// A route push's `msgData`: one route per `(opCode, time)` step of `waybill`.
pub fn route_push(waybill: &str, steps: &[(&str, DateTime<Utc>)]) -> String {
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

/// Posts a push form to the webhook, with `query` (`?secret=...`) after its path.
pub async fn post_push(
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

/// Asserts an answer in SF's own JSON format: its status and `return_code`.
pub async fn sf_answer(response: reqwest::Response, status: u16, code: &str) {
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

/// The in-process SF simulator the dev profile runs.
pub fn simulator(app: &TestApp) -> &CourierSimulator {
    app.state
        .couriers
        .simulator("sf")
        .expect("dev runs the SF simulator")
}

/// Places the shipment's order at the simulator and records its waybill, as the order job does.
pub async fn order_at_simulator(app: &TestApp, row: &shipment::Model) -> String {
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
pub async fn spawn_quiet_app(reconcile_after_hours: u64) -> TestApp {
    spawn_app_with(|c| {
        c.courier.sf.sim_step_ms = 3_600_000;
        c.courier.reconcile_after_hours = reconcile_after_hours;
        // No scheduled reconciliation racing the test's own.
        c.jobs.worker = false;
    })
    .await
}
