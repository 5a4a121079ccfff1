//! EMS's trace pushes as they reach our webhook (`assumptions::PUSH_METHOD`): our secret, then
//! the seal (a push that does not open with our sign key is not EMS's), then the traces; and
//! the `{serialNo, code, codeMessage, senderNo}` replies EMS expects.

use serde_json::{Value, json};

use super::protocol::open;
use super::{ChinaPostEms, assumptions, route_event};
use crate::integrations::courier::wire::{form_decode_bytes, secret_matches, text};
use crate::integrations::courier::{Push, PushError, PushReply, RouteEvent};

impl ChinaPostEms {
    /// `CourierPartner::verify_push`: our secret, then EMS's seal, then the traces.
    pub(super) fn verify_sealed_push(
        &self,
        headers: &poem::http::HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Push, PushError> {
        if !secret_matches(headers, query, &self.settings.webhook_secret) {
            return Err(PushError::Unauthenticated);
        }
        let envelope = read_envelope(body).ok_or(PushError::Unauthenticated)?;
        let sealed = envelope
            .get("logitcsInterface")
            .and_then(text)
            .ok_or(PushError::Unauthenticated)?;
        let traces = open(&sealed, &self.settings.sign_key).ok_or(PushError::Unauthenticated)?;
        if envelope
            .get("method")
            .and_then(text)
            .is_some_and(|m| m != assumptions::PUSH_METHOD)
        {
            return Err(PushError::Malformed("not a trace push".into()));
        }
        parse_traces(&traces).map(|events| Push { events })
    }
}

/// The push's envelope: a JSON object, or the same fields as a form (accepted too).
fn read_envelope(body: &[u8]) -> Option<Value> {
    if let Ok(value @ Value::Object(_)) = serde_json::from_slice::<Value>(body) {
        return Some(value);
    }
    let fields = form_decode_bytes(body)?;
    let map: serde_json::Map<String, Value> = fields
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    map.contains_key("logitcsInterface")
        .then_some(Value::Object(map))
}

/// The opened `logitcsInterface`: one trace, or a list of them.
fn parse_traces(json: &str) -> Result<Vec<RouteEvent>, PushError> {
    let malformed = |why: &str| PushError::Malformed(why.into());
    let value: Value =
        serde_json::from_str(json).map_err(|_| malformed("the traces are not JSON"))?;
    let traces = match value {
        Value::Array(list) => list,
        trace @ Value::Object(_) => vec![trace],
        _ => return Err(malformed("no trace")),
    };
    if traces.is_empty() {
        return Err(malformed("no trace"));
    }
    traces
        .iter()
        .map(|trace| route_event(None, trace).map_err(|why| PushError::Malformed(why.into())))
        .collect()
}

pub(super) fn reply(status: u16, code: &str, message: &str, sender_no: &str) -> PushReply {
    PushReply {
        status,
        content_type: "application/json;charset=UTF-8",
        body: json!({
            "serialNo": uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
            "code": code,
            "codeMessage": message,
            "senderNo": sender_no,
        })
        .to_string(),
    }
}

pub(super) fn refused_reply(error: &PushError, sender_no: &str) -> PushReply {
    // assumptions::PUSH_REFUSED: anything but 00000 makes EMS push again later.
    let (status, message) = match error {
        PushError::Unauthenticated => (401, "鉴权失败"),
        PushError::Malformed(_) => (400, "报文格式错误"),
        PushError::Stale => (401, "时间戳已过期"),
        PushError::RateLimited => (429, "请求过于频繁"),
    };
    reply(status, assumptions::PUSH_REFUSED, message, sender_no)
}
