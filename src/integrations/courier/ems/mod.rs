//! China Post EMS (中国邮政速递物流), the 协议客户 open platform: orders (`020003`), cancellation
//! (`020006`) and trace queries (`040001`) over one form-POST endpoint, and the trace pushes
//! (`040002`) EMS sends us. The authorization code, the sign key, addresses and phone numbers
//! never go into an error, a log line or a trace; EMS's error text is scrubbed of digit runs.
//!
//! Protocol notes. EMS's documentation needs a customer login; the envelope, the fields and the
//! seal below are what published client code for the platform sends and reads, and the seal
//! is checked against the sample of EMS's own signing tool (`protocol`):
//! - a call is a form of `apiCode`, `senderNo` (协议客户号), `authorization` (授权码), `msgType`
//!   (0: JSON), `timeStamp` (`yyyy-MM-dd HH:mm:ss`, China time), `version` and
//!   `logitcsInterface`, the sealed business JSON;
//! - the answer is `{serialNo, retCode, retMsg, retBody, retDate, success}`: `00000` done,
//!   `S00001` EMS's failure (retried), `B00001` a refusal (final); `retBody` may be a JSON string;
//! - the create takes a list with one order (`logisticsOrderNo` is ours, `waybillNo` comes back),
//!   cancel and the trace query take one object each.
//!
//! What the public material leaves open is in `assumptions`, which the simulator follows too.

pub mod assumptions;
mod protocol;
mod push;

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use crate::integrations::courier::wire::{
    HttpFailure, answer_body, derived_event_id, format_china_time, is_mobile, parse_china_time,
    scrub, text,
};
use crate::integrations::courier::{
    Contact, CourierError, CourierPartner, OrderCreated, OrderRequest, Push, PushError, PushReply,
    RouteEvent,
};
use protocol::{Failure, read_answer, says_duplicate};

pub use protocol::{
    RET_BUSINESS, RET_OK, RET_SYSTEM, SEALED_PREFIX, open, seal, seal_push, sign_key_bytes,
};

pub const API_CREATE_ORDER: &str = "020003";
pub const API_CANCEL_ORDER: &str = "020006";
pub const API_QUERY_TRACES: &str = "040001";
/// What the envelope's `version` says.
pub const VERSION: &str = "V1.0.0";

#[derive(Debug, Clone)]
pub struct EmsSettings {
    /// The platform endpoint, e.g. `https://api.ems.com.cn/amp-prod-api/f/amp/api/open`.
    pub api_base: String,
    /// 协议客户号 (`senderNo`).
    pub sender_no: String,
    /// 授权码, sent with every call.
    pub authorization: String,
    /// 签名密钥: the Base64 of the 16-byte SM4 key that seals requests and pushes.
    pub sign_key: String,
    pub webhook_secret: String,
    /// 业务产品 (`bizProductNo`); 1 is 特快专递.
    pub biz_product_no: String,
    pub timeout: Duration,
}

pub struct ChinaPostEms {
    settings: EmsSettings,
    http: reqwest::Client,
}

impl ChinaPostEms {
    pub fn new(settings: EmsSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(3)))
            .build()
            .expect("an HTTP client");
        Self { settings, http }
    }

    /// One call: the `retBody` of a successful answer, or why not.
    async fn call(&self, api_code: &'static str, msg: &Value) -> Result<Value, Failure> {
        let sealed = seal(&msg.to_string(), &self.settings.sign_key).ok_or_else(|| {
            Failure::Business("the sign key is not the Base64 of 16 bytes".into())
        })?;
        let timestamp = format_china_time(Utc::now());
        let sent = self
            .http
            .post(&self.settings.api_base)
            .form(&[
                ("apiCode", api_code),
                ("senderNo", self.settings.sender_no.as_str()),
                ("authorization", self.settings.authorization.as_str()),
                ("msgType", "0"),
                ("timeStamp", timestamp.as_str()),
                ("version", VERSION),
                ("logitcsInterface", sealed.as_str()),
            ])
            .send()
            .await;
        match answer_body(sent).await {
            Ok(body) => read_answer(&body),
            Err(HttpFailure::Transport(why)) => Err(Failure::Transport(why)),
            Err(HttpFailure::Http(status)) => Err(Failure::Http(status)),
        }
    }

    fn order_message(&self, order: &OrderRequest) -> Value {
        let now = format_china_time(Utc::now());
        let mut msg = json!({
            "createdTime": now,
            // 电商客户标识: ours, the same for every order.
            "ecommerceUserId": self.settings.sender_no,
            "senderNo": self.settings.sender_no,
            "logisticsOrderNo": order.order_id,
            "oneBillFlag": "0",
            // 1: 文件 (documents).
            "contentsAttribute": "1",
            "bizProductNo": self.settings.biz_product_no,
            // 2: delivered to the door; 1: the sender pays (the centre's account).
            "deliverType": "2",
            "paymentMode": "1",
            "sender": contact_json(&order.sender),
            "receiver": contact_json(&order.recipient),
            "cargos": [{"cargoName": order.cargo, "cargoQuantity": "1"}],
        });
        // 1: EMS comes to the sender's door (in the window, when there is one).
        msg["pickupType"] = json!("1");
        if let (Some(from), Some(until)) = (order.pickup_from, order.pickup_until) {
            msg["pickupPreBeginTime"] = json!(format_china_time(from));
            msg["pickupPreEndTime"] = json!(format_china_time(until));
        }
        if let Some(remark) = order.remark.as_ref().filter(|r| !r.is_empty()) {
            msg["pickupNotes"] = json!(remark);
        }
        json!([msg])
    }
}

