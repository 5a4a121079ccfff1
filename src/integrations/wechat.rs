//! WeChat mini-program server API: `code2Session` for login. The base URL is configurable so that
//! tests talk to a local server speaking the same protocol. `session_key` is read and dropped: it
//! is never returned, stored or logged.

use std::time::Duration;

use serde::Deserialize;

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
            .await
            // reqwest's error text would carry the URL, and with it the secret and the code.
            .map_err(|e| WechatError::Unavailable(describe_transport(&e)))?;
        if !response.status().is_success() {
            return Err(WechatError::Unavailable(format!(
                "HTTP {}",
                response.status().as_u16()
            )));
        }
        // WeChat answers JSON labelled text/plain, so read bytes and parse.
        let body = response
            .bytes()
            .await
            .map_err(|e| WechatError::Unavailable(describe_transport(&e)))?;
        let parsed: Code2SessionResponse = serde_json::from_slice(&body)
            .map_err(|_| WechatError::Unavailable("unreadable code2Session answer".into()))?;
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
                parsed.errmsg.chars().take(100).collect::<String>()
            ))),
        }
    }
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
