//! WeChat mini-program server API: `code2Session` for login, `stable_token` for the access token
//! and `subscribe/send` for subscribe messages. The base URL is configurable so that tests talk to
//! a local server speaking the same protocol. `session_key` is read and dropped: it is never
//! returned, stored or logged. The AppSecret, access tokens and openids never appear in an error
//! or a trace: reqwest's error text carries the URL, so transport errors are described by kind.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::WechatConfig;

#[derive(Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    config: WechatConfig,
}

/// Who WeChat says the user is.
#[derive(Debug, Clone)]
pub struct WechatSession {
    pub openid: String,
    pub unionid: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WechatError {
    /// 40029 (invalid code) or 40163 (code already used).
    #[error("the login code is invalid or was already used (errcode {0})")]
    CodeInvalid(i64),
    /// 45011: too many logins for this user.
    #[error("WeChat rate limit (errcode 45011)")]
    RateLimited,
    /// 40226: a high-risk user WeChat has blocked.
    #[error("WeChat blocked this user (errcode 40226)")]
    UserBlocked,
    /// -1 (system busy), timeouts, network failures, or an answer we cannot read.
    #[error("WeChat is unavailable: {0}")]
    Unavailable(String),
    /// Login is not configured (no AppID/AppSecret).
    #[error("WeChat login is not configured")]
    NotConfigured,
}

#[derive(Deserialize)]
struct Code2SessionResponse {
    openid: Option<String>,
    unionid: Option<String>,
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

/// A `stable_token` answer: the token and how many seconds it stays valid.
#[derive(Clone)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// One subscribe message. `data` maps template fields (`thing1`, `time4`, ...) to values that
/// already fit their type (see [`fit_field`]).
#[derive(Debug, Clone)]
pub struct SubscribeMessage {
    pub touser: String,
    pub template_id: String,
    pub page: String,
    pub miniprogram_state: String,
    pub data: BTreeMap<String, String>,
}

/// Why a subscribe message was not sent. No variant carries the token or the openid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// 40001, 42001, 40014: the access token is invalid or expired; refresh it and retry once.
    #[error("WeChat rejected the access token (errcode {0})")]
    TokenInvalid(i64),
    /// 43101: the user has no subscription left for this template. Never retried.
    #[error("the user has not subscribed to this message (errcode 43101)")]
    NoConsent,
    /// -1, rate limits, timeouts, network errors, HTTP 5xx, an unreadable answer.
    #[error("WeChat could not take the message now: {0}")]
    Retryable(String),
    /// Anything else (40003 bad openid, 40037 bad template id, 47003 bad data, 41030 bad page,
    /// ...): sending the same message again cannot succeed. For an HTTP 4xx without a WeChat
    /// answer the code is the HTTP status.
    #[error("WeChat refused the message (errcode {0}): {1}")]
    Permanent(i64, String),
}

#[derive(Serialize)]
struct StableTokenRequest<'a> {
    grant_type: &'static str,
    appid: &'a str,
    secret: &'a str,
    force_refresh: bool,
}

#[derive(Deserialize)]
struct StableTokenResponse {
    access_token: Option<String>,
    expires_in: Option<i64>,
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

#[derive(Serialize)]
struct SendRequest<'a> {
    touser: &'a str,
    template_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    page: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    miniprogram_state: &'a str,
    lang: &'static str,
    data: BTreeMap<&'a str, FieldValue<'a>>,
}

#[derive(Serialize)]
struct FieldValue<'a> {
    value: &'a str,
}