#[async_trait::async_trait]
impl CourierPartner for ChinaPostEms {
    fn code(&self) -> &'static str {
        "ems"
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.order_id), err(Display))]
    async fn create_order(&self, order: &OrderRequest) -> Result<OrderCreated, CourierError> {
        match self
            .call(API_CREATE_ORDER, &self.order_message(order))
            .await
        {
            Ok(body) => order_created(&body).ok_or_else(|| {
                CourierError::Retryable("EMS created the order but gave no waybill number".into())
            }),
            // assumptions::DUPLICATE_MARKERS: a repeat should answer the order; a refusal
            // leaves a person to look it up in EMS's portal.
            Err(failure) if says_duplicate(&failure) => Err(CourierError::Final(format!(
                "EMS holds this order number already but gave no waybill ({})",
                scrub(failure.business_message().unwrap_or_default())
            ))),
            Err(failure) => Err(failure.into_error()),
        }
    }

    #[tracing::instrument(skip_all, fields(order_id = %order_id), err(Display))]
    async fn cancel_order(
        &self,
        order_id: &str,
        waybill_no: Option<&str>,
    ) -> Result<(), CourierError> {
        let msg = json!({
            "logisticsOrderNo": order_id,
            "waybillNo": waybill_no.unwrap_or_default(),
            "cancelReason": "申请人取消预约",
        });
        match self.call(API_CANCEL_ORDER, &msg).await {
            Ok(_) => Ok(()),
            // assumptions::CANCELLED_MARKERS: cancelling twice is cancelling once.
            Err(failure)
                if failure.business_message().is_some_and(|m| {
                    assumptions::CANCELLED_MARKERS.iter().any(|k| m.contains(k))
                }) =>
            {
                Ok(())
            }
            Err(failure) => Err(failure.into_error()),
        }
    }

    #[tracing::instrument(skip_all, fields(waybills = waybills.len()), err(Display))]
    async fn query_routes(&self, waybills: &[String]) -> Result<Vec<RouteEvent>, CourierError> {
        let mut events = Vec::new();
        // assumptions::ROUTE_QUERY_DIRECTION: one waybill per query.
        for waybill in waybills {
            let msg =
                json!({"waybillNo": waybill, "direction": assumptions::ROUTE_QUERY_DIRECTION});
            let body = self
                .call(API_QUERY_TRACES, &msg)
                .await
                .map_err(Failure::into_error)?;
            let traces = match &body {
                Value::Array(list) => list.clone(),
                Value::Object(map) => match map.get("responseItems") {
                    Some(Value::Array(list)) => list.clone(),
                    _ => vec![body.clone()],
                },
                _ => Vec::new(),
            };
            for trace in &traces {
                match route_event(Some(waybill), trace) {
                    Ok(event) => events.push(event),
                    // One unreadable trace must not stall reconciliation of the rest.
                    Err(why) => tracing::warn!(waybill = %waybill, why, "skipped an EMS trace"),
                }
            }
        }
        Ok(events)
    }

    fn verify_push(
        &self,
        headers: &poem::http::HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Push, PushError> {
        self.verify_sealed_push(headers, query, body)
    }

    fn push_accepted(&self) -> PushReply {
        push::reply(
            200,
            assumptions::PUSH_ACCEPTED,
            "",
            &self.settings.sender_no,
        )
    }

    fn push_refused(&self, error: &PushError) -> PushReply {
        push::refused_reply(error, &self.settings.sender_no)
    }
}

