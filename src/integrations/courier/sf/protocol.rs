//! SF's wire protocol: the `/std/service` envelope and how its answers are classified, the
//! `msgDigest` signature with Java's URL encoding.

use base64::Engine as _;
use md5::Digest as _;
use serde_json::Value;

use crate::integrations::courier::CourierError;
use crate::integrations::courier::wire::{scrub, text};

/// Why a call did not give a business answer.
pub(super) enum Failure {
    /// No usable answer: a timeout, a refused connection, a 5xx, an unreadable body.
    Transport(String),
    /// An HTTP 4xx from something that is not SF's platform (a wrong `api_base`).
    Http(u16),
    /// The platform refused the call (`apiResultCode` other than A1000).
    Api { code: String, message: String },
    /// The service refused the request (`success: false` in `apiResultData`).
    Business { code: String, message: String },
}

impl Failure {
    pub(super) fn into_error(self) -> CourierError {
        match self {
            Self::Transport(why) => CourierError::Retryable(why),
            Self::Http(status) => CourierError::Final(format!("HTTP {status}")),
            Self::Api { code, message } => {
                let text = format!("SF {code}: {}", scrub(&message));
                if api_code_is_retryable(&code) {
                    CourierError::Retryable(text)
                } else {
                    CourierError::Final(text)
                }
            }
            Self::Business { code, message } => {
                let text = format!("SF {code}: {}", scrub(&message));
                // S0003 is SF's runtime error, 8177 its peak-capacity throttle.
                if matches!(code.as_str(), "S0003" | "8177") {
                    CourierError::Retryable(text)
                } else {
                    CourierError::Final(text)
                }
            }
        }
    }
}

/// SF's platform codes: A1005 (rate limited), A1009 (backend unreachable) and A1099 (system error)
/// pass with time; the rest name a fault in our request or account that a retry repeats. A code
/// SF adds later is assumed to be of the first kind.
fn api_code_is_retryable(code: &str) -> bool {
    const FINAL: [&str; 9] = [
        "A1001", // required parameter missing
        "A1002", // request expired (OAuth2)
        "A1003", // IP not allowed
        "A1004", // no permission for the service
        "A1006", // digest invalid: a wrong checkWord
        "A1007", // duplicate request
        "A1008", // decryption failed
        "A1010", // account still in sandbox test
        "A1011", // OAuth2 failed
    ];
    !FINAL.contains(&code)
}

/// Reads the platform envelope and the business answer inside it.
pub(super) fn read_answer(body: &[u8]) -> Result<Value, Failure> {
    let unreadable = || Failure::Transport("unreadable SF answer".into());
    let envelope: Value = serde_json::from_slice(body).map_err(|_| unreadable())?;
    let code = envelope
        .get("apiResultCode")
        .and_then(text)
        .ok_or_else(unreadable)?;
    if code != "A1000" {
        let message = envelope
            .get("apiErrorMsg")
            .and_then(text)
            .unwrap_or_default();
        return Err(Failure::Api { code, message });
    }
    let data = match envelope.get("apiResultData") {
        Some(Value::String(inner)) => serde_json::from_str(inner).map_err(|_| unreadable())?,
        Some(inner @ Value::Object(_)) => inner.clone(),
        _ => return Err(unreadable()),
    };
    let success = match data.get("success") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => return Err(unreadable()),
    };
    if success {
        Ok(data.get("msgData").cloned().unwrap_or(Value::Null))
    } else {
        Err(Failure::Business {
            code: data.get("errorCode").and_then(text).unwrap_or_default(),
            message: data.get("errorMsg").and_then(text).unwrap_or_default(),
        })
    }
}

/// `msgDigest`, SF's "standard MD5" signature of requests and pushes.
pub fn msg_digest(msg_data: &str, timestamp: &str, check_word: &str) -> String {
    // The encoding of the concatenation is the concatenation of the encodings: each part is
    // hashed as it is encoded, with no copy of the whole.
    let mut md5 = md5::Md5::new();
    for part in [msg_data, timestamp, check_word] {
        for chunk in form_urlencoded::byte_serialize(part.as_bytes()) {
            md5.update(chunk.as_bytes());
        }
    }
    base64::engine::general_purpose::STANDARD.encode(md5.finalize())
}

/// `java.net.URLEncoder.encode(s, "UTF-8")`, the one encoding SF's Java side hashes: the
/// WHATWG form encoding keeps the same bytes (letters, digits, `.`, `-`, `*`, `_`), writes a
/// space as `+` and every other byte as upper-case `%XX`.
#[cfg(test)]
fn java_url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn digest_matches_sfs_published_example() {
        // The worked example on SF's signature page (数字签名, 标准MD5).
        let digest = msg_digest(
            r#"{"language":"zh-CN","orderId":"QIAO-20200618-004"}"#,
            "12312334453453",
            "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci",
        );
        assert_eq!(digest, "IIKJtuLVzoFTu4kHI8M8vA==");
    }

    #[test]
    fn url_encoding_is_javas() {
        assert_eq!(java_url_encode("a b*c-d.e_f~g"), "a+b*c-d.e_f%7Eg");
        assert_eq!(
            java_url_encode("文件!'()"),
            "%E6%96%87%E4%BB%B6%21%27%28%29"
        );
        // Every ASCII byte as URLEncoder's javadoc specifies it.
        for byte in 0u8..128 {
            let java = match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                    char::from(byte).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{byte:02X}"),
            };
            assert_eq!(
                java_url_encode(&char::from(byte).to_string()),
                java,
                "{byte}"
            );
        }
    }

    #[test]
    fn answers_are_classified() {
        let api = |code: &str| {
            read_answer(
                json!({"apiResultCode": code, "apiErrorMsg": "x", "apiResultData": null})
                    .to_string()
                    .as_bytes(),
            )
            .err()
            .unwrap()
            .into_error()
        };
        assert!(matches!(api("A1099"), CourierError::Retryable(_)));
        assert!(matches!(api("A1005"), CourierError::Retryable(_)));
        assert!(matches!(api("A1006"), CourierError::Final(_)));
        let business = json!({"apiResultCode":"A1000","apiResultData":
            json!({"success":false,"errorCode":"1016","errorMsg":"到件电话 13812345678 不能为空"}).to_string()});
        let error = read_answer(business.to_string().as_bytes())
            .err()
            .unwrap()
            .into_error();
        assert_eq!(
            error,
            CourierError::Final("SF 1016: 到件电话 *** 不能为空".into())
        );
        assert!(matches!(
            read_answer(b"<html>").err().unwrap().into_error(),
            CourierError::Retryable(_)
        ));
    }
}
