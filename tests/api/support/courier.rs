//! The originals' road to the centre (leg 1) for tests that need it behind them: pickup slots,
//! a booking, and waiting for the in-process SF simulator to move the parcel.

use std::time::Duration;

use serde_json::{Value, json};

use super::TestApp;
use super::seeds::passed_case;
use super::wait::poll;

pub fn booking(date: &str, slot: &str) -> Value {
    json!({
        "address": {"province": "浙江省", "city": "杭州市", "district": "西湖区",
                    "detail": "文三路 100 号 3 幢 201 室", "contact_name": "张三",
                    "phone": "13800138000"},
        "window": {"date": date, "slot": slot}
    })
}

pub async fn slots(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app.get_as(token, "/v1/pickup-slots?city=杭州市").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["city"], "杭州市");
    body["items"].as_array().unwrap().clone()
}

/// Waits (up to 30 s) until `check` holds for the application's shipments.
pub async fn shipments_until(
    app: &TestApp,
    token: &str,
    id: &str,
    what: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let check = &check;
    poll(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async move {
            let body: Value = app
                .get_as(token, &format!("/v1/applications/{id}/shipments"))
                .await
                .json()
                .await
                .unwrap();
            let items = body["items"].as_array().unwrap().clone();
            if check(&items) { Ok(items) } else { Err(items) }
        },
    )
    .await
    .unwrap_or_else(|items| panic!("{what}: {items:#?}"))
}

/// A passed case whose originals the simulated courier delivered to the centre.
pub async fn arrived_case(app: &TestApp, name: &str) -> (String, String) {
    let (token, id) = passed_case(app, name).await;
    deliver_originals(app, &token, &id).await;
    (token, id)
}

/// Books the pickup of a passed case's originals and waits until the simulated courier has
/// delivered them to the centre.
pub async fn deliver_originals(app: &TestApp, token: &str, id: &str) {
    let first = slots(app, token).await[0].clone();
    let body = booking(
        first["date"].as_str().unwrap(),
        first["slot"].as_str().unwrap(),
    );
    let booked = app
        .post_as(token, &format!("/v1/applications/{id}/pickup"), &body)
        .await;
    assert_eq!(booked.status(), 201);
    shipments_until(app, token, id, "originals delivered", |items| {
        items
            .iter()
            .any(|s| s["leg"] == "materials" && s["status"] == "delivered")
    })
    .await;
}

/// Enqueues the dispatch batch job as the cut-off would (`tag` keeps each test's job apart).
pub async fn dispatch_now(app: &TestApp, tag: &str) {
    let job = beebox::store::jobs::NewJob::of(&beebox::courier::dispatch::DispatchBatches {
        cutoff: chrono::Utc::now(),
    })
    .deduped_by(format!("test:{tag}:dispatch"));
    beebox::store::jobs::enqueue(app.state.database().unwrap(), job)
        .await
        .unwrap();
}
