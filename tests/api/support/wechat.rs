//! A local server that speaks the WeChat server API byte for byte.
//!
//! `GET /sns/jscode2session`: the code decides the answer: `ok-NAME` logs in `wx-NAME` (with a
//! unionid when NAME starts with `u`), `err-ERRCODE` answers that errcode, `slow` answers after
//! 3 s.
//!
//! `POST /cgi-bin/stable_token`: stable mode as WeChat runs it: a normal call returns the current
//! token while it has more than five minutes left (then issues the next one, the old one staying
//! valid until it expires); `force_refresh` invalidates every earlier token.
//!
//! `POST /cgi-bin/message/subscribe/send`: checks the token (40001), the body (47001), that `data`
//! is not empty and each field value against its type's limit (47003), then records the message.
//! Tests script faults per recipient with `script_send`, and for the token endpoint with
//! `script_token`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Query};
use poem::{EndpointExt, Route, Server, get, handler, post};
use serde::Deserialize;

pub const APP_ID: &str = "wx0123456789abcdef";
pub const APP_SECRET: &str = "wechat-app-secret-for-tests";
pub const SESSION_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";

/// How long a token lives unless a test says otherwise (`set_token_lifetime`).
const TOKEN_LIFETIME: Duration = Duration::from_secs(7200);
/// WeChat renews a stable token this long before it expires.
const EARLY_RENEWAL: Duration = Duration::from_secs(300);
/// Longer than any client timeout a test configures.
const HANG: Duration = Duration::from_secs(30);

pub struct WechatServer {
    pub base: String,
    /// The `js_code` of every `jscode2session` call.
    pub requests: Arc<Mutex<Vec<String>>>,
    peer: Arc<Peer>,
    task: tokio::task::JoinHandle<()>,
}

/// A scripted answer, used up by one call.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer `{"errcode":N,"errmsg":..}` with HTTP 200, as WeChat does.
    Errcode(i64),
    /// Answer with this HTTP status and no WeChat body (a proxy in the way).
    Http(u16),
    /// Wait, then answer normally.
    Delay(Duration),
    /// Wait longer than the client's timeout.
    Timeout,
}

/// A subscribe message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub touser: String,
    pub template_id: String,
    pub page: String,
    pub miniprogram_state: String,
    pub lang: String,
    pub data: BTreeMap<String, String>,
    /// The access token the message was sent with.
    pub access_token: String,
}

#[derive(Default)]
struct Peer {
    tokens: Mutex<Tokens>,
    sent: Mutex<Vec<SentMessage>>,
    send_scripts: Mutex<HashMap<String, VecDeque<Fault>>>,
    token_script: Mutex<VecDeque<Fault>>,
}

#[derive(Default)]
struct Tokens {
    issued: u64,
    /// Every token that still works, with when it stops working.
    valid: HashMap<String, Instant>,
    current: Option<String>,
    lifetime: Option<Duration>,
    calls: usize,
    forced_calls: usize,
}

impl Tokens {
    fn issue(&mut self) -> (String, Duration) {
        self.issued += 1;
        let token = format!("tok-{}", self.issued);
        let lifetime = self.lifetime.unwrap_or(TOKEN_LIFETIME);
        self.valid.insert(token.clone(), Instant::now() + lifetime);
        self.current = Some(token.clone());
        (token, lifetime)
    }

