//! Notifications of the pre-review loop, end to end: the app's job worker sends WeChat subscribe
//! messages to the local WeChat peer and email to the real SMTP peer (maildev), and the citizen
//! and staff read the history back over HTTP.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app_with};
use crate::mail::{smtp_peer, unique_address, wait_for_mail_to};
use crate::pages::{jpeg, upload};
use crate::review::{SOCIAL, claim_next};
use crate::staff::{seed_staff, staff_token};
use crate::wechat_server::{Fault, WechatServer};

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
    let (host, port) = smtp_peer();
    config.mail.backend = beebox::config::MailBackend::Smtp;
    config.mail.smtp.host = host;
    config.mail.smtp.port = port;
    config.mail.smtp.tls = beebox::config::SmtpTls::None;
    config.jobs.poll_ms = 50;
    config.jobs.backoff_base_ms = 50;
    config.jobs.max_attempts = 3;
}

/// Logs in through the WeChat peer (`ok-NAME` logs in openid `wx-NAME`).
pub async fn wechat_citizen(app: &TestApp, name: &str) -> String {
    let response = app
        .client
        .post(app.url("/v1/auth/wechat"))
        .json(&json!({ "code": format!("ok-{name}") }))
        .send()
        .await
        .unwrap();
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

/// A submitted case of the social-security item, with an email address for notifications
/// when one is given.
pub async fn submitted_case(app: &TestApp, token: &str, email: Option<&str>) -> String {
    let mut body = crate::applications::new_application("social-security-card-replacement");
    if let Some(email) = email {
        body["applicant"]["email"] = json!(email);
    }
    let created = app.post_as(token, "/v1/applications", &body).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    // Distinct bytes per page: the same photo twice in one application is refused.
    for (material, n) in [("id-card", 1u8), ("id-card", 2), ("id-photo", 3)] {
        let response = upload(app, token, &id, material, jpeg(n * 7), "p.jpg").await;
        assert_eq!(response.status(), 201);
    }
    let submitted = app
        .post_as(token, &format!("/v1/applications/{id}/submit"), &json!({}))
        .await;
    assert_eq!(submitted.status(), 200);
    id
}

/// Waits until the application has `count` notifications and none is pending.
pub async fn settled_notifications(
    app: &TestApp,
    token: &str,
    id: &str,
    count: usize,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body: Value = app
            .get_as(token, &format!("/v1/applications/{id}/notifications"))
            .await
            .json()
            .await
            .unwrap();
        let items = body["items"].as_array().unwrap().clone();
        if items.len() >= count && items.iter().all(|n| n["status"] != "pending") {
            return items;
        }
        assert!(
            Instant::now() < deadline,
            "notifications did not settle: {items:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn summary(items: &[Value]) -> Vec<(String, String, String)> {
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

fn triples(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

async fn decide(app: &TestApp, token: &str, id: &str, body: Value) {
    let response = app
        .post_as(
            token,
            &format!("/v1/review/applications/{id}/decision"),
            &body,
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn each_prereview_event_reaches_the_citizen_by_wechat_and_email() {
    let wechat = WechatServer::start().await;
    let app = spawn_app_with(|c| configure(c, &wechat)).await;
    let citizen = wechat_citizen(&app, "notified").await;
    let email = unique_address("citizen");
    let consent = subscribe(
        &app,
        &citizen,
        &["tpl-submitted", "tpl-returned", "tpl-passed"],
    )
    .await;
    let remaining: Vec<(String, i64)> = consent["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["template_id"].as_str().unwrap().into(),
                s["remaining"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(remaining.contains(&("tpl-submitted".into(), 1)));
    assert!(remaining.contains(&("tpl-rejected".into(), 0)));

    let id = submitted_case(&app, &citizen, Some(&email)).await;
    let reviewer = staff_token(&app, "notify.reviewer", "reviewer", SOCIAL).await;
    settled_notifications(&app, &citizen, &id, 2).await;
    claim_next(&app, &reviewer).await.unwrap();
    decide(
        &app,
        &reviewer,
        &id,
        json!({"outcome": "return", "reasons": [{"material_code": "id-photo", "reason": "照片模糊，请重新拍摄"}]}),
    )
    .await;
    settled_notifications(&app, &citizen, &id, 4).await;

    // The citizen fixes the photo and resubmits; a second "submitted" needs a second consent.
    let case: Value = app
        .get_as(&citizen, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    crate::review::replace_photo(&app, &citizen, &id, &case, 201).await;
    let resubmitted = app
        .post_as(
            &citizen,
            &format!("/v1/applications/{id}/submit"),
            &json!({}),
        )
        .await;
    assert_eq!(resubmitted.status(), 200);
    settled_notifications(&app, &citizen, &id, 6).await;
    claim_next(&app, &reviewer).await.unwrap();
    decide(&app, &reviewer, &id, json!({"outcome": "approve"})).await;
    let history = settled_notifications(&app, &citizen, &id, 8).await;

    assert_eq!(
        summary(&history),
        triples(&[
            ("submitted", "wechat", "sent"),
            ("submitted", "email", "sent"),
            ("returned", "wechat", "sent"),
            ("returned", "email", "sent"),
            ("submitted", "wechat", "skipped"),
            ("submitted", "email", "sent"),
            ("prereview_passed", "wechat", "sent"),
            ("prereview_passed", "email", "sent"),
        ])
    );
    assert!(
        history[4]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no subscription left")),
        "{history:#?}"
    );

    // What arrived at WeChat: the right templates, a deep link, the reason, the right user.
    let sent = wechat.sent_to("wx-notified");
    let templates: Vec<&str> = sent.iter().map(|m| m.template_id.as_str()).collect();
    assert_eq!(templates, ["tpl-submitted", "tpl-returned", "tpl-passed"]);
    for message in &sent {
        assert!(message.page.contains(&id), "{}", message.page);
        assert_eq!(message.miniprogram_state, "formal");
        assert_eq!(message.data["thing1"], "社会保障卡补换");
    }
    assert!(
        sent[1].data["thing5"].contains("照片模糊"),
        "{:?}",
        sent[1].data
    );
    assert_eq!(sent[1].data["phrase3"], "退回补正");
    assert!(sent[1].data["thing5"].chars().count() <= 20);
    assert_eq!(
        wechat.token_calls(),
        1,
        "one access token serves every message"
    );

    // What arrived by email, in Chinese.
    let mails = wait_for_mail_to(&email, 4).await;
    assert_eq!(mails.len(), 4, "one email per event, none twice");
    let returned = mails
        .iter()
        .find(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.contains("照片模糊，请重新拍摄"))
        })
        .expect("the return email lists the reason");
    assert!(
        returned["subject"]
            .as_str()
            .unwrap()
            .contains("社会保障卡补换")
    );
    assert!(
        mails
            .iter()
            .any(|m| m["text"].as_str().unwrap().contains("预审"))
    );

    // Reviewers see the same history in the case view.
    let case: Value = app
        .get_as(&reviewer, &format!("/v1/review/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(case["notifications"].as_array().unwrap().len(), 8);

    // Another citizen's application's notifications are 404, as the application is.
    let stranger = wechat_citizen(&app, "stranger").await;
    let response = app
        .get_as(&stranger, &format!("/v1/applications/{id}/notifications"))
        .await;
    assert_problem(response, 404, "application_not_found").await;
}

#[tokio::test]
async fn a_rejection_is_told_with_its_reason() {
    let wechat = WechatServer::start().await;
    let app = spawn_app_with(|c| configure(c, &wechat)).await;
    let citizen = wechat_citizen(&app, "refused").await;
    let email = unique_address("refused");
    subscribe(&app, &citizen, &["tpl-submitted", "tpl-rejected"]).await;
    let id = submitted_case(&app, &citizen, Some(&email)).await;
    let reviewer = staff_token(&app, "strict.reviewer", "reviewer", SOCIAL).await;
    claim_next(&app, &reviewer).await.unwrap();
    decide(
        &app,
        &reviewer,
        &id,
        json!({"outcome": "reject", "note": "不属于本中心受理范围"}),
    )
    .await;
    let history = settled_notifications(&app, &citizen, &id, 4).await;
    assert_eq!(
        summary(&history),
        triples(&[
            ("submitted", "wechat", "sent"),
            ("submitted", "email", "sent"),
            ("rejected", "wechat", "sent"),
            ("rejected", "email", "sent"),
        ])
    );
    let sent = wechat.sent_to("wx-refused");
    assert_eq!(sent[1].template_id, "tpl-rejected");
    assert!(sent[1].data["thing5"].contains("不属于本中心"));
    let mails = wait_for_mail_to(&email, 2).await;
    assert!(
        mails
            .iter()
            .any(|m| m["text"].as_str().unwrap().contains("不属于本中心受理范围"))
    );
}

#[tokio::test]
async fn a_change_answers_with_its_notifications_already_written() {
    // No worker runs: whatever the history and the queue hold was written with the change.
    let wechat = WechatServer::start().await;
    let app = spawn_app_with(|c| {
        configure(c, &wechat);
        let submitted = c.wechat.subscribe.templates.get_mut("submitted").unwrap();
        submitted.template_id = None;
        c.jobs.worker = false;
    })
    .await;
    let citizen = wechat_citizen(&app, "outboxed").await;
    let id = submitted_case(&app, &citizen, Some(&unique_address("outboxed"))).await;

    let body: Value = app
        .get_as(&citizen, &format!("/v1/applications/{id}/notifications"))
        .await
        .json()
        .await
        .unwrap();
    let items = body["items"].as_array().unwrap();
    let mut got = summary(items);
    got.sort();
    assert_eq!(
        got,
        triples(&[
            ("submitted", "email", "pending"),
            ("submitted", "wechat", "skipped"),
        ])
    );
    let wechat_row = items.iter().find(|n| n["channel"] == "wechat").unwrap();
    assert_eq!(
        wechat_row["detail"],
        "no template is configured for this event"
    );
    // One send job, for the one channel that goes; nothing left to fan out.
    let admin = staff_token(&app, "outbox.admin", "admin", "").await;
    let queued = jobs_where(&app, &admin, "state=queued", 1).await;
    let kinds: Vec<&str> = queued
        .iter()
        .map(|j| j["kind"].as_str().unwrap())
        .filter(|k| k.starts_with("notify_"))
        .collect();
    assert_eq!(kinds, ["notify_email"]);
}

#[tokio::test]
async fn a_fan_out_job_left_by_an_earlier_release_still_writes_its_notifications() {
    use beebox::domain::application::ApplicationState;
    use beebox::store::applications::{self, Actor};
    use beebox::store::jobs::NewJob;

    let wechat = WechatServer::start().await;
    let app = spawn_app_with(|c| configure(c, &wechat)).await;
    let citizen = wechat_citizen(&app, "legacy").await;
    let created =
        crate::applications::create(&app, &citizen, "social-security-card-replacement").await;
    let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    // An event as an earlier release recorded it: no notifications, a `notify_citizen` job.
    let db = app.state.database().unwrap();
    let event = applications::record_event(
        db,
        id,
        Actor::system(),
        "submit",
        Some(ApplicationState::Draft),
        ApplicationState::Submitted,
        None,
    )
    .await
    .unwrap();
    // The row exactly as that release wrote it: its kind and its payload's JSON.
    let job = NewJob {
        kind: "notify_citizen",
        payload: json!({ "event_id": event }),
        dedupe_key: Some(format!("notify:{event}")),
        run_at: chrono::Utc::now(),
        max_attempts: 0,
    };
    assert!(beebox::store::jobs::enqueue(db, job).await.unwrap());

    let items = settled_notifications(&app, &citizen, &id.to_string(), 1).await;
    // No consent was given, so the WeChat message is skipped by its send job.
    assert_eq!(
        summary(&items),
        triples(&[("submitted", "wechat", "skipped")])
    );
}

#[tokio::test]
async fn wechat_faults_retry_refresh_or_skip_as_each_deserves() {
    let wechat = WechatServer::start().await;
    let app = spawn_app_with(|c| configure(c, &wechat)).await;

    // -1 (system busy) and a timeout are retried until the message goes through.
    let busy = wechat_citizen(&app, "busy").await;
    subscribe(&app, &busy, &["tpl-submitted"]).await;
    wechat.script_send("wx-busy", vec![Fault::Errcode(-1), Fault::Timeout]);
    let own = submitted_case(&app, &busy, None).await;
    let history = settled_notifications(&app, &busy, &own, 1).await;
    assert_eq!(history[0]["status"], "sent", "{history:#?}");
    assert_eq!(history[0]["attempts"], 3);
    assert_eq!(wechat.sent_to("wx-busy").len(), 1);

    // 40001: the token is refreshed (forced, once) and the send retried at once.
    let revoked = wechat_citizen(&app, "revoked").await;
    subscribe(&app, &revoked, &["tpl-submitted"]).await;
    wechat.expire_token();
    let forced_before = wechat.forced_token_calls();
    let own = submitted_case(&app, &revoked, None).await;
    let history = settled_notifications(&app, &revoked, &own, 1).await;
    assert_eq!(history[0]["status"], "sent", "{history:#?}");
    assert_eq!(
        history[0]["attempts"], 1,
        "refreshed within the same attempt"
    );
    assert_eq!(wechat.forced_token_calls(), forced_before + 1);

    // 43101: no consent at WeChat's end: skipped, never retried, and the count goes to 0.
    let unwilling = wechat_citizen(&app, "unwilling").await;
    subscribe(&app, &unwilling, &["tpl-submitted"]).await;
    wechat.script_send("wx-unwilling", vec![Fault::Errcode(43101)]);
    let own = submitted_case(&app, &unwilling, None).await;
    let history = settled_notifications(&app, &unwilling, &own, 1).await;
    assert_eq!(history[0]["status"], "skipped");
    assert!(history[0]["detail"].as_str().unwrap().contains("43101"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(history[0]["attempts"], 1);
    let left: Value = app
        .get_as(&unwilling, "/v1/me/subscriptions")
        .await
        .json()
        .await
        .unwrap();
    let submitted = left["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["template_id"] == "tpl-submitted")
        .unwrap();
    assert_eq!(submitted["remaining"], 0);

    // Without any recorded consent nothing is sent to WeChat at all.
    let silent = wechat_citizen(&app, "silent").await;
    let own = submitted_case(&app, &silent, None).await;
    let history = settled_notifications(&app, &silent, &own, 1).await;
    assert_eq!(history[0]["status"], "skipped");
    assert!(wechat.sent_to("wx-silent").is_empty());
}

/// Gives a seeded member an address, as an admin would with `PUT /v1/admin/staff/{id}/email`.
async fn set_email(app: &TestApp, member: uuid::Uuid, email: &str) {
    let admin = staff_token(
        app,
        &format!("setter.{}", &member.simple().to_string()[..8]),
        "admin",
        "",
    )
    .await;
    let response = app
        .client
        .put(app.url(&format!("/v1/admin/staff/{member}/email")))
        .bearer_auth(&admin)
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["email"], email);
}

async fn login(app: &TestApp, username: &str) -> String {
    let response = crate::staff::staff_login(app, username, crate::staff::PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// Waits until the admin job list filtered by `query` has `count` items.
async fn jobs_where(app: &TestApp, admin: &str, query: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body: Value = app
            .get_as(admin, &format!("/v1/admin/jobs?{query}"))
            .await
            .json()
            .await
            .unwrap();
        let items = body["items"].as_array().unwrap().clone();
        if items.len() >= count {
            return items;
        }
        if Instant::now() > deadline {
            let all: Value = app
                .get_as(admin, "/v1/admin/jobs")
                .await
                .json()
                .await
                .unwrap();
            panic!("jobs?{query}: {items:#?}; all jobs: {all:#}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn smtp_down_retries_then_dies_visibly_without_blocking_anything_else() {
    let wechat = WechatServer::start().await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_app_with(|c| {
        configure(c, &wechat);
        c.mail.smtp.port = port;
        c.jobs.max_attempts = 2;
        c.jobs.backoff_base_ms = 1_000;
    })
    .await;
    let admin = staff_token(&app, "jobs.admin", "admin", "").await;
    let citizen = wechat_citizen(&app, "mailless").await;
    subscribe(&app, &citizen, &["tpl-submitted"]).await;
    let email = unique_address("undeliverable");
    let id = submitted_case(&app, &citizen, Some(&email)).await;

    let history = settled_notifications(&app, &citizen, &id, 2).await;
    assert_eq!(
        summary(&history),
        triples(&[
            ("submitted", "wechat", "sent"),
            ("submitted", "email", "failed")
        ])
    );
    assert_eq!(history[1]["attempts"], 2);
    let dead = jobs_where(&app, &admin, "state=dead&kind=notify_email", 1).await;
    assert_eq!(dead[0]["attempts"], 2);
    assert!(
        dead[0]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    assert!(
        !dead[0].to_string().contains(&email),
        "no address in the job view"
    );

    // Retrying a dead job queues it again; a second retry of a live job is a conflict.
    let job = dead[0]["id"].as_str().unwrap();
    let retried = app
        .post_as(&admin, &format!("/v1/admin/jobs/{job}/retry"), &json!({}))
        .await;
    assert_eq!(retried.status(), 200);
    let retried: Value = retried.json().await.unwrap();
    assert!(["queued", "running"].contains(&retried["state"].as_str().unwrap()));
    assert!(retried["attempts"].as_i64().unwrap() <= 1);
    // Not dead again yet (its retries are a second apart): a second retry is a conflict.
    let again = app
        .post_as(&admin, &format!("/v1/admin/jobs/{job}/retry"), &json!({}))
        .await;
    assert_problem(again, 409, "job_not_dead").await;
    // SMTP is still down, so it dies again.
    jobs_where(&app, &admin, "state=dead&kind=notify_email", 1).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"beebox_jobs{kind="notify_email",state="dead"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("beebox_job_duration_seconds_count{kind=\"notify_wechat\",outcome=\"done\"}")
    );

    // Non-admins cannot see the queue; an unknown job is 404.
    let reviewer = staff_token(&app, "not.admin", "reviewer", SOCIAL).await;
    assert_problem(
        app.get_as(&reviewer, "/v1/admin/jobs").await,
        403,
        "role_required",
    )
    .await;
    let missing = app
        .post_as(
            &admin,
            &format!("/v1/admin/jobs/{}/retry", uuid::Uuid::now_v7()),
            &json!({}),
        )
        .await;
    assert_problem(missing, 404, "job_not_found").await;
}

#[tokio::test]
async fn a_dead_wechat_job_alerts_admins_by_email_and_an_admin_retry_delivers_it() {
    let wechat = WechatServer::start().await;
    let app = spawn_app_with(|c| {
        configure(c, &wechat);
        c.jobs.max_attempts = 2;
    })
    .await;
    let admin_email = unique_address("admin");
    let member = seed_staff(&app, "alerted.admin", "admin", "").await;
    set_email(&app, member, &admin_email).await;
    let admin = login(&app, "alerted.admin").await;

    let citizen = wechat_citizen(&app, "unlucky").await;
    subscribe(&app, &citizen, &["tpl-submitted"]).await;
    wechat.script_send("wx-unlucky", vec![Fault::Errcode(-1), Fault::Errcode(-1)]);
    let id = submitted_case(&app, &citizen, None).await;
    let history = settled_notifications(&app, &citizen, &id, 1).await;
    assert_eq!(history[0]["status"], "failed");
    let dead = jobs_where(&app, &admin, "state=dead&kind=notify_wechat", 1).await;
    let job = dead[0]["id"].as_str().unwrap();

    let alert = wait_for_mail_to(&admin_email, 1).await;
    assert!(
        alert[0]["text"].as_str().unwrap().contains(job),
        "{alert:#?}"
    );
    assert!(alert[0]["text"].as_str().unwrap().contains("notify_wechat"));

    // WeChat is back: the retried job delivers the message once.
    let retried = app
        .post_as(&admin, &format!("/v1/admin/jobs/{job}/retry"), &json!({}))
        .await;
    assert_eq!(retried.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while wechat.sent_to("wx-unlucky").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the retried message never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let history = settled_notifications(&app, &citizen, &id, 1).await;
    assert_eq!(history[0]["status"], "sent");
    assert_eq!(wechat.sent_to("wx-unlucky").len(), 1);
    let audit: Value = app
        .get_as(&admin, "/v1/admin/audit?action=jobs.retry")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn subscriptions_count_acceptances_and_a_retried_request_counts_once() {
    let wechat = WechatServer::start().await;
    let app = spawn_app_with(|c| configure(c, &wechat)).await;
    let citizen = wechat_citizen(&app, "consenting").await;
    let post = |key: &'static str, ids: Value| {
        let app = &app;
        let citizen = citizen.clone();
        async move {
            app.client
                .post(app.url("/v1/me/subscriptions"))
                .bearer_auth(&citizen)
                .header("Idempotency-Key", key)
                .json(&json!({ "template_ids": ids }))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(
            post("accept-1", json!(["tpl-returned"])).await.status(),
            200
        );
    }
    assert_eq!(
        post("accept-2", json!(["tpl-returned", "tpl-passed"]))
            .await
            .status(),
        200
    );
    let reused = post("accept-2", json!(["tpl-rejected"])).await;
    assert_problem(reused, 422, "idempotency_key_reused").await;
    let unknown = post("accept-3", json!(["tpl-made-up"])).await;
    let problem = assert_problem(unknown, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "template_ids[0]");
    let mine: Value = app
        .get_as(&citizen, "/v1/me/subscriptions")
        .await
        .json()
        .await
        .unwrap();
    let count = |template: &str| {
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["template_id"] == template)
            .unwrap()["remaining"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(count("tpl-returned"), 2);
    assert_eq!(count("tpl-passed"), 1);
    assert_eq!(count("tpl-submitted"), 0);
    // Staff tokens are not citizens.
    let reviewer = staff_token(&app, "curious.reviewer", "reviewer", SOCIAL).await;
    let response = app.get_as(&reviewer, "/v1/me/subscriptions").await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn staff_get_overdue_alerts_and_a_digest_of_new_submissions() {
    let wechat = WechatServer::start().await;
    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    // The latest digest was a minute ago, the one before two hours ago.
    let times = vec![
        (now - chrono::Duration::hours(2))
            .format("%H:%M")
            .to_string(),
        (now - chrono::Duration::minutes(1))
            .format("%H:%M")
            .to_string(),
    ];
    let app = spawn_app_with(|c| {
        configure(c, &wechat);
        c.notifications.digest_times = times;
    })
    .await;
    let reviewer_email = unique_address("reviewer");
    let member = seed_staff(&app, "digest.reviewer", "reviewer", SOCIAL).await;
    set_email(&app, member, &reviewer_email).await;
    let db = app.state.database().unwrap();

    // One case submitted half an hour ago and overdue, one submitted just now.
    let citizen = wechat_citizen(&app, "late").await;
    let late = submitted_case(&app, &citizen, None).await;
    let recent = submitted_case(&app, &citizen, None).await;
    let late_id: uuid::Uuid = late.parse().unwrap();
    use beebox::store::applications::application;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let half_hour_ago = chrono::Utc::now() - chrono::Duration::minutes(30);
    application::Entity::update_many()
        .col_expr(application::Column::SubmittedAt, Expr::value(half_hour_ago))
        .col_expr(
            application::Column::PrereviewDueAt,
            Expr::value(half_hour_ago),
        )
        .filter(application::Column::Id.eq(late_id))
        .exec(db)
        .await
        .unwrap();
    // The schedule runs `check_sla` and `digest` when the worker starts; run them again now
    // that the cases exist, as the next slots would.
    for kind in ["check_sla", "digest"] {
        let slots = beebox::jobs::schedule::Scheduler::new(&app.config).slots(chrono::Utc::now());
        let slot = slots.into_iter().find(|s| s.kind == kind).unwrap();
        beebox::store::jobs::enqueue(db, slot.job.deduped_by(format!("test:{kind}")))
            .await
            .unwrap();
    }
    let mails = wait_for_mail_to(&reviewer_email, 2).await;
    let late_no = late.replace('-', "");
    let recent_no = recent.replace('-', "");
    let overdue = mails
        .iter()
        .find(|m| m["text"].as_str().unwrap().contains("超"))
        .expect("an overdue alert");
    assert!(overdue["text"].as_str().unwrap().contains(&late_no));
    assert!(!overdue["text"].as_str().unwrap().contains(&recent_no));
    let digest = mails.iter().find(|m| !std::ptr::eq(*m, overdue)).unwrap();
    assert!(
        digest["text"].as_str().unwrap().contains(&late_no),
        "{digest:#?}"
    );
    // A case alerts once: running the check again sends nothing new.
    beebox::store::jobs::enqueue(
        db,
        beebox::store::jobs::NewJob::of(&beebox::notify::staff::CheckSla { slot: 0 })
            .deduped_by("test:again"),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        crate::mail::maildev_messages_to(&reviewer_email)
            .await
            .len(),
        2
    );
}

/// A worker that died between marking a send and hearing WeChat's answer leaves its row
/// `sending`. The next worker records it as `unknown`, never as `failed`, and sends nothing again.
#[tokio::test]
async fn a_send_cut_off_by_a_crash_shows_as_unknown_and_is_not_sent_again() {
    use beebox::store::notifications::notification;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

    let wechat = WechatServer::start().await;
    let setup = |c: &mut beebox::config::Config| {
        wechat.configure(c);
        c.wechat
            .subscribe
            .templates
            .get_mut("submitted")
            .unwrap()
            .template_id = Some("tpl-submitted".into());
        c.jobs.poll_ms = 50;
    };
    let stopped = spawn_app_with(|c| {
        setup(c);
        c.jobs.worker = false;
    })
    .await;
    let citizen = wechat_citizen(&stopped, "cutoff").await;
    subscribe(&stopped, &citizen, &["tpl-submitted"]).await;
    let id = submitted_case(&stopped, &citizen, None).await;
    // What the dead worker left: the row marked `sending`, its job still to run.
    let db = stopped.state.database().unwrap();
    let marked = notification::Entity::update_many()
        .col_expr(notification::Column::Status, Expr::value("sending"))
        .filter(notification::Column::ApplicationId.eq(uuid::Uuid::parse_str(&id).unwrap()))
        .filter(notification::Column::Channel.eq("wechat"))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(marked.rows_affected, 1);

    let worker = crate::helpers::spawn_app_on(&stopped.config.database_url(), setup).await;
    let citizen = wechat_citizen(&worker, "cutoff").await;
    let history = settled_notifications(&worker, &citizen, &id, 1).await;
    assert_eq!(history[0]["channel"], "wechat");
    assert_eq!(history[0]["status"], "unknown", "{history:#?}");
    assert!(
        history[0]["detail"]
            .as_str()
            .unwrap()
            .contains("outcome unknown")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(wechat.sent_to("wx-cutoff").is_empty());
}
