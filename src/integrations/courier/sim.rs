//! A local SF Express: the open platform's protocol from SF's side, so dev and the tests run the
//! real adapter with no outside network. It checks partnerID and `msgDigest`, issues waybills,
//! moves each parcel along its route on a clock and pushes every step, signed, to `push_url`.
//! Tests and demos script its faults through Rust methods or `POST /control`. It is a stand-in:
//! prod never mounts it (config refuses the dev credentials it runs with).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{EndpointExt, IntoResponse, Response, Route, handler, post};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::sf::{
    SERVICE_CREATE_ORDER, SERVICE_ROUTE_PUSH, SERVICE_SEARCH_ORDER, SERVICE_SEARCH_ROUTES,
    SERVICE_UPDATE_ORDER, form_decode_bytes, format_china_time, msg_digest,
};

/// SF gives up on a push after this many failed tries.
const MAX_PUSH_TRIES: u32 = 3;
/// Longer than any client timeout: a "timeout" fault answers only after this.
const HANG: Duration = Duration::from_secs(30);
/// SF's route queries take at most this many tracking numbers (8003 beyond).
const MAX_QUERY: usize = 10;

#[derive(Debug, Clone)]
pub struct SimSettings {
    pub partner_id: String,
    pub check_word: String,
    /// Where route pushes go (our webhook, with its secret).
    pub push_url: String,
    /// Time between route steps of a parcel.
    pub step: std::time::Duration,
}

/// A scripted failure, used up by one API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimFault {
    /// This HTTP status with no SF envelope (a gateway in the way).
    Http(u16),
    /// No answer until the client gives up; nothing is done.
    Timeout,
    /// This platform `apiResultCode` (`A1099`, `A1005`, `A1006`...); nothing is done.
    ApiCode(String),
    /// The call is carried out, then no answer comes: a retry meets the order it created.
    LoseAnswer,
}

/// How route pushes leave the simulator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushMode {
    /// Wait this long before each push.
    pub delay: Duration,
    /// Push every step twice.
    pub duplicate: bool,
    /// Hold the steps back and push them last-first once the parcel is delivered.
    pub reorder: bool,
    /// Push nothing: only a route query finds the steps.
    pub drop: bool,
}

/// An order as the simulator holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimOrder {
    pub order_id: String,
    pub waybill_no: String,
    pub cancelled: bool,
    /// Every `EXP_RECE_CREATE_ORDER` call with this orderId, refused repeats included.
    pub create_calls: u32,
    /// Route steps so far (0 = not yet picked up, 5 = delivered).
    pub steps_done: usize,
}

/// One try to deliver a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushAttempt {
    pub waybill_no: String,
    pub op_codes: Vec<String>,
    /// 1 for the first try of this push.
    pub attempt: u32,
    /// Our webhook answered 200 with `return_code` 0000.
    pub accepted: bool,
    /// The HTTP status, `None` when the request failed.
    pub status: Option<u16>,
}

#[derive(Clone)]
pub struct SfSimulator {
    shared: Arc<Shared>,
}

struct Shared {
    settings: SimSettings,
    http: reqwest::Client,
    state: Mutex<State>,
}

struct State {
    orders: Vec<OrderState>,
    faults: VecDeque<SimFault>,
    mode: PushMode,
    frozen: bool,
    retry_interval: Duration,
    pushes: Vec<PushAttempt>,
    next_route_id: u64,
}

struct OrderState {
    order_id: String,
    waybill_no: String,
    cancelled: bool,
    create_calls: u32,
    from_city: String,
    to_city: String,
    /// Each step as SF pushes it (with `id`, `mailno`, `orderid`).
    routes: Vec<Value>,
    /// Steps held back in reorder mode.
    held: Vec<Value>,
    last_at: Option<DateTime<Utc>>,
    pusher: mpsc::UnboundedSender<PushJob>,
}

struct PushJob {
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

impl SfSimulator {
    pub fn new(settings: SimSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client");
        let state = State {
            orders: Vec::new(),
            faults: VecDeque::new(),
            mode: PushMode::default(),
            frozen: false,
            retry_interval: Duration::from_secs(1),
            pushes: Vec::new(),
            next_route_id: 158_918_741_000_000 + rand::thread_rng().gen_range(0..1_000_000),
        };
        Self {
            shared: Arc::new(Shared {
                settings,
                http,
                state: Mutex::new(state),
            }),
        }
    }

    /// The simulator's HTTP side, to mount at `crate::courier::SIM_MOUNT`: `POST /std/service`
    /// (SF's API), `POST /control` (scripting, see [`Control`]) and `GET /control` (state).
    pub fn routes(&self) -> poem::Route {
        Route::new()
            .at("/std/service", post(api).data(self.clone()))
            .at(
                "/control",
                post(control).get(control_state).data(self.clone()),
            )
    }

