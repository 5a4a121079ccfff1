//! The SF Express dialect: `POST /std/service` with SF's four services (create, cancel, search
//! an order, search routes) answered from the simulator's state in SF's envelope, SF's route
//! steps, and its pushes, signed with `msgDigest` as SF signs them.

use chrono::{DateTime, Utc};
use poem::Response;
use rand::Rng as _;
use serde_json::{Value, json};

use super::{CourierSimulator, Dialect, NewOrder, OrderState, Placed, Step};
use crate::integrations::courier::sf::{
    SERVICE_CREATE_ORDER, SERVICE_ROUTE_PUSH, SERVICE_SEARCH_ORDER, SERVICE_SEARCH_ROUTES,
    SERVICE_UPDATE_ORDER, msg_digest,
};
use crate::integrations::courier::wire::{form_decode_bytes, format_china_time, parse_china_time};

/// SF's route queries take at most this many tracking numbers (8003 beyond).
const MAX_QUERY: usize = 10;

/// The account the simulated SF knows.
#[derive(Debug, Clone)]
pub struct SfCredentials {
    pub partner_id: String,
    pub check_word: String,
}

#[async_trait::async_trait]
impl Dialect for SfCredentials {
    fn api_path(&self) -> &'static str {
        "/std/service"
    }

    fn handle(&self, sim: &CourierSimulator, body: &[u8]) -> Response {
        Sf { sim, account: self }.handle(body)
    }

    fn platform_error(&self, code: &str) -> Response {
        platform_error(code, "simulated failure")
    }

    fn busy_code(&self) -> &'static str {
        "A1099"
    }

    fn new_waybill(&self) -> String {
        format!(
            "SF{}",
            rand::thread_rng().gen_range(1_000_000_000_000u64..10_000_000_000_000)
        )
    }

    fn step(&self, index: usize, from: &str, to: &str) -> Step {
        let (op_code, name, city, description) = match index {
            0 => ("50", "收件", from, "顺丰速运 已收取快件".to_string()),
            1 => (
                "30",
                "分拣",
                from,
                format!("快件在【{from}集散中心】完成分拣，准备发往下一站"),
            ),
            2 => ("31", "到达", to, format!("快件到达 【{to}集散中心】")),
            3 => (
                "44",
                "派件",
                to,
                "快件交给顺丰小哥，正在派送途中".to_string(),
            ),
            _ => (
                "80",
                "签收",
                to,
                "已签收，感谢使用顺丰，期待再次为您服务".to_string(),
            ),
        };
        Step {
            op_code,
            name,
            city: city.to_string(),
            description,
        }
    }

    fn route(&self, order: &OrderState, step: &Step, at: DateTime<Utc>, id: u64) -> Value {
        json!({
            "mailno": order.waybill_no,
            "acceptAddress": step.city,
            "reasonName": "",
            "orderid": order.order_id,
            "acceptTime": format_china_time(at),
            "remark": step.description,
            "opCode": step.op_code,
            "id": id.to_string(),
            "reasonCode": "",
        })
    }

    fn op_code(&self, route: &Value) -> String {
        route["opCode"].as_str().unwrap_or_default().to_string()
    }

    fn waybill_of(&self, route: &Value) -> String {
        route["mailno"].as_str().unwrap_or_default().to_string()
    }

    async fn push(
        &self,
        http: &reqwest::Client,
        url: &str,
        routes: &[Value],
    ) -> (Option<u16>, bool) {
        let msg_data = json!({"Body": {"WaybillRoute": routes}}).to_string();
        let timestamp = Utc::now().timestamp_millis().to_string();
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let digest = msg_digest(&msg_data, &timestamp, &self.check_word);
        let result = http
            .post(url)
            .form(&[
                ("partnerID", self.partner_id.as_str()),
                ("requestID", request_id.as_str()),
                ("serviceCode", SERVICE_ROUTE_PUSH),
                ("timestamp", timestamp.as_str()),
                ("msgDigest", digest.as_str()),
                ("msgData", msg_data.as_str()),
            ])
            .send()
            .await;
        match result {
            Ok(response) => {
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (Some(status), status == 200 && body["return_code"] == "0000")
            }
            Err(_) => (None, false),
        }
    }
}

/// One call being answered.
struct Sf<'a> {
    sim: &'a CourierSimulator,
    account: &'a SfCredentials,
}

impl Sf<'_> {
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
        if partner != self.account.partner_id {
            return platform_error("A1004", "无对应服务权限");
        }
        if msg_digest(msg_data, timestamp, &self.account.check_word) != digest {
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

        let placed = self.sim.place(NewOrder {
            order_id: order_id.clone(),
            from_city: str_field(&sender, "city").unwrap_or_else(|| "深圳市".into()),
            to_city: str_field(&recipient, "city").unwrap_or_else(|| "杭州市".into()),
            pickup_from: str_field(msg, "sendStartTm").and_then(|t| parse_china_time(&t)),
        });
        let waybill_no = match placed {
            Placed::New { waybill_no } => waybill_no,
            // SF refuses any orderId it has seen, a cancelled one included.
            Placed::Existing { .. } => return refused("8016", "重复下单"),
        };
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
        let mut state = self.sim.state();
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
        let state = self.sim.state();
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
        let state = self.sim.state();
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