#[derive(Deserialize)]
struct ErrcodeResponse {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

impl WechatClient {
    pub fn new(config: &WechatConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.timeout_ms.min(3_000)))
            .build()
            .expect("an HTTP client");
        Self {
            http,
            config: config.clone(),
        }
    }

    #[tracing::instrument(skip_all, err(Display))]
    pub async fn code2session(&self, code: &str) -> Result<WechatSession, WechatError> {
        let (Some(app_id), Some(secret)) = (&self.config.app_id, &self.config.app_secret) else {
            return Err(WechatError::NotConfigured);
        };
        let url = format!(
            "{}/sns/jscode2session",
            self.config.api_base.trim_end_matches('/')
        );
        let response = self
            .http
            .get(url)
            .query(&[
                ("appid", app_id.as_str()),
                ("secret", secret.expose()),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await;
        let parsed: Code2SessionResponse = read_answer(response, "code2Session")
            .await
            .map_err(WechatError::Unavailable)?;
        match parsed.errcode {
            0 => match parsed.openid {
                Some(openid) if !openid.is_empty() => Ok(WechatSession {
                    openid,
                    unionid: parsed.unionid.filter(|u| !u.is_empty()),
                }),
                _ => Err(WechatError::Unavailable(
                    "code2Session gave no openid".into(),
                )),
            },
            40029 | 40163 => Err(WechatError::CodeInvalid(parsed.errcode)),
            45011 => Err(WechatError::RateLimited),
            40226 => Err(WechatError::UserBlocked),
            code => Err(WechatError::Unavailable(format!(
                "errcode {code}: {}",
                short(&parsed.errmsg)
            ))),
        }
    }
}

impl WechatClient {
    /// The configured AppID, which also names the shared access-token row.
    pub fn app_id(&self) -> Option<&str> {
        self.config.app_id.as_deref().filter(|id| !id.is_empty())
    }

    /// How long one call may take before it counts as failed.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeout_ms)
    }

    /// `POST {api_base}/cgi-bin/stable_token`. In normal mode WeChat hands every caller the same
    /// token while it is valid; `force_refresh` invalidates it and issues a new one (WeChat allows
    /// that 20 times a day, 30 s apart, so callers coordinate through the database first).
    #[tracing::instrument(skip_all, fields(force_refresh = force_refresh), err(Display))]
    pub async fn stable_token(&self, force_refresh: bool) -> Result<AccessToken, WechatError> {
        let (Some(app_id), Some(secret)) = (self.app_id(), &self.config.app_secret) else {
            return Err(WechatError::NotConfigured);
        };
        let response = self
            .http
            .post(self.url("/cgi-bin/stable_token"))
            .json(&StableTokenRequest {
                grant_type: "client_credential",
                appid: app_id,
                secret: secret.expose(),
                force_refresh,
            })
            .send()
            .await;
        let parsed: StableTokenResponse = read_answer(response, "stable_token")
            .await
            .map_err(WechatError::Unavailable)?;
        match parsed.errcode {
            0 => match (parsed.access_token, parsed.expires_in) {
                (Some(token), Some(expires_in)) if !token.is_empty() && expires_in > 0 => {
                    Ok(AccessToken { token, expires_in })
                }
                _ => Err(WechatError::Unavailable(
                    "stable_token gave no access token".into(),
                )),
            },
            45011 => Err(WechatError::RateLimited),
            // -1 (busy), 40013 (bad AppID), 40125 (bad AppSecret), 40164 (IP not allowed),
            // 45009 (daily quota), ...: nothing the caller can fix by itself.
            code => Err(WechatError::Unavailable(format!(
                "errcode {code}: {}",
                short(&parsed.errmsg)
            ))),
        }
    }

    /// `POST {api_base}/cgi-bin/message/subscribe/send?access_token=..`. Each call uses up one
    /// of the user's subscriptions to the template when it succeeds.
    #[tracing::instrument(skip_all, fields(template_id = %message.template_id), err(Display))]
    pub async fn send_subscribe(
        &self,
        access_token: &str,
        message: &SubscribeMessage,
    ) -> Result<(), SendError> {
        let request = SendRequest {
            touser: &message.touser,
            template_id: &message.template_id,
            page: &message.page,
            miniprogram_state: &message.miniprogram_state,
            lang: "zh_CN",
            data: message
                .data
                .iter()
                .map(|(k, v)| (k.as_str(), FieldValue { value: v }))
                .collect(),
        };
        let response = self
            .http
            .post(self.url("/cgi-bin/message/subscribe/send"))
            .query(&[("access_token", access_token)])
            .json(&request)
            .send()
            .await
            .map_err(|e| SendError::Retryable(describe_transport(&e)))?;
        let status = response.status();
        if !status.is_success() {
            let code = status.as_u16();
            let detail = format!("HTTP {code}");
            return Err(if status.is_server_error() || code == 408 || code == 429 {
                SendError::Retryable(detail)
            } else {
                SendError::Permanent(i64::from(code), detail)
            });
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| SendError::Retryable(describe_transport(&e)))?;
        let parsed: ErrcodeResponse = serde_json::from_slice(&body)
            .map_err(|_| SendError::Retryable("unreadable subscribe/send answer".into()))?;
        classify_send(parsed.errcode, &parsed.errmsg)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_base.trim_end_matches('/'))
    }
}

/// Maps a `subscribe/send` errcode to what the caller should do about it.
fn classify_send(errcode: i64, errmsg: &str) -> Result<(), SendError> {
    match errcode {
        0 => Ok(()),
        40001 | 42001 | 40014 => Err(SendError::TokenInvalid(errcode)),
        43101 => Err(SendError::NoConsent),
        // -1 system busy; 45009 daily quota; 45011 and 45047 frequency limits.
        -1 | 45009 | 45011 | 45047 => Err(SendError::Retryable(format!(
            "errcode {errcode}: {}",
            short(errmsg)
        ))),
        code => Err(SendError::Permanent(code, short(errmsg))),
    }
}

/// WeChat's errmsg, bounded. It names the bad field (`data.thing1.value is empty`) and a request
/// id, never the token or the openid.
fn short(errmsg: &str) -> String {
    errmsg.chars().take(100).collect()
}

/// Cuts a value to what its template field's type allows, by the field name without its
/// trailing digits (`thing1` -> `thing`). Limits count characters, not bytes. `thing` ends a cut
/// value with `…`; the other types accept only digits, letters, symbols or Chinese characters,
/// so they are cut plainly. `time`, `date`, `amount`, `enum` and unknown types are kept: cutting
/// would make them wrong rather than short.
pub fn fit_field(name: &str, value: &str) -> String {
    let kind = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let limit = match kind {
        "thing" => 20,
        "phrase" | "symbol" => 5,
        // Ten Chinese characters, or twenty letters when the name is all ASCII.
        "name" if value.is_ascii() => 20,
        "name" => 10,
        "character_string" | "number" | "letter" => 32,
        "car_number" => 8,
        "phone_number" => 17,
        _ => return value.to_string(),
    };
    if value.chars().count() <= limit {
        return value.to_string();
    }
    if kind == "thing" {
        let mut cut: String = value.chars().take(limit - 1).collect();
        cut.push('…');
        cut
    } else {
        value.chars().take(limit).collect()
    }
}

/// A 2xx JSON answer, parsed; otherwise why not, safe to log. WeChat labels its JSON
/// text/plain, so the body is read as bytes and parsed whatever the content type says.
async fn read_answer<T: serde::de::DeserializeOwned>(
    sent: Result<reqwest::Response, reqwest::Error>,
    what: &str,
) -> Result<T, String> {
    // reqwest's error text would carry the URL, and with it secrets, codes and tokens.
    let response = sent.map_err(|e| describe_transport(&e))?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status().as_u16()));
    }
    let body = response.bytes().await.map_err(|e| describe_transport(&e))?;
    serde_json::from_slice(&body).map_err(|_| format!("unreadable {what} answer"))
}

fn describe_transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else {
        "transport error".into()
    }
}