    /// The next `count` API calls fail with `fault`.
    pub fn fail_next(&self, count: usize, fault: SimFault) {
        let mut state = self.state();
        state.faults.extend(std::iter::repeat_n(fault, count));
    }

    pub fn set_push_mode(&self, mode: PushMode) {
        self.state().mode = mode;
    }

    /// How long SF waits before trying a refused push again.
    pub fn set_push_retry_interval(&self, interval: Duration) {
        self.state().retry_interval = interval;
    }

    /// Stops (or restarts) the clock; `advance` still moves parcels by hand.
    pub fn freeze(&self, frozen: bool) {
        self.state().frozen = frozen;
    }

    /// Moves a parcel one step now, pushing it as the mode says. Its opCode, or `None` when the
    /// waybill is unknown, cancelled or delivered.
    pub fn advance(&self, waybill_no: &str) -> Option<String> {
        let mut state = self.state();
        let index = state
            .orders
            .iter()
            .position(|o| o.waybill_no == waybill_no)?;
        advance_locked(&mut state, index)
    }

    pub fn orders(&self) -> Vec<SimOrder> {
        self.state()
            .orders
            .iter()
            .map(|o| SimOrder {
                order_id: o.order_id.clone(),
                waybill_no: o.waybill_no.clone(),
                cancelled: o.cancelled,
                create_calls: o.create_calls,
                steps_done: o.routes.len(),
            })
            .collect()
    }

    /// Every push attempt so far, in the order they were made.
    pub fn pushes(&self) -> Vec<PushAttempt> {
        self.state().pushes.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state()
    }

    /// Carries out one API call as SF would (no faults here).
    fn handle(&self, body: &[u8]) -> Response {
        let Some(fields) = form_decode_bytes(body) else {
            return platform_error("A1001", "必传参数不可为空");
        };
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let (Some(partner), Some(service), Some(timestamp), Some(digest), Some(msg_data)) = (
            field("partnerID"),
            field("serviceCode"),
            field("timestamp"),
            field("msgDigest"),
            field("msgData"),
        ) else {
            return platform_error("A1001", "必传参数不可为空");
        };
        let settings = &self.shared.settings;
        if partner != settings.partner_id {
            return platform_error("A1004", "无对应服务权限");
        }
        if msg_digest(msg_data, timestamp, &settings.check_word) != digest {
            return platform_error("A1006", "数字签名无效");
        }
        let Ok(msg) = serde_json::from_str::<Value>(msg_data) else {
            return refused("S0001", "非法的JSON格式");
        };
        match service {
            SERVICE_CREATE_ORDER => self.create_order(&msg),
            SERVICE_UPDATE_ORDER => self.update_order(&msg),
            SERVICE_SEARCH_ORDER => self.search_order(&msg),
            SERVICE_SEARCH_ROUTES => self.search_routes(&msg),
            _ => platform_error("A1004", "无对应服务权限"),
        }
    }

