//! The route clock: each parcel's next step on a timer (or by hand), and the per-parcel push
//! queue that delivers every step, signed, to `push_url` with SF's three tries.

use std::sync::Weak;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{PushAttempt, Shared, State};
use crate::integrations::courier::sf::{SERVICE_ROUTE_PUSH, format_china_time, msg_digest};

/// SF gives up on a push after this many failed tries.
const MAX_PUSH_TRIES: u32 = 3;

pub(super) struct PushJob {
    routes: Vec<Value>,
    copies: u32,
    delay: Duration,
}

/// The route every parcel takes: opCode and remark.
const STEPS: usize = 5;
fn step(index: usize, from: &str, to: &str) -> (&'static str, String, String) {
    match index {
        0 => ("50", from.into(), "顺丰速运 已收取快件".into()),
        1 => (
            "30",
            from.into(),
            format!("快件在【{from}集散中心】完成分拣，准备发往下一站"),
        ),
        2 => ("31", to.into(), format!("快件到达 【{to}集散中心】")),
        3 => ("44", to.into(), "快件交给顺丰小哥，正在派送途中".into()),
        _ => (
            "80",
            to.into(),
            "已签收，感谢使用顺丰，期待再次为您服务".into(),
        ),
    }
}

/// Adds the next step to a parcel and queues its pushes. `None` when there is no next step.
pub(super) fn advance_locked(state: &mut State, index: usize) -> Option<String> {
    let route_id = state.next_route_id;
    let mode = state.mode.clone();
    let sim_now = state.now();
    let order = &mut state.orders[index];
    if order.cancelled || order.routes.len() >= STEPS {
        return None;
    }
    let (op_code, address, remark) = step(order.routes.len(), &order.from_city, &order.to_city);
    // Whole seconds that always move forward, as SF's acceptTime does.
    let now = DateTime::from_timestamp(sim_now.timestamp(), 0).unwrap_or(sim_now);
    let at = match order.last_at {
        Some(last) if now <= last => last + chrono::Duration::seconds(1),
        _ => now,
    };
    order.last_at = Some(at);
    let route = json!({
        "mailno": order.waybill_no,
        "acceptAddress": address,
        "reasonName": "",
        "orderid": order.order_id,
        "acceptTime": format_china_time(at),
        "remark": remark,
        "opCode": op_code,
        "id": route_id.to_string(),
        "reasonCode": "",
    });
    order.routes.push(route.clone());
    let delivered = order.routes.len() == STEPS;
    let to_push: Vec<Value> = if mode.drop {
        Vec::new()
    } else if mode.reorder {
        order.held.push(route);
        if delivered {
            order.held.drain(..).rev().collect()
        } else {
            Vec::new()
        }
    } else {
        order.held.drain(..).chain(std::iter::once(route)).collect()
    };
    for route in to_push {
        // A closed queue means the simulator is going away; the step is kept for queries.
        let _ = order.pusher.send(PushJob {
            routes: vec![route],
            copies: if mode.duplicate { 2 } else { 1 },
            delay: mode.delay,
        });
    }
    state.next_route_id += 1;
    Some(op_code.to_string())
}

pub(super) async fn run_clock(
    shared: Weak<Shared>,
    waybill_no: String,
    step: Duration,
    skip_pickup_wait: bool,
) {
    let step = step.max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(step).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut state = shared.state();
        let Some(index) = state.orders.iter().position(|o| o.waybill_no == waybill_no) else {
            return;
        };
        let order = &state.orders[index];
        if order.cancelled || order.routes.len() >= STEPS {
            return;
        }
        // The courier comes in the booked window: nothing moves before it opens.
        let waiting = !skip_pickup_wait
            && order.routes.is_empty()
            && order.pickup_from.is_some_and(|from| state.now() < from);
        if !state.frozen && !waiting {
            advance_locked(&mut state, index);
        }
    }
}

pub(super) async fn run_pusher(shared: Weak<Shared>, mut jobs: mpsc::UnboundedReceiver<PushJob>) {
    while let Some(job) = jobs.recv().await {
        if !job.delay.is_zero() {
            tokio::time::sleep(job.delay).await;
        }
        for _ in 0..job.copies {
            deliver(&shared, &job.routes).await;
        }
    }
}

/// One push, tried up to three times as SF does.
async fn deliver(shared: &Weak<Shared>, routes: &[Value]) {
    let msg_data = json!({"Body": {"WaybillRoute": routes}}).to_string();
    let waybill_no = routes
        .first()
        .and_then(|r| r.get("mailno"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let op_codes: Vec<String> = routes
        .iter()
        .filter_map(|r| r.get("opCode").and_then(Value::as_str).map(String::from))
        .collect();
    for attempt in 1..=MAX_PUSH_TRIES {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let settings = &shared.settings;
        let timestamp = Utc::now().timestamp_millis().to_string();
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let digest = msg_digest(&msg_data, &timestamp, &settings.check_word);
        let result = shared
            .http
            .post(&settings.push_url)
            .form(&[
                ("partnerID", settings.partner_id.as_str()),
                ("requestID", request_id.as_str()),
                ("serviceCode", SERVICE_ROUTE_PUSH),
                ("timestamp", timestamp.as_str()),
                ("msgDigest", digest.as_str()),
                ("msgData", msg_data.as_str()),
            ])
            .send()
            .await;
        let (status, accepted) = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (Some(status), status == 200 && body["return_code"] == "0000")
            }
            Err(_) => (None, false),
        };
        let interval = {
            let mut state = shared.state();
            state.pushes.push(PushAttempt {
                waybill_no: waybill_no.clone(),
                op_codes: op_codes.clone(),
                attempt,
                accepted,
                status,
            });
            state.retry_interval
        };
        if accepted || attempt == MAX_PUSH_TRIES {
            return;
        }
        drop(shared);
        tokio::time::sleep(interval).await;
    }
}
