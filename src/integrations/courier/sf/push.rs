//! SF's route pushes as they reach our webhook: our secret and SF's `msgDigest` checked, the
//! `WaybillRoute` list parsed, and the `return_code` replies SF expects.

use chrono::{DateTime, Utc};
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::protocol::msg_digest;
use super::routes::route_event;
use super::{SERVICE_ROUTE_PUSH, SfExpress};
use crate::integrations::courier::wire::{form_decode_bytes, secret_matches, text};
use crate::integrations::courier::{Push, PushError, PushReply, RouteEvent};

impl SfExpress {
    /// `CourierPartner::verify_push`: our secret, then SF's signature, then the routes.
    pub(super) fn verify_signed_push(
        &self,
        headers: &poem::http::HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Push, PushError> {
        if !secret_matches(headers, query, &self.settings.webhook_secret) {
            return Err(PushError::Unauthenticated);
        }
        let fields = form_decode_bytes(body).ok_or(PushError::Unauthenticated)?;
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let (Some(msg_data), Some(timestamp), Some(given)) =
            (field("msgData"), field("timestamp"), field("msgDigest"))
        else {
            return Err(PushError::Unauthenticated);
        };
        let expected = msg_digest(msg_data, timestamp, &self.settings.check_word);
        if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            return Err(PushError::Unauthenticated);
        }
        if field("partnerID").is_some_and(|p| p != self.settings.partner_id) {
            return Err(PushError::Unauthenticated);
        }
        if !self.is_fresh(timestamp, Utc::now()) {
            return Err(PushError::Stale);
        }
        if field("serviceCode").is_some_and(|s| s != SERVICE_ROUTE_PUSH) {
            return Err(PushError::Malformed("not a route push".into()));
        }
        parse_route_push(msg_data).map(|events| Push { events })
    }

    /// `timestamp` (ms since the epoch, as SF signs it) lies within `push_max_age` of `now`, in
    /// either direction (clocks drift).
    fn is_fresh(&self, timestamp: &str, now: DateTime<Utc>) -> bool {
        let max_age =
            chrono::Duration::from_std(self.settings.push_max_age).unwrap_or(chrono::Duration::MAX);
        timestamp
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .is_some_and(|signed| (now - signed).abs() <= max_age)
    }
}

/// The push's `msgData`: `{"Body":{"WaybillRoute":[..]}}` (one object is accepted too).
fn parse_route_push(msg_data: &str) -> Result<Vec<RouteEvent>, PushError> {
    let malformed = |why: &str| PushError::Malformed(why.into());
    let value: Value =
        serde_json::from_str(msg_data).map_err(|_| malformed("msgData is not JSON"))?;
    let routes = match value.pointer("/Body/WaybillRoute") {
        Some(Value::Array(routes)) => routes.clone(),
        Some(route @ Value::Object(_)) => vec![route.clone()],
        _ => return Err(malformed("no Body.WaybillRoute")),
    };
    routes
        .iter()
        .map(|route| {
            let waybill = route
                .get("mailno")
                .and_then(text)
                .ok_or_else(|| malformed("a route has no mailno"))?;
            route_event(&waybill, route).map_err(|why| PushError::Malformed(why.into()))
        })
        .collect()
}

pub(super) fn accepted_reply() -> PushReply {
    PushReply {
        status: 200,
        content_type: "application/json;charset=UTF-8",
        body: r#"{"return_code":"0000","return_msg":"成功"}"#.into(),
    }
}

pub(super) fn refused_reply(error: &PushError) -> PushReply {
    // SF knows only 0000 and 1000; anything but 0000 makes it push again (three tries).
    let (status, body) = match error {
        PushError::Unauthenticated => (401, r#"{"return_code":"1000","return_msg":"鉴权失败"}"#),
        PushError::Malformed(_) => (400, r#"{"return_code":"1000","return_msg":"报文格式错误"}"#),
        PushError::Stale => (401, r#"{"return_code":"1000","return_msg":"时间戳已过期"}"#),
        PushError::RateLimited => (429, r#"{"return_code":"1000","return_msg":"请求过于频繁"}"#),
    };
    PushReply {
        status,
        content_type: "application/json;charset=UTF-8",
        body: body.into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::integrations::courier::ShipmentStatus;

    #[test]
    fn the_push_example_parses_and_ids_ignore_sfs_own_id() {
        let msg = r#"{"Body":{"WaybillRoute":[{"mailno":"SF7444400031887","acceptAddress":"深圳市","reasonName":"","orderid":"o1","acceptTime":"2020-05-11 16:56:54","remark":"顺丰速运 已收取快件","opCode":"50","id":"158918741444476","reasonCode":""}]}}"#;
        let events = parse_route_push(msg).unwrap();
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event.status, ShipmentStatus::PickedUp);
        assert_eq!(event.location.as_deref(), Some("深圳市"));
        let queried = json!({"acceptTime":"2020-05-11 16:56:54","opCode":"50","remark":"x"});
        assert_eq!(
            route_event("SF7444400031887", &queried).unwrap().event_id,
            event.event_id
        );
    }
}
