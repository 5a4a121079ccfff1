//! Sending when the peers misbehave: WeChat faults retried, refreshed or skipped, SMTP down until
//! the job dies visibly, and a send cut off by a crash never sent twice.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::cases::{SOCIAL, submitted_case};
use crate::support::mail::unique_address;
use crate::support::notify::{
    configure, jobs_where, settled_notifications, subscribe, summary, triples, wechat_citizen,
};
use crate::support::staff::staff_token;
use crate::support::wechat::{Fault, WechatServer};
use crate::support::{assert_problem, spawn_app_on, spawn_app_with};

#[tokio::test]
async fn wechat_faults_retry_refresh_or_skip_as_each_deserves() {
    let wechat = WechatServer::start().await;
    let app = spawn_app_with(|c| configure(c, &wechat)).await;

    // -1 (system busy) and a timeout are retried until the message goes through.
    let busy = wechat_citizen(&app, "busy").await;
    subscribe(&app, &busy, &["tpl-submitted"]).await;
    wechat.script_send("wx-busy", vec![Fault::Errcode(-1), Fault::Timeout]);
    let own = submitted_case(&app, &busy, None, 0).await;
    let history = settled_notifications(&app, &busy, &own, 1).await;
    assert_eq!(history[0]["status"], "sent", "{history:#?}");
    assert_eq!(history[0]["attempts"], 3);
    assert_eq!(wechat.sent_to("wx-busy").len(), 1);

    // 40001: the token is refreshed (forced, once) and the send retried at once.
    let revoked = wechat_citizen(&app, "revoked").await;
    subscribe(&app, &revoked, &["tpl-submitted"]).await;
    wechat.expire_token();
    let forced_before = wechat.forced_token_calls();
    let own = submitted_case(&app, &revoked, None, 0).await;
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
    let own = submitted_case(&app, &unwilling, None, 0).await;
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
    let own = submitted_case(&app, &silent, None, 0).await;
    let history = settled_notifications(&app, &silent, &own, 1).await;
    assert_eq!(history[0]["status"], "skipped");
    assert!(wechat.sent_to("wx-silent").is_empty());
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
    let id = submitted_case(&app, &citizen, Some(&email), 0).await;

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
    let id = submitted_case(&stopped, &citizen, None, 0).await;
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

    let worker = spawn_app_on(&stopped.config.database_url(), setup).await;
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
