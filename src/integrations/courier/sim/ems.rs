//! The China Post EMS dialect: the open platform's `POST /api/open` with the three calls the
//! adapter makes (create `020003`, cancel `020006`, trace query `040001`), answered from the
//! simulator's state in EMS's envelope with each request opened with the sign key; EMS's trace
//! steps; and its pushes (`040002`), sealed as EMS seals them. Where EMS's behaviour is not
//! public it follows `ems::assumptions`, as the adapter does.

use chrono::{DateTime, Utc};
use poem::Response;
use rand::Rng as _;
use serde_json::{Value, json};

use super::{CourierSimulator, Dialect, NewOrder, OrderState, Placed, Step};
use crate::integrations::courier::ems::{
    API_CANCEL_ORDER, API_CREATE_ORDER, API_QUERY_TRACES, RET_BUSINESS, RET_OK, VERSION,
    assumptions, open, seal_push,
};
use crate::integrations::courier::wire::{form_decode_bytes, format_china_time, parse_china_time};

/// The account the simulated EMS knows.
#[derive(Debug, Clone)]
pub struct EmsCredentials {
    pub sender_no: String,
    pub authorization: String,
    /// Base64 of the 16-byte SM4 key.
    pub sign_key: String,
}

#[async_trait::async_trait]
impl Dialect for EmsCredentials {
    fn api_path(&self) -> &'static str {
        "/api/open"
    }

    fn handle(&self, sim: &CourierSimulator, body: &[u8]) -> Response {
        Ems { sim, account: self }.handle(body)
    }

    fn platform_error(&self, code: &str) -> Response {
        envelope(code, "系统繁忙，请稍后重试", None)
    }

    fn busy_code(&self) -> &'static str {
        "S00001"
    }

    fn new_waybill(&self) -> String {
        format!(
            "1{}",
            rand::thread_rng().gen_range(100_000_000_000u64..1_000_000_000_000)
        )
    }

    fn step(&self, index: usize, from: &str, to: &str) -> Step {
        let (op_code, name, city, description) = match index {
            0 => ("203", "收寄", from, format!("【{from}揽投部】已收寄")),
            1 => (
                "389",
                "处理中心封车",
                from,
                format!("快件离开【{from}处理中心】"),
            ),
            2 => (
                "954",
                "邮件到达处理中心",
                to,
                format!("快件到达【{to}处理中心】"),
            ),
            3 => ("702", "投递邮件接收-下段", to, "快件正在派送中".to_string()),
            _ => (
                "704",
                "投递结果反馈-妥投",
                to,
                "已签收，感谢使用中国邮政".to_string(),
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
            "waybillNo": order.waybill_no,
            "orderNo": id.to_string(),
            "opTime": format_china_time(at),
            "opCode": step.op_code,
            "opName": step.name,
            "opDesc": step.description,
            "opOrgProvName": "",
            "opOrgCity": step.city,
            "opOrgCode": "23803100",
            "opOrgName": format!("{}邮政", step.city),
            "operatorNo": "11122234",
            "operatorName": "揽投员",
        })
    }

    fn op_code(&self, route: &Value) -> String {
        route["opCode"].as_str().unwrap_or_default().to_string()
    }

    fn waybill_of(&self, route: &Value) -> String {
        route["waybillNo"].as_str().unwrap_or_default().to_string()
    }

    async fn push(
        &self,
        http: &reqwest::Client,
        url: &str,
        routes: &[Value],
    ) -> (Option<u16>, bool) {
        // assumptions::PUSH_METHOD: one trace, sealed without the key appended.
        let trace = match routes {
            [one] => one.to_string(),
            many => Value::Array(many.to_vec()).to_string(),
        };
        let Some(sealed) = seal_push(&trace, &self.sign_key) else {
            return (None, false);
        };
        let body = json!({
            "logitcsInterface": sealed,
            "method": assumptions::PUSH_METHOD,
            "msgType": "0",
            "senderNo": "",
            "serialNo": uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
            "timeStamp": format_china_time(Utc::now()),
            "version": VERSION.to_lowercase(),
        });
        match http.post(url).json(&body).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                let accepted = status == 200 && answer["code"] == assumptions::PUSH_ACCEPTED;
                (Some(status), accepted)
            }
            Err(_) => (None, false),
        }
    }
}

/// One call being answered.
struct Ems<'a> {
    sim: &'a CourierSimulator,
    account: &'a EmsCredentials,
}

