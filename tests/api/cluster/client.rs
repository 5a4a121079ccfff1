//! A client of the load balancer that retries as docs/api.md tells clients to: a request that
//! met a broken connection, or a 502/503/504 (HAProxy's own, or an instance's `Retry-After`
//! 503), is sent again unchanged, with the same `Idempotency-Key` where it has one. Each retry is
//! counted by its cause, so the test can say what the faults cost and assert what they did not.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::RequestBuilder;
use serde_json::Value;

/// Sends before giving up on one request (about 40 s of backing off).
const MAX_TRIES: u32 = 60;

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    retries: AtomicUsize,
    causes: Mutex<BTreeMap<String, usize>>,
}

/// A final answer: its status and body, and whether it took more than one send.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub retried: bool,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// The answer is `status`, or, after a retry, a refusal with one of `codes` (the first send
    /// did the work and the retry met its result, as the API documents). Panics otherwise.
    pub fn expect(&self, what: &str, status: u16, codes: &[&str]) {
        let repaired = self.retried && codes.contains(&self.code());
        if repaired {
            eprintln!(
                "cluster test: {what}: the retry met its first send's work ({})",
                self.code()
            );
        }
        assert!(
            self.status == status || repaired,
            "{what}: {} {} (retried: {})",
            self.status,
            self.body,
            self.retried
        );
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("an id").to_string()
    }
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_string(),
            retries: AtomicUsize::new(0),
            causes: Mutex::default(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends the request `build` makes until it gets an answer that is not a passing failure.
    pub async fn send(&self, build: impl Fn(&reqwest::Client) -> RequestBuilder) -> Answer {
        let mut tries = 0;
        loop {
            tries += 1;
            let request = build(&self.http).build().expect("a request");
            let what = format!("{} {}", request.method(), request.url().path());
            let cause = match self.http.execute(request).await {
                Ok(response) if !matches!(response.status().as_u16(), 502..=504) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(bytes) => {
                            let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                                Value::String(String::from_utf8_lossy(&bytes).into_owned())
                            });
                            return Answer {
                                status,
                                body,
                                retried: tries > 1,
                            };
                        }
                        Err(e) => format!("body cut off: {}", kind(&e)),
                    }
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    format!("{status} {}", body["code"].as_str().unwrap_or("(no code)"))
                }
                Err(e) => format!("connection: {}", kind(&e)),
            };
            eprintln!("cluster test: retrying {what}: {cause}");
            self.retries.fetch_add(1, Ordering::Relaxed);
            *self
                .causes
                .lock()
                .unwrap()
                .entry(cause.clone())
                .or_default() += 1;
            assert!(tries < MAX_TRIES, "gave up after {tries} tries: {cause}");
            tokio::time::sleep(Duration::from_millis(100 * u64::from(tries.min(10)))).await;
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> Answer {
        let url = self.url(path);
        self.send(|http| http.get(&url).bearer_auth(token)).await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Answer {
        let url = self.url(path);
        self.send(|http| http.post(&url).bearer_auth(token).json(body))
            .await
    }

    /// Retries so far, and how many of each cause.
    pub fn retries(&self) -> (usize, BTreeMap<String, usize>) {
        (
            self.retries.load(Ordering::Relaxed),
            self.causes.lock().unwrap().clone(),
        )
    }
}

fn kind(e: &reqwest::Error) -> &'static str {
    if e.is_connect() {
        "refused"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "closed"
    }
}
