//! SF Express open platform (顺丰开放平台, `sfapi`): orders, cancellation and route queries over
//! `POST /std/service`, and the route pushes (路由推送) SF sends us. The checkWord, addresses and
//! phone numbers never go into an error, a log line or a trace; SF's own error text is scrubbed of
//! digit runs before it is kept.
//!
//! Protocol notes (from SF's published API pages and SDK examples):
//! - every call is a form POST of `partnerID`, `requestID`, `serviceCode`, `timestamp` (ms),
//!   `msgDigest` and `msgData` (a JSON string); the answer is `{apiResultCode, apiErrorMsg,
//!   apiResponseID, apiResultData}` where `apiResultData` is itself a JSON string holding
//!   `{success, errorCode, errorMsg, msgData}`;
//! - `msgDigest` is the "standard MD5" signature: Base64(MD5(URLEncoder.encode(msgData +
//!   timestamp + checkWord, "UTF-8"))), Java's encoder (space as `+`; `* - . _` kept);
//! - SF refuses a repeated `orderId` with business error 8016 (重复下单); a retry after a lost
//!   answer is resolved by `EXP_RECE_SEARCH_ORDER_RESP`, which for a cancelled order answers 8037
//!   (已消单; SF's pages do not show that answer, the simulator assumes it);
//! - we take route pushes signed like requests: a form of `partnerID`, `requestID`, `serviceCode`
//!   (`RoutePushService`), `timestamp`, `msgDigest` and `msgData` = `{"Body":{"WaybillRoute":[..]}}`.
//!   SF's page for the plain-JSON push shows no signature; an account must be set up to sign.
//!   The pages found state no window for the push's `timestamp` (ms); we refuse one further than
//!   `courier.sf.push_max_age_secs` (15 minutes by default) from our clock, as other signed
//!   webhooks do, so a captured push cannot be replayed later.

mod protocol;
mod push;
mod routes;

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use crate::integrations::courier::wire::{
    HttpFailure, answer_body, format_china_time, is_mobile, scrub, text,
};
use crate::integrations::courier::{
    Contact, CourierError, CourierPartner, OrderCreated, OrderRequest, Push, PushError, PushReply,
    RouteEvent,
};
use protocol::{Failure, read_answer};
use routes::route_event;

pub use protocol::msg_digest;
pub use routes::{route_event_id, status_for_op_code};

pub const SERVICE_CREATE_ORDER: &str = "EXP_RECE_CREATE_ORDER";
pub const SERVICE_SEARCH_ORDER: &str = "EXP_RECE_SEARCH_ORDER_RESP";
pub const SERVICE_UPDATE_ORDER: &str = "EXP_RECE_UPDATE_ORDER";
pub const SERVICE_SEARCH_ROUTES: &str = "EXP_RECE_SEARCH_ROUTES";
pub const SERVICE_ROUTE_PUSH: &str = "RoutePushService";
pub use crate::integrations::courier::wire::SECRET_HEADER;
/// SF answers 8003 beyond this many tracking numbers in one route query.
const MAX_WAYBILLS_PER_QUERY: usize = 10;
/// SF's business codes the adapter acts on.
const DUPLICATE_ORDER: &str = "8016";
const ORDER_CANCELLED: &str = "8037";

#[derive(Debug, Clone)]
pub struct SfSettings {
    pub api_base: String,
    pub partner_id: String,
    pub check_word: String,
    pub webhook_secret: String,
    pub monthly_card: Option<String>,
    pub express_type_id: u32,
    pub timeout: std::time::Duration,
    /// A push signed further than this from our clock is stale.
    pub push_max_age: std::time::Duration,
}

pub struct SfExpress {
    settings: SfSettings,
    http: reqwest::Client,
}

impl SfExpress {
    pub fn new(settings: SfSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(3)))
            .build()
            .expect("an HTTP client");
        Self { settings, http }
    }

    /// One call to `/std/service`: the business `msgData` of a successful answer, or why not.
    async fn call(&self, service: &'static str, msg: &Value) -> Result<Value, Failure> {
        let msg_data = msg.to_string();
        let timestamp = Utc::now().timestamp_millis().to_string();
        let digest = msg_digest(&msg_data, &timestamp, &self.settings.check_word);
        let request_id = uuid::Uuid::new_v4().to_string();
        let sent = self
            .http
            .post(&self.settings.api_base)
            .form(&[
                ("partnerID", self.settings.partner_id.as_str()),
                ("requestID", request_id.as_str()),
                ("serviceCode", service),
                ("timestamp", timestamp.as_str()),
                ("msgDigest", digest.as_str()),
                ("msgData", msg_data.as_str()),
            ])
            .send()
            .await;
        match answer_body(sent).await {
            Ok(body) => read_answer(&body),
            Err(HttpFailure::Transport(why)) => Err(Failure::Transport(why)),
            Err(HttpFailure::Http(status)) => Err(Failure::Http(status)),
        }
    }

    async fn search_order(&self, order_id: &str) -> Result<OrderCreated, CourierError> {
        let msg = json!({"language": "zh-CN", "orderId": order_id, "searchType": "1"});
        match self.call(SERVICE_SEARCH_ORDER, &msg).await {
            Ok(data) => order_created(&data).ok_or_else(|| {
                CourierError::Retryable("SF order search gave no waybill number".into())
            }),
            Err(Failure::Business { code, .. }) if code == ORDER_CANCELLED => Err(
                CourierError::Final("SF 8037: this order id belongs to a cancelled order".into()),
            ),
            Err(failure) => Err(failure.into_error()),
        }
    }

    fn order_message(&self, order: &OrderRequest) -> Value {
        let mut msg = json!({
            "language": "zh-CN",
            "orderId": order.order_id,
            "contactInfoList": [contact_json(&order.sender, 1), contact_json(&order.recipient, 2)],
            "cargoDetails": [{"name": order.cargo, "count": 1}],
            "parcelQty": 1,
            "expressTypeId": self.settings.express_type_id,
            // 1 寄方付: with a monthly card SF bills the card (寄付月结), else cash at pickup.
            "payMethod": 1,
            "isReturnRoutelabel": 0,
        });
        if let Some(card) = self
            .settings
            .monthly_card
            .as_ref()
            .filter(|c| !c.is_empty())
        {
            msg["monthlyCard"] = json!(card);
        }
        if let Some(from) = order.pickup_from {
            msg["sendStartTm"] = json!(format_china_time(from));
            // Ask SF to dispatch a courier to the door for that time.
            msg["isDocall"] = json!(1);
        }
        if let Some(remark) = order.remark.as_ref().filter(|r| !r.is_empty()) {
            msg["remark"] = json!(remark);
        }
        msg
    }
}