impl Ems<'_> {
    fn handle(&self, body: &[u8]) -> Response {
        let Some(fields) = form_decode_bytes(body) else {
            return refused("请求参数格式错误");
        };
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let (Some(api_code), Some(sender_no), Some(authorization), Some(sealed)) = (
            field("apiCode"),
            field("senderNo"),
            field("authorization"),
            field("logitcsInterface"),
        ) else {
            return refused("必填参数为空");
        };
        // assumptions::BAD_CREDENTIALS_MESSAGE: refused for good, not "system busy".
        if sender_no != self.account.sender_no || authorization != self.account.authorization {
            return refused(assumptions::BAD_CREDENTIALS_MESSAGE);
        }
        let Some(plain) = open(sealed, &self.account.sign_key) else {
            return refused(assumptions::BAD_CREDENTIALS_MESSAGE);
        };
        let Ok(msg) = serde_json::from_str::<Value>(&plain) else {
            return refused("报文格式错误");
        };
        match api_code {
            API_CREATE_ORDER => self.create_order(&msg),
            API_CANCEL_ORDER => self.cancel_order(&msg),
            API_QUERY_TRACES => self.query_traces(&msg),
            _ => refused("无此接口权限"),
        }
    }

    fn create_order(&self, msg: &Value) -> Response {
        // The create takes a list with one order.
        let order = match msg {
            Value::Array(list) => list.first().cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        let Some(order_id) = str_field(&order, "logisticsOrderNo") else {
            return refused("物流订单号不能为空");
        };
        let sender = order.get("sender").cloned().unwrap_or(Value::Null);
        let receiver = order.get("receiver").cloned().unwrap_or(Value::Null);
        for (who, label) in [(&sender, "寄件人"), (&receiver, "收件人")] {
            if str_field(who, "name").is_none() {
                return refused(&format!("{label}姓名不能为空"));
            }
            if str_field(who, "mobile").is_none() && str_field(who, "phone").is_none() {
                return refused(&format!("{label}电话不能为空"));
            }
            if str_field(who, "address").is_none() {
                return refused(&format!("{label}地址不能为空"));
            }
        }
        if order
            .pointer("/cargos/0/cargoName")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return refused("内件名称不能为空");
        }
        let placed = self.sim.place(NewOrder {
            order_id: order_id.clone(),
            from_city: str_field(&sender, "city").unwrap_or_else(|| "北京市".into()),
            to_city: str_field(&receiver, "city").unwrap_or_else(|| "杭州市".into()),
            pickup_from: str_field(&order, "pickupPreBeginTime").and_then(|t| parse_china_time(&t)),
        });
        let waybill_no = match placed {
            Placed::New { waybill_no } => waybill_no,
            // assumptions::DUPLICATE_MARKERS: a repeat answers the order it made.
            Placed::Existing {
                waybill_no,
                cancelled: false,
            } => waybill_no,
            Placed::Existing {
                cancelled: true, ..
            } => return refused("该订单已取消，请使用新的订单号"),
        };
        answered(json!({
            "logisticsOrderNo": order_id,
            "waybillNo": waybill_no,
            "routeCode": "571-01",
        }))
    }

    fn cancel_order(&self, msg: &Value) -> Response {
        let order_id = str_field(msg, "logisticsOrderNo");
        let waybill_no = str_field(msg, "waybillNo");
        if order_id.is_none() && waybill_no.is_none() {
            return refused("物流订单号不能为空");
        }
        let mut state = self.sim.state();
        let Some(order) = state.orders.iter_mut().find(|o| {
            Some(&o.order_id) == order_id.as_ref() || Some(&o.waybill_no) == waybill_no.as_ref()
        }) else {
            return refused("订单不存在");
        };
        // assumptions::CANCELLED_MARKERS: once collected, EMS keeps the parcel moving.
        if !order.cancelled && !order.routes.is_empty() {
            return refused("邮件已收寄，不能撤单");
        }
        order.cancelled = true;
        answered(Value::Null)
    }

    fn query_traces(&self, msg: &Value) -> Response {
        let Some(waybill_no) = str_field(msg, "waybillNo") else {
            return refused("邮件号不能为空");
        };
        let state = self.sim.state();
        // assumptions::ROUTE_QUERY_DIRECTION: an unknown waybill has no traces.
        let traces: Vec<Value> = state
            .orders
            .iter()
            .find(|o| o.waybill_no == waybill_no)
            .map(|o| o.routes.clone())
            .unwrap_or_default();
        answered(Value::Array(traces))
    }
}

fn str_field(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn envelope(code: &str, message: &str, body: Option<Value>) -> Response {
    let answer = json!({
        "serialNo": uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        "retCode": code,
        "retMsg": message,
        // EMS sends the business answer as a JSON string inside the JSON.
        "retBody": body.map(|b| b.to_string()),
        "retDate": format_china_time(Utc::now()),
        "success": code == RET_OK,
    });
    Response::builder()
        .content_type("application/json;charset=UTF-8")
        .body(answer.to_string())
}

fn answered(body: Value) -> Response {
    envelope(RET_OK, "成功", Some(body))
}

fn refused(message: &str) -> Response {
    envelope(RET_BUSINESS, message, None)
}