    fn left(&self, token: &str) -> Option<Duration> {
        let expiry = self.valid.get(token)?;
        expiry.checked_duration_since(Instant::now())
    }
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

/// WeChat's answers to these endpoints are JSON labelled as such.
fn json(body: String) -> poem::Response {
    poem::Response::builder()
        .content_type("application/json; encoding=utf-8")
        .body(body)
}

fn errcode(code: i64, message: &str) -> poem::Response {
    json(serde_json::json!({ "errcode": code, "errmsg": message }).to_string())
}

/// Plays a scripted fault: `Some(answer)` to answer with, `None` to go on normally.
async fn play(fault: Option<Fault>) -> Option<poem::Response> {
    match fault? {
        Fault::Errcode(code) => Some(errcode(code, "scripted error rid: test")),
        Fault::Http(status) => Some(
            poem::Response::builder()
                .status(poem::http::StatusCode::from_u16(status).expect("an HTTP status"))
                .body("scripted failure"),
        ),
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Fault::Timeout => {
            tokio::time::sleep(HANG).await;
            None
        }
    }
}

#[derive(Deserialize)]
struct StableTokenBody {
    grant_type: String,
    appid: String,
    secret: String,
    #[serde(default)]
    force_refresh: bool,
}

#[handler]
async fn stable_token(body: Vec<u8>, Data(peer): Data<&Arc<Peer>>) -> poem::Response {
    let fault = peer.token_script.lock().unwrap().pop_front();
    peer.tokens.lock().unwrap().calls += 1;
    if let Some(answer) = play(fault).await {
        return answer;
    }
    let Ok(body) = serde_json::from_slice::<StableTokenBody>(&body) else {
        return errcode(47001, "data format error rid: test");
    };
    if body.grant_type != "client_credential" {
        return errcode(40002, "invalid grant_type rid: test");
    }
    if body.appid != APP_ID {
        return errcode(40013, "invalid appid rid: test");
    }
    if body.secret != APP_SECRET {
        return errcode(40125, "invalid appsecret rid: test");
    }
    let mut tokens = peer.tokens.lock().unwrap();
    let (token, left) = if body.force_refresh {
        tokens.forced_calls += 1;
        tokens.valid.clear();
        tokens.issue()
    } else {
        let current = tokens
            .current
            .clone()
            .and_then(|t| tokens.left(&t).map(|left| (t, left)));
        match current {
            Some((token, left)) if left > EARLY_RENEWAL => (token, left),
            _ => tokens.issue(),
        }
    };
    json(serde_json::json!({ "access_token": token, "expires_in": left.as_secs() }).to_string())
}

#[derive(Deserialize)]
struct SendQuery {
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct SendBody {
    touser: String,
    template_id: String,
    #[serde(default)]
    page: String,
    #[serde(default)]
    miniprogram_state: String,
    #[serde(default)]
    lang: String,
    data: BTreeMap<String, FieldValue>,
}

#[derive(Deserialize)]
struct FieldValue {
    value: String,
}

/// WeChat's published limit for a template field type, in characters.
fn field_limit(name: &str, value: &str) -> Option<usize> {
    match name.trim_end_matches(|c: char| c.is_ascii_digit()) {
        "thing" => Some(20),
        "phrase" | "symbol" => Some(5),
        "name" if value.is_ascii() => Some(20),
        "name" => Some(10),
        "character_string" | "number" | "letter" => Some(32),
        "car_number" => Some(8),
        "phone_number" => Some(17),
        _ => None,
    }
}

#[handler]
async fn subscribe_send(
    Query(query): Query<SendQuery>,
    body: Vec<u8>,
    Data(peer): Data<&Arc<Peer>>,
) -> poem::Response {
    let Some(access_token) = query.access_token.filter(|t| !t.is_empty()) else {
        return errcode(41001, "access_token missing rid: test");
    };
    if peer.tokens.lock().unwrap().left(&access_token).is_none() {
        return errcode(40001, "invalid credential");
    }
    let Ok(body) = serde_json::from_slice::<SendBody>(&body) else {
        return errcode(47001, "data format error rid: test");
    };
    let fault = peer
        .send_scripts
        .lock()
        .unwrap()
        .get_mut(&body.touser)
        .and_then(VecDeque::pop_front);
    if let Some(answer) = play(fault).await {
        return answer;
    }
    if body.touser.is_empty() {
        return errcode(40003, "invalid openid rid: test");
    }
    if body.template_id.is_empty() {
        return errcode(40037, "invalid template_id rid: test");
    }
    // Every subscribe template has at least one keyword; a message without any says nothing.
    if body.data.is_empty() {
        return errcode(47003, "argument invalid! data is empty rid: test");
    }
    for (name, field) in &body.data {
        if field.value.is_empty() {
            return errcode(
                47003,
                &format!("argument invalid! data.{name}.value is empty rid: test"),
            );
        }
        if field_limit(name, &field.value).is_some_and(|l| field.value.chars().count() > l) {
            return errcode(
                47003,
                &format!("argument invalid! data.{name}.value invalid rid: test"),
            );
        }
    }
    peer.sent.lock().unwrap().push(SentMessage {
        touser: body.touser,
        template_id: body.template_id,
        page: body.page,
        miniprogram_state: body.miniprogram_state,
        lang: body.lang,
        data: body.data.into_iter().map(|(k, v)| (k, v.value)).collect(),
        access_token,
    });
    errcode(0, "ok")
}

impl WechatServer {
    pub async fn start() -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let peer = Arc::new(Peer::default());
        let app = Route::new()
            .at("/sns/jscode2session", get(jscode2session))
            .at("/cgi-bin/stable_token", post(stable_token))
            .at("/cgi-bin/message/subscribe/send", post(subscribe_send))
            .data(requests.clone())
            .data(peer.clone());
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
            peer,
            task,
        }
    }

