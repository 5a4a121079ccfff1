//! Notifications through the peers: the app set to send WeChat messages to the WeChat peer and
//! email to the SMTP peer, a citizen who logs in through WeChat and consents, and the history
//! read back once the jobs have settled.

use std::time::Duration;

use serde_json::{Value, json};

use super::TestApp;
use super::mail::mail_to_peer;
use super::wait::poll;
use super::wechat::WechatServer;

pub const TEMPLATES: [(&str, &str); 4] = [
    ("submitted", "tpl-submitted"),
    ("returned", "tpl-returned"),
    ("rejected", "tpl-rejected"),
    ("prereview_passed", "tpl-passed"),
];

/// WeChat messages to `wechat`, email to maildev, quick retries.
pub fn configure(config: &mut beebox::config::Config, wechat: &WechatServer) {
    wechat.configure(config);
    for (event, template) in TEMPLATES {
        config
            .wechat
            .subscribe
            .templates
            .get_mut(event)
            .expect("a default mapping for every pre-review event")
            .template_id = Some(template.into());
    }
    mail_to_peer(config);
    config.jobs.poll_ms = 50;
    config.jobs.backoff_base_ms = 50;
    config.jobs.max_attempts = 3;
}

/// Logs in through the WeChat peer (`ok-NAME` logs in openid `wx-NAME`).
pub async fn wechat_citizen(app: &TestApp, name: &str) -> String {
    let response = app.wechat_login(&format!("ok-{name}")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

pub async fn subscribe(app: &TestApp, token: &str, templates: &[&str]) -> Value {
    let response = app
        .post_as(
            token,
            "/v1/me/subscriptions",
            &json!({ "template_ids": templates }),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Waits until the application has `count` notifications and none is pending.
pub async fn settled_notifications(
    app: &TestApp,
    token: &str,
    id: &str,
    count: usize,
) -> Vec<Value> {
    let settled = poll(
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async {
            let body: Value = app
                .get_as(token, &format!("/v1/applications/{id}/notifications"))
                .await
                .json()
                .await
                .unwrap();
            let items = body["items"].as_array().unwrap().clone();
            if items.len() >= count && items.iter().all(|n| n["status"] != "pending") {
                Ok(items)
            } else {
                Err(items)
            }
        },
    )
    .await;
    settled.unwrap_or_else(|items| panic!("notifications did not settle: {items:#?}"))
}

/// `(event, channel, status)` of each notification, to compare with `triples`.
pub fn summary(items: &[Value]) -> Vec<(String, String, String)> {
    items
        .iter()
        .map(|n| {
            (
                n["event"].as_str().unwrap().to_string(),
                n["channel"].as_str().unwrap().to_string(),
                n["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Owned `(event, channel, status)` triples, as `summary` gives them.
pub fn triples(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

/// Waits until the admin job list filtered by `query` has `count` items.
pub async fn jobs_where(app: &TestApp, admin: &str, query: &str, count: usize) -> Vec<Value> {
    let found = poll(
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async {
            let body: Value = app
                .get_as(admin, &format!("/v1/admin/jobs?{query}"))
                .await
                .json()
                .await
                .unwrap();
            let items = body["items"].as_array().unwrap().clone();
            if items.len() >= count {
                Ok(items)
            } else {
                Err(items)
            }
        },
    )
    .await;
    match found {
        Ok(items) => items,
        Err(items) => {
            let all: Value = app
                .get_as(admin, "/v1/admin/jobs")
                .await
                .json()
                .await
                .unwrap();
            panic!("jobs?{query}: {items:#?}; all jobs: {all:#}");
        }
    }
}