#[async_trait::async_trait]
impl CourierPartner for SfExpress {
    fn code(&self) -> &'static str {
        "sf"
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.order_id), err(Display))]
    async fn create_order(&self, order: &OrderRequest) -> Result<OrderCreated, CourierError> {
        match self
            .call(SERVICE_CREATE_ORDER, &self.order_message(order))
            .await
        {
            Ok(data) => order_created(&data).ok_or_else(|| {
                CourierError::Retryable("SF created the order but gave no waybill number".into())
            }),
            // The order exists: an earlier attempt whose answer was lost, or a reused id.
            Err(Failure::Business { code, .. }) if code == DUPLICATE_ORDER => {
                self.search_order(&order.order_id).await
            }
            Err(Failure::Api { code, .. }) if code == "A1007" => {
                self.search_order(&order.order_id).await
            }
            Err(failure) => Err(failure.into_error()),
        }
    }

    #[tracing::instrument(skip_all, fields(order_id = %order_id), err(Display))]
    async fn cancel_order(
        &self,
        order_id: &str,
        _waybill_no: Option<&str>,
    ) -> Result<(), CourierError> {
        let msg = json!({"language": "zh-CN", "orderId": order_id, "dealType": 2});
        match self.call(SERVICE_UPDATE_ORDER, &msg).await {
            Ok(data) => match data.get("resStatus").and_then(text) {
                // resStatus 2 is 已取消; older answers omit it.
                None => Ok(()),
                Some(s) if s == "2" => Ok(()),
                Some(s) => Err(CourierError::Final(format!(
                    "SF did not cancel the order (resStatus {})",
                    scrub(&s)
                ))),
            },
            // Cancelling twice is the same as cancelling once.
            Err(Failure::Business { code, .. }) if code == ORDER_CANCELLED => Ok(()),
            Err(failure) => Err(failure.into_error()),
        }
    }

    #[tracing::instrument(skip_all, fields(waybills = waybills.len()), err(Display))]
    async fn query_routes(&self, waybills: &[String]) -> Result<Vec<RouteEvent>, CourierError> {
        let mut events = Vec::new();
        for chunk in waybills.chunks(MAX_WAYBILLS_PER_QUERY) {
            let msg = json!({
                "language": "zh-CN",
                "trackingType": "1",
                "trackingNumber": chunk,
                "methodType": "1",
            });
            let data = self
                .call(SERVICE_SEARCH_ROUTES, &msg)
                .await
                .map_err(Failure::into_error)?;
            let answers = data.get("routeResps").and_then(Value::as_array);
            for answer in answers.into_iter().flatten() {
                let Some(waybill) = answer.get("mailNo").and_then(text) else {
                    continue;
                };
                for route in answer
                    .get("routes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match route_event(&waybill, route) {
                        Ok(event) => events.push(event),
                        // One unreadable step must not stall reconciliation of the rest.
                        Err(why) => tracing::warn!(waybill = %waybill, why, "skipped an SF route"),
                    }
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
        self.verify_signed_push(headers, query, body)
    }

    fn push_accepted(&self) -> PushReply {
        push::accepted_reply()
    }

    fn push_refused(&self, error: &PushError) -> PushReply {
        push::refused_reply(error)
    }
}

fn order_created(msg_data: &Value) -> Option<OrderCreated> {
    let list = msg_data.get("waybillNoInfoList")?.as_array()?;
    // waybillType 1 is the master waybill; 2 are child parcels, 3 return waybills.
    let master = list
        .iter()
        .find(|w| w.get("waybillType").and_then(text).as_deref() == Some("1"))
        .or_else(|| list.first())?;
    let waybill_no = master.get("waybillNo").and_then(text)?;
    Some(OrderCreated {
        waybill_no,
        courier_name: None,
        courier_phone: None,
    })
}

fn contact_json(contact: &Contact, contact_type: u8) -> Value {
    let mut value = json!({
        "contactType": contact_type,
        "contact": contact.name,
        "country": "CN",
        "province": contact.province,
        "city": contact.city,
        "county": contact.district,
        "address": contact.detail,
    });
    // SF wants mobiles in `mobile` and landlines in `tel`; either one satisfies it.
    let key = if is_mobile(&contact.phone) {
        "mobile"
    } else {
        "tel"
    };
    value[key] = json!(contact.phone);
    value
}