    /// Queues answers for the next sends to `touser`, one per send, after the token check.
    pub fn script_send(&self, touser: &str, faults: Vec<Fault>) {
        self.peer
            .send_scripts
            .lock()
            .unwrap()
            .entry(touser.to_string())
            .or_default()
            .extend(faults);
    }

    /// Queues answers for the next `stable_token` calls, one per call.
    pub fn script_token(&self, faults: Vec<Fault>) {
        self.peer.token_script.lock().unwrap().extend(faults);
    }

    /// Invalidates every token handed out so far, as a forced refresh elsewhere would: the next
    /// send with one gets 40001, and the next `stable_token` call issues a new token.
    pub fn expire_token(&self) {
        let mut tokens = self.peer.tokens.lock().unwrap();
        tokens.valid.clear();
        tokens.current = None;
    }

    /// How long tokens issued from now on live (7200 s unless set). Below five minutes, every
    /// normal `stable_token` call issues a new one, as WeChat renews early.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.peer.tokens.lock().unwrap().lifetime = Some(lifetime);
    }

    /// The token a normal `stable_token` call would return now, if any.
    pub fn current_token(&self) -> Option<String> {
        let tokens = self.peer.tokens.lock().unwrap();
        tokens.current.clone().filter(|t| tokens.left(t).is_some())
    }

    /// Every `stable_token` call, whatever it answered.
    pub fn token_calls(&self) -> usize {
        self.peer.tokens.lock().unwrap().calls
    }

    /// `stable_token` calls with `force_refresh: true` that issued a token.
    pub fn forced_token_calls(&self) -> usize {
        self.peer.tokens.lock().unwrap().forced_calls
    }

    /// The messages accepted for `touser`, oldest first.
    pub fn sent_to(&self, touser: &str) -> Vec<SentMessage> {
        self.sent_all()
            .into_iter()
            .filter(|m| m.touser == touser)
            .collect()
    }

    /// Every message accepted, oldest first.
    pub fn sent_all(&self) -> Vec<SentMessage> {
        self.peer.sent.lock().unwrap().clone()
    }

    /// Points the app's config at this server with the test AppID and secret.
    pub fn configure(&self, config: &mut beebox::config::Config) {
        config.wechat.api_base = self.base.clone();
        config.wechat.app_id = Some(APP_ID.into());
        config.wechat.app_secret = Some(beebox::config::Secret::new(APP_SECRET));
    }
}
