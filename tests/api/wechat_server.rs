//! A local server that speaks the WeChat server API byte for byte: `GET /sns/jscode2session`.
//! The code decides the answer: `ok-NAME` logs in `wx-NAME` (with a unionid when NAME starts
//! with `u`), `err-ERRCODE` answers that errcode, `slow` answers after 3 s.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Query};
use poem::{EndpointExt, Route, Server, get, handler};
use serde::Deserialize;

pub const APP_ID: &str = "wx0123456789abcdef";
pub const APP_SECRET: &str = "wechat-app-secret-for-tests";
pub const SESSION_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";

pub struct WechatServer {
    pub base: String,
    pub requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WechatServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Deserialize)]
struct Code2Session {
    appid: String,
    secret: String,
    js_code: String,
    grant_type: String,
}

#[handler]
async fn jscode2session(
    Query(q): Query<Code2Session>,
    Data(log): Data<&Arc<Mutex<Vec<String>>>>,
) -> poem::Response {
    log.lock().unwrap().push(q.js_code.clone());
    // WeChat labels its JSON text/plain.
    let reply = |body: String| {
        poem::Response::builder()
            .content_type("text/plain")
            .body(body)
    };
    if q.appid != APP_ID || q.secret != APP_SECRET || q.grant_type != "authorization_code" {
        return reply(r#"{"errcode":40013,"errmsg":"invalid appid"}"#.into());
    }
    if q.js_code == "slow" {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    if let Some(name) = q.js_code.strip_prefix("ok-") {
        let unionid = if name.starts_with('u') {
            format!(r#","unionid":"union-{name}""#)
        } else {
            String::new()
        };
        return reply(format!(
            r#"{{"session_key":"{SESSION_KEY}","openid":"wx-{name}"{unionid}}}"#
        ));
    }
    if let Some(code) = q.js_code.strip_prefix("err-") {
        return reply(format!(r#"{{"errcode":{code},"errmsg":"test error"}}"#));
    }
    reply(r#"{"errcode":40029,"errmsg":"invalid code"}"#.into())
}

impl WechatServer {
    pub async fn start() -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let app = Route::new()
            .at("/sns/jscode2session", get(jscode2session))
            .data(requests.clone());
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let port = acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("a TCP address")
            .port();
        let task = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            requests,
            task,
        }
    }

    /// Points the app's config at this server with the test AppID and secret.
    pub fn configure(&self, config: &mut beebox::config::Config) {
        config.wechat.api_base = self.base.clone();
        config.wechat.app_id = Some(APP_ID.into());
        config.wechat.app_secret = Some(beebox::config::Secret::new(APP_SECRET));
    }
}
