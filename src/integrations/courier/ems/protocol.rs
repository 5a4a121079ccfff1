//! EMS's wire protocol (the 协议客户 open platform, `amp`): every call is a form POST whose
//! business JSON travels sealed in `logitcsInterface` (EMS's spelling), and every answer is
//! `{serialNo, retCode, retMsg, retBody, retDate, success}`.
//!
//! The seal is EMS's "签名": `|$4|` + Base64(SM4-ECB-PKCS#7(json + signKey)), keyed with the
//! 16 bytes the Base64 `signKey` decodes to. It is checked against the sample EMS publishes with
//! its signing tool (see the tests). A push comes sealed the same way, without the key appended.

use base64::Engine as _;
use ecb::cipher::block_padding::Pkcs7;
use ecb::cipher::{BlockDecryptMut, BlockEncryptMut, KeyInit};
use serde_json::Value;

use super::assumptions;
use crate::integrations::courier::CourierError;
use crate::integrations::courier::wire::{scrub, text};

/// What a sealed `logitcsInterface` starts with: the scheme's number (4: SM4).
pub const SEALED_PREFIX: &str = "|$4|";
/// `retCode` of a call that was carried out.
pub const RET_OK: &str = "00000";
/// `retCode` of a system-level failure (EMS's side).
pub const RET_SYSTEM: &str = "S00001";
/// `retCode` of an interface-level refusal (the request or the account).
pub const RET_BUSINESS: &str = "B00001";

/// The SM4 key a Base64 `signKey` stands for; `None` unless it is 16 bytes.
pub fn sign_key_bytes(sign_key: &str) -> Option<[u8; 16]> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sign_key.trim())
        .ok()?;
    bytes.try_into().ok()
}

/// Seals a request's business JSON: `|$4|` + Base64(SM4-ECB(json + signKey)). `None` for a
/// `signKey` that is not the Base64 of 16 bytes (the configuration refuses one).
pub fn seal(json: &str, sign_key: &str) -> Option<String> {
    seal_bytes(format!("{json}{sign_key}").as_bytes(), sign_key)
}

/// Seals a push's trace as EMS does: the JSON alone, no key appended.
pub fn seal_push(json: &str, sign_key: &str) -> Option<String> {
    seal_bytes(json.as_bytes(), sign_key)
}

fn seal_bytes(plain: &[u8], sign_key: &str) -> Option<String> {
    let key = sign_key_bytes(sign_key)?;
    let sealed =
        ecb::Encryptor::<sm4::Sm4>::new(&key.into()).encrypt_padded_vec_mut::<Pkcs7>(plain);
    Some(format!(
        "{SEALED_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(sealed)
    ))
}

/// Opens a sealed `logitcsInterface`: the JSON inside, with a trailing copy of the key taken off
/// (requests carry one, pushes do not). `None` when it was not sealed with this key: the padding
/// does not check out or the text is not UTF-8.
pub fn open(sealed: &str, sign_key: &str) -> Option<String> {
    let key = sign_key_bytes(sign_key)?;
    let body = sealed.trim().strip_prefix(SEALED_PREFIX)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    let plain = ecb::Decryptor::<sm4::Sm4>::new(&key.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&bytes)
        .ok()?;
    let plain = String::from_utf8(plain).ok()?;
    Some(match plain.strip_suffix(sign_key) {
        Some(json) => json.to_string(),
        None => plain,
    })
}

/// Why a call did not give a business answer.
#[derive(Debug)]
pub(super) enum Failure {
    /// No usable answer: a timeout, a refused connection, a 5xx, an unreadable body.
    Transport(String),
    /// An HTTP 4xx from something that is not EMS's platform (a wrong `api_base`).
    Http(u16),
    /// `S00001`: EMS's own failure.
    System(String),
    /// `B00001` (or a code EMS adds later): the request or the account was refused.
    Business(String),
}

impl Failure {
    pub(super) fn into_error(self) -> CourierError {
        match self {
            Self::Transport(why) => CourierError::Retryable(why),
            Self::Http(status) => CourierError::Final(format!("HTTP {status}")),
            Self::System(message) => {
                CourierError::Retryable(format!("EMS {RET_SYSTEM}: {}", scrub(&message)))
            }
            Self::Business(message) => {
                CourierError::Final(format!("EMS {RET_BUSINESS}: {}", scrub(&message)))
            }
        }
    }

