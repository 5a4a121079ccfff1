//! What the partners' wire formats share: China-time timestamps, form decoding that refuses bad
//! escapes, JSON fields that come as strings or numbers, and error text made safe to keep.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// Where our per-partner webhook secret may travel instead of `?secret=`.
pub const SECRET_HEADER: &str = "X-Beebox-Webhook-Secret";

/// SF and EMS write times as `yyyy-MM-dd HH:mm:ss` in China time (UTC+8).
pub fn format_china_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&china())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

pub fn parse_china_time(text: &str) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    Some(
        china()
            .from_local_datetime(&local)
            .single()?
            .with_timezone(&Utc),
    )
}

fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Decodes `application/x-www-form-urlencoded` text; `None` for bad escapes or non-UTF-8.
pub fn form_decode(text: &str) -> Option<Vec<(String, String)>> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(key)?, percent_decode(value)?))
        })
        .collect()
}

pub fn form_decode_bytes(body: &[u8]) -> Option<Vec<(String, String)>> {
    form_decode(std::str::from_utf8(body).ok()?)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A JSON string or number as text (partners send both for codes and types).
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A partner's error text, short and without digit runs that could be a phone or card number.
pub fn scrub(message: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    for c in message.chars().take(80) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        flush_digits(&mut out, &mut digits);
        out.push(c);
    }
    flush_digits(&mut out, &mut digits);
    out
}

fn flush_digits(out: &mut String, digits: &mut String) {
    if digits.len() >= 5 {
        out.push_str("***");
    } else {
        out.push_str(digits);
    }
    digits.clear();
}

/// reqwest's error text carries the URL; describe the failure by kind only.
pub fn describe_transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "could not connect".into()
    } else if error.is_body() || error.is_decode() {
        "broken answer".into()
    } else {
        "request failed".into()
    }
}

/// The id of a route step derived from what a push and a query both carry (waybill, opCode,
/// time), under the partner's `prefix`: the same event by either road has the same id.
pub fn derived_event_id(
    prefix: &str,
    waybill: &str,
    op_code: &str,
    occurred_at: DateTime<Utc>,
) -> String {
    let hash = Sha256::digest(format!("{waybill}\n{op_code}\n{}", occurred_at.timestamp()));
    format!("{prefix}-{}", hex::encode(&hash[..16]))
}

/// Whether a contact number is a mainland mobile (11 digits from 1), which partners take in
/// another field than a landline.
pub fn is_mobile(phone: &str) -> bool {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    digits.len() == 11 && digits.starts_with('1')
}

/// Why a partner's HTTP answer has no body to read.
pub enum HttpFailure {
    /// No usable answer: a timeout, a refused connection, a 5xx, a 429 or 408, a cut body.
    Transport(String),
    /// Another 4xx: something that is not the partner's platform (a wrong `api_base`).
    Http(u16),
}

/// The body of a partner's answer to a sent request, or why there is none to read.
pub async fn answer_body(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<bytes::Bytes, HttpFailure> {
    let response = sent.map_err(|e| HttpFailure::Transport(describe_transport(&e)))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        // A proxy or gateway answering instead of the partner: only overload and server
        // errors pass with time.
        return Err(if status >= 500 || status == 429 || status == 408 {
            HttpFailure::Transport(format!("HTTP {status}"))
        } else {
            HttpFailure::Http(status)
        });
    }
    response
        .bytes()
        .await
        .map_err(|e| HttpFailure::Transport(describe_transport(&e)))
}

/// Our per-partner webhook secret, from `?secret=` or the `SECRET_HEADER`, compared in constant
/// time. An empty configured secret matches nothing.
pub fn secret_matches(headers: &poem::http::HeaderMap, query: Option<&str>, secret: &str) -> bool {
    let from_query = query.and_then(form_decode).and_then(|pairs| {
        pairs
            .into_iter()
            .find(|(k, _)| k == "secret")
            .map(|(_, v)| v)
    });
    let from_header = headers
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(given) = from_query.or(from_header) else {
        return false;
    };
    // Hashing first keeps the comparison constant-time in the length too.
    let given = Sha256::digest(given.as_bytes());
    let ours = Sha256::digest(secret.as_bytes());
    !secret.is_empty() && bool::from(given[..].ct_eq(&ours[..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_times_are_china_time() {
        let at = parse_china_time("2020-05-11 16:56:54").unwrap();
        assert_eq!(at.to_rfc3339(), "2020-05-11T08:56:54+00:00");
        assert_eq!(format_china_time(at), "2020-05-11 16:56:54");
        // SF's older pages show unpadded dates.
        assert!(parse_china_time("2012-7-30 09:30:00").is_some());
    }

    #[test]
    fn forms_decode() {
        let pairs = form_decode("a=1+2&b=%E6%96%87&c").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "文".into()),
                ("c".into(), String::new())
            ]
        );
        assert!(form_decode("a=%zz").is_none());
    }
}
