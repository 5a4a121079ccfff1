//! What staff are told by email: a dead WeChat job alerts the admins (and an admin's retry
//! delivers it), overdue cases alert reviewers, and new submissions come in a digest.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::cases::{SOCIAL, submitted_case};
use crate::support::mail::{maildev_messages_to, unique_address, wait_for_mail_to};
use crate::support::notify::{
    configure, jobs_where, settled_notifications, subscribe, wechat_citizen,
};
use crate::support::spawn_app_with;
use crate::support::staff::{logged_in, seed_staff, set_email};
use crate::support::wechat::{Fault, WechatServer};

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
    let admin = logged_in(&app, "alerted.admin").await;

    let citizen = wechat_citizen(&app, "unlucky").await;
    subscribe(&app, &citizen, &["tpl-submitted"]).await;
    wechat.script_send("wx-unlucky", vec![Fault::Errcode(-1), Fault::Errcode(-1)]);
    let id = submitted_case(&app, &citizen, None, 0).await;
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
    let late = submitted_case(&app, &citizen, None, 0).await;
    let recent = submitted_case(&app, &citizen, None, 0).await;
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
    assert_eq!(maildev_messages_to(&reviewer_email).await.len(), 2);
}