    /// EMS's message, for the few refusals the adapter acts on (`assumptions`).
    pub(super) fn business_message(&self) -> Option<&str> {
        match self {
            Self::Business(message) => Some(message),
            _ => None,
        }
    }
}

/// Reads an answer: its `retBody` (parsed when EMS sends it as a JSON string) or why not.
pub(super) fn read_answer(body: &[u8]) -> Result<Value, Failure> {
    let unreadable = || Failure::Transport("unreadable EMS answer".into());
    let answer: Value = serde_json::from_slice(body).map_err(|_| unreadable())?;
    let code = answer
        .get("retCode")
        .and_then(text)
        .ok_or_else(unreadable)?;
    let message = answer.get("retMsg").and_then(text).unwrap_or_default();
    let refused = matches!(answer.get("success"), Some(Value::Bool(false)))
        || answer.get("success").and_then(Value::as_str) == Some("false");
    if code == RET_SYSTEM {
        return Err(Failure::System(message));
    }
    if code != RET_OK || refused {
        return Err(Failure::Business(message));
    }
    Ok(match answer.get("retBody") {
        Some(Value::String(inner)) if inner.trim().is_empty() => Value::Null,
        Some(Value::String(inner)) => {
            serde_json::from_str(inner).unwrap_or(Value::String(inner.clone()))
        }
        Some(other) => other.clone(),
        None => Value::Null,
    })
}

/// A refusal whose message says EMS already holds this order number (`assumptions`).
pub(super) fn says_duplicate(failure: &Failure) -> bool {
    failure
        .business_message()
        .is_some_and(|m| assumptions::DUPLICATE_MARKERS.iter().any(|k| m.contains(k)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_seal_matches_emss_published_samples() {
        // The sample of EMS's signing tool, and a second one from the same tool.
        assert_eq!(
            seal(
                r#"{"language":"zh-CN","orderId":"QIAO-20200618-004"}"#,
                "TvaBgrhE46sft3nZlfe7xw=="
            )
            .unwrap(),
            "|$4|efB6PnjDpgHG4xfrvYlXonyBuMJoGTynkfasopHvbl2u3nmNeP+rznA3DyRwb/2GeZL7I3rL6HKD5+Tv3Uy6x8jIDISbYG8Bg14caH2flYE="
        );
        assert_eq!(
            seal(r#"[{"wholeAddress":"ABC123"}]"#, "WjNoNmhXWE12SFZJdk0zWQ==").unwrap(),
            "|$4|slRLUixzb1DplJxnGKMG5tcXh0zH5Ry1qZAIemYxDc7VfSxow31WUmgLbzbJt996Ud/vpaVOMcwyqsLvQRXPaA=="
        );
    }

    #[test]
    fn open_reverses_both_seals_and_refuses_another_key() {
        let key = "TvaBgrhE46sft3nZlfe7xw==";
        let json = r#"{"waybillNo":"1295780512499","opCode":"203"}"#;
        assert_eq!(open(&seal(json, key).unwrap(), key).unwrap(), json);
        assert_eq!(open(&seal_push(json, key).unwrap(), key).unwrap(), json);
        let other = "WjNoNmhXWE12SFZJdk0zWQ==";
        assert!(open(&seal(json, key).unwrap(), other).is_none_or(|p| p != json));
        assert!(open("not sealed", key).is_none());
        assert!(sign_key_bytes("short").is_none());
        assert!(seal(json, "c2hvcnQ=").is_none());
    }

    #[test]
    fn answers_are_classified() {
        let read = |v: Value| read_answer(v.to_string().as_bytes());
        let body = read(json!({"retCode":"00000","success":true,
            "retBody": json!({"waybillNo":"1"}).to_string()}))
        .unwrap();
        assert_eq!(body["waybillNo"], "1");
        let system = read(json!({"retCode":"S00001","retMsg":"系统繁忙","success":false}));
        assert!(matches!(
            system.unwrap_err().into_error(),
            CourierError::Retryable(_)
        ));
        let refused = read(
            json!({"retCode":"B00001","retMsg":"收件人电话 13812345678 错误","success":false}),
        );
        assert_eq!(
            refused.unwrap_err().into_error(),
            CourierError::Final("EMS B00001: 收件人电话 *** 错误".into())
        );
        assert!(matches!(
            read_answer(b"<html>").unwrap_err().into_error(),
            CourierError::Retryable(_)
        ));
    }
}