    fn create_order(&self, msg: &Value) -> Response {
        let Some(order_id) = str_field(msg, "orderId") else {
            return refused("S0002", "必填参数为空");
        };
        let contacts = msg
            .get("contactInfoList")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let contact = |kind: i64| {
            contacts
                .iter()
                .find(|c| c.get("contactType").and_then(Value::as_i64) == Some(kind))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let (sender, recipient) = (contact(1), contact(2));
        // SF's own checks and codes: 1010-1012 sender, 1014-1016 recipient, 1023 cargo.
        for (who, codes) in [
            (&sender, ["1010", "1011", "1012"]),
            (&recipient, ["1014", "1015", "1016"]),
        ] {
            if str_field(who, "address").is_none() {
                return refused(codes[0], "地址不能为空");
            }
            if str_field(who, "contact").is_none() {
                return refused(codes[1], "联系人不能为空");
            }
            if str_field(who, "mobile").is_none() && str_field(who, "tel").is_none() {
                return refused(codes[2], "电话不能为空");
            }
        }
        if msg
            .pointer("/cargoDetails/0/name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return refused("1023", "拖寄物品名不能为空");
        }

        let mut state = self.state();
        // SF refuses any orderId it has seen, a cancelled one included.
        if let Some(existing) = state.orders.iter_mut().find(|o| o.order_id == order_id) {
            existing.create_calls += 1;
            return refused("8016", "重复下单");
        }
        let waybill_no = loop {
            let candidate = format!(
                "SF{}",
                rand::thread_rng().gen_range(1_000_000_000_000u64..10_000_000_000_000)
            );
            if !state.orders.iter().any(|o| o.waybill_no == candidate) {
                break candidate;
            }
        };
        let (pusher, jobs) = mpsc::unbounded_channel();
        state.orders.push(OrderState {
            order_id: order_id.clone(),
            waybill_no: waybill_no.clone(),
            cancelled: false,
            create_calls: 1,
            from_city: str_field(&sender, "city").unwrap_or_else(|| "深圳市".into()),
            to_city: str_field(&recipient, "city").unwrap_or_else(|| "杭州市".into()),
            routes: Vec::new(),
            held: Vec::new(),
            last_at: None,
            pusher,
        });
        drop(state);
        // The parcel's clock and its push queue live as long as the simulator does (they hold
        // it weakly); a push queue per parcel keeps its pushes in order.
        let weak = Arc::downgrade(&self.shared);
        tokio::spawn(run_pusher(weak.clone(), jobs));
        tokio::spawn(run_clock(
            weak,
            waybill_no.clone(),
            self.shared.settings.step,
        ));
        answered(order_answer(&order_id, &waybill_no))
    }

    fn update_order(&self, msg: &Value) -> Response {
        let Some(order_id) = str_field(msg, "orderId") else {
            return refused("S0002", "必填参数为空");
        };
        let deal_type = msg.get("dealType").and_then(|d| {
            d.as_i64()
                .or_else(|| d.as_str().and_then(|s| s.parse().ok()))
        });
        let mut state = self.state();
        let Some(order) = state.orders.iter_mut().find(|o| o.order_id == order_id) else {
            return refused("8018", "未获取到订单信息");
        };
        match deal_type {
            // 1 confirms an order; nothing to do here.
            Some(1) => {}
            Some(2) if order.cancelled => return refused("8037", "订单已消单"),
            // Once collected the parcel moves on; SF's 8168 names that state for child waybills.
            Some(2) if !order.routes.is_empty() => {
                return refused("8168", "订单已生成路由，不能取消");
            }
            Some(2) => order.cancelled = true,
            _ => return refused("S0002", "必填参数为空"),
        }
        let mut answer = order_answer(&order.order_id, &order.waybill_no);
        answer["resStatus"] = json!(2);
        answered(answer)
    }

    fn search_order(&self, msg: &Value) -> Response {
        let Some(order_id) = str_field(msg, "orderId") else {
            return refused("S0002", "必填参数为空");
        };
        let state = self.state();
        match state.orders.iter().find(|o| o.order_id == order_id) {
            None => refused("8018", "未获取到订单信息"),
            Some(order) if order.cancelled => refused("8037", "订单已消单"),
            Some(order) => answered(order_answer(&order.order_id, &order.waybill_no)),
        }
    }

    fn search_routes(&self, msg: &Value) -> Response {
        let numbers: Vec<String> = match msg.get("trackingNumber") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
            _ => Vec::new(),
        };
        let numbers: Vec<String> = numbers.into_iter().filter(|n| !n.is_empty()).collect();
        if numbers.is_empty() {
            return refused("8013", "未传入查询单号");
        }
        if numbers.len() > MAX_QUERY {
            return refused("8003", "查询单号超过最大限制");
        }
        // trackingType 1: by waybill; 2: by our order id.
        let by_order = msg.get("trackingType").and_then(|t| {
            t.as_str()
                .map(String::from)
                .or_else(|| t.as_i64().map(|n| n.to_string()))
        }) == Some("2".into());
        let state = self.state();
        let resps: Vec<Value> = numbers
            .iter()
            .map(|number| {
                let order = state
                    .orders
                    .iter()
                    .find(|o| (if by_order { &o.order_id } else { &o.waybill_no }) == number);
                let routes: Vec<Value> = order
                    .map(|o| o.routes.iter().map(queried_route).collect())
                    .unwrap_or_default();
                let mail_no = order.map_or(number.clone(), |o| o.waybill_no.clone());
                json!({"mailNo": mail_no, "routes": routes})
            })
            .collect();
        answered(json!({"routeResps": resps}))
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Adds the next step to a parcel and queues its pushes. `None` when there is no next step.
fn advance_locked(state: &mut State, index: usize) -> Option<String> {
    let route_id = state.next_route_id;
    let mode = state.mode.clone();
    let order = &mut state.orders[index];
    if order.cancelled || order.routes.len() >= STEPS {
        return None;
    }
    let (op_code, address, remark) = step(order.routes.len(), &order.from_city, &order.to_city);
    // Whole seconds that always move forward, as SF's acceptTime does.
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now);
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

async fn run_clock(shared: Weak<Shared>, waybill_no: String, step: Duration) {
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
        if !state.frozen {
            advance_locked(&mut state, index);
        }
    }
}

async fn run_pusher(shared: Weak<Shared>, mut jobs: mpsc::UnboundedReceiver<PushJob>) {
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

/// A pushed step as the route query shows it: no push id, no waybill, no order id.
fn queried_route(route: &Value) -> Value {
    json!({
        "acceptAddress": route["acceptAddress"],
        "acceptTime": route["acceptTime"],
        "remark": route["remark"],
        "opCode": route["opCode"],
    })
}

fn order_answer(order_id: &str, waybill_no: &str) -> Value {
    json!({
        "orderId": order_id,
        "originCode": "755",
        "destCode": "571",
        "filterResult": 2,
        "remark": "",
        "waybillNoInfoList": [{"waybillType": 1, "waybillNo": waybill_no}],
    })
}

fn str_field(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn envelope(code: &str, message: &str, data: Option<Value>) -> Response {
    let body = json!({
        "apiErrorMsg": message,
        "apiResponseID": uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        "apiResultCode": code,
        // SF sends the business answer as a JSON string inside the JSON.
        "apiResultData": data.map(|d| d.to_string()),
    });
    Response::builder()
        .content_type("application/json;charset=UTF-8")
        .body(body.to_string())
}

fn platform_error(code: &str, message: &str) -> Response {
    envelope(code, message, None)
}

fn answered(msg_data: Value) -> Response {
    envelope(
        "A1000",
        "",
        Some(json!({"success": true, "errorCode": "S0000", "errorMsg": null, "msgData": msg_data})),
    )
}

fn refused(code: &str, message: &str) -> Response {
    envelope(
        "A1000",
        "",
        Some(json!({"success": false, "errorCode": code, "errorMsg": message, "msgData": null})),
    )
}

#[handler]
async fn api(Data(sim): Data<&SfSimulator>, body: poem::Body) -> Response {
    let Ok(body) = body.into_bytes().await else {
        return platform_error("A1001", "必传参数不可为空");
    };
    let fault = sim.state().faults.pop_front();
    match fault {
        None => sim.handle(&body),
        Some(SimFault::Http(status)) => Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .content_type("text/html")
            .body("<html><body>upstream error</body></html>"),
        Some(SimFault::ApiCode(code)) => platform_error(&code, "simulated failure"),
        Some(SimFault::Timeout) => {
            tokio::time::sleep(HANG).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(SimFault::LoseAnswer) => {
            let _ = sim.handle(&body);
            tokio::time::sleep(HANG).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

/// `POST /control` bodies, e.g. `{"action":"fail_next","count":2,"fault":"http","status":500}`,
/// `{"action":"push_mode","reorder":true}`, `{"action":"freeze","frozen":true}`,
/// `{"action":"advance","waybill":"SF1234567890123"}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Control {
    FailNext {
        count: usize,
        /// `http` (with `status`), `timeout`, `api_code` (with `code`) or `lose_answer`.
        fault: String,
        status: Option<u16>,
        code: Option<String>,
    },
    PushMode {
        #[serde(default)]
        delay_ms: u64,
        #[serde(default)]
        duplicate: bool,
        #[serde(default)]
        reorder: bool,
        #[serde(default)]
        drop: bool,
    },
    Freeze {
        frozen: bool,
    },
    Advance {
        waybill: String,
    },
}

#[handler]
async fn control(Data(sim): Data<&SfSimulator>, Json(command): Json<Control>) -> Response {
    let answer = match command {
        Control::FailNext {
            count,
            fault,
            status,
            code,
        } => {
            let fault = match (fault.as_str(), status, code) {
                ("http", status, _) => SimFault::Http(status.unwrap_or(500)),
                ("timeout", _, _) => SimFault::Timeout,
                ("api_code", _, code) => SimFault::ApiCode(code.unwrap_or_else(|| "A1099".into())),
                ("lose_answer", _, _) => SimFault::LoseAnswer,
                _ => return StatusCode::BAD_REQUEST.into_response(),
            };
            sim.fail_next(count, fault);
            json!({"ok": true})
        }
        Control::PushMode {
            delay_ms,
            duplicate,
            reorder,
            drop,
        } => {
            sim.set_push_mode(PushMode {
                delay: Duration::from_millis(delay_ms),
                duplicate,
                reorder,
                drop,
            });
            json!({"ok": true})
        }
        Control::Freeze { frozen } => {
            sim.freeze(frozen);
            json!({"ok": true})
        }
        Control::Advance { waybill } => json!({"ok": true, "op_code": sim.advance(&waybill)}),
    };
    Json(answer).into_response()
}

#[handler]
async fn control_state(Data(sim): Data<&SfSimulator>) -> Json<Value> {
    Json(json!({"orders": sim.orders(), "pushes": sim.pushes()}))
}

/// `beebox courier-sim`: the simulator on its own server, SF's API at `http://{addr}/std/service`.
pub async fn serve_standalone(settings: SimSettings, addr: SocketAddr) -> anyhow::Result<()> {
    let simulator = SfSimulator::new(settings);
    tracing::info!(%addr, "SF simulator: POST /std/service, POST|GET /control");
    poem::Server::new(poem::listener::TcpListener::bind(addr))
        .run(simulator.routes())
        .await
        .context("the SF simulator server stopped")
}