fn order_created(body: &Value) -> Option<OrderCreated> {
    let order = match body {
        Value::Array(list) => list.first()?,
        other => other,
    };
    // A 一票多件 order lists several; the first is the master waybill.
    let waybill_no = order
        .get("waybillNo")
        .and_then(text)?
        .split(',')
        .next()?
        .trim()
        .to_string();
    (!waybill_no.is_empty()).then_some(OrderCreated {
        waybill_no,
        courier_name: None,
        courier_phone: None,
    })
}

/// An EMS trace (from a push or a query) as a `RouteEvent`.
pub(super) fn route_event(
    waybill: Option<&str>,
    trace: &Value,
) -> Result<RouteEvent, &'static str> {
    let waybill_no = trace
        .get("waybillNo")
        .or_else(|| trace.get("traceNo"))
        .and_then(text)
        .or(waybill.map(String::from))
        .ok_or("a trace has no waybillNo")?;
    let op_code = trace
        .get("opCode")
        .and_then(text)
        .ok_or("a trace has no opCode")?;
    let occurred_at = trace
        .get("opTime")
        .and_then(text)
        .as_deref()
        .and_then(parse_china_time)
        .ok_or("a trace has no readable opTime")?;
    let location = [trace.get("opOrgCity"), trace.get("opOrgName")]
        .into_iter()
        .flatten()
        .filter_map(text)
        .collect::<Vec<_>>()
        .join(" ");
    Ok(RouteEvent {
        event_id: route_event_id(&waybill_no, &op_code, occurred_at),
        status: assumptions::status_for_op_code(&op_code),
        waybill_no,
        op_code,
        occurred_at,
        location: (!location.is_empty()).then_some(location),
        description: trace
            .get("opDesc")
            .or_else(|| trace.get("opName"))
            .and_then(text)
            .unwrap_or_default(),
        raw: trace.clone(),
    })
}

/// The id of a trace, the same whether it came by push or by query: EMS's traces carry none.
pub fn route_event_id(waybill: &str, op_code: &str, occurred_at: chrono::DateTime<Utc>) -> String {
    derived_event_id("ems", waybill, op_code, occurred_at)
}

fn contact_json(contact: &Contact) -> Value {
    let mut value = json!({
        "name": contact.name,
        "prov": contact.province,
        "city": contact.city,
        "county": contact.district,
        "address": contact.detail,
    });
    // EMS takes a mobile in `mobile` and a landline in `phone`; either one satisfies it.
    let key = if is_mobile(&contact.phone) {
        "mobile"
    } else {
        "phone"
    };
    value[key] = json!(contact.phone);
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrations::courier::ShipmentStatus;

    #[test]
    fn a_published_push_trace_reads_and_its_id_matches_the_queried_one() {
        let pushed: Value = serde_json::from_str(r#"{"opOrgCode":"23803100","orderNo":"222105314900991","opTime":"2025-08-12 16:56:50","opName":"收寄","opDesc":"【义乌快包经营部】已收寄","operatorNo":"11122234","opCode":"203","opOrgName":"义乌快包经营部","opOrgProvName":"浙江省","operatorName":"x","opOrgCity":"金华市","waybillNo":"1295780512499"}"#).unwrap();
        let event = route_event(None, &pushed).unwrap();
        assert_eq!(event.status, ShipmentStatus::PickedUp);
        assert_eq!(event.waybill_no, "1295780512499");
        assert_eq!(event.location.as_deref(), Some("金华市 义乌快包经营部"));
        assert_eq!(event.occurred_at.to_rfc3339(), "2025-08-12T08:56:50+00:00");
        let queried = json!({"opTime":"2025-08-12 16:56:50","opCode":"203","opName":"收寄"});
        assert_eq!(
            route_event(Some("1295780512499"), &queried)
                .unwrap()
                .event_id,
            event.event_id
        );
    }

    #[test]
    fn an_order_answer_gives_the_master_waybill() {
        let created = order_created(&json!({"logisticsOrderNo":"o","waybillNo":"1100,1101"}));
        assert_eq!(created.unwrap().waybill_no, "1100");
        assert!(order_created(&json!({"logisticsOrderNo":"o"})).is_none());
    }
}
