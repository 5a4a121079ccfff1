//! What the citizen is told of the pre-review loop, end to end: WeChat subscribe messages to the
//! WeChat peer and email to the SMTP peer, consent counted per template, the history read back
//! over HTTP, and notifications written in the same change as the event.

use serde_json::{Value, json};

use crate::support::cases::{
    Desk, SOCIAL, claim_next, create, decide, replace_photo, submitted_case,
};
use crate::support::mail::{unique_address, wait_for_mail_to};
use crate::support::notify::{
    configure, jobs_where, settled_notifications, subscribe, summary, triples, wechat_citizen,
};
use crate::support::staff::staff_token;
use crate::support::wechat::WechatServer;
use crate::support::{assert_problem, spawn_app_with};

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

    let id = submitted_case(&app, &citizen, Some(&email), 0).await;
    let reviewer = staff_token(&app, "notify.reviewer", "reviewer", SOCIAL).await;
    settled_notifications(&app, &citizen, &id, 2).await;
    claim_next(&app, &reviewer).await.unwrap();
    let decided = decide(&app, &reviewer, Desk::Review, &id, json!({"outcome": "return", "reasons": [{"material_code": "id-photo", "reason": "照片模糊，请重新拍摄"}]})).await;
    assert_eq!(decided.status(), 200);
    settled_notifications(&app, &citizen, &id, 4).await;

    // The citizen fixes the photo and resubmits; a second "submitted" needs a second consent.
    let case: Value = app
        .get_as(&citizen, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    replace_photo(&app, &citizen, &id, &case, 201).await;
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
    let decided = decide(
        &app,
        &reviewer,
        Desk::Review,
        &id,
        json!({"outcome": "approve"}),
    )
    .await;
    assert_eq!(decided.status(), 200);
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
    let id = submitted_case(&app, &citizen, Some(&email), 0).await;
    let reviewer = staff_token(&app, "strict.reviewer", "reviewer", SOCIAL).await;
    claim_next(&app, &reviewer).await.unwrap();
    let decided = decide(
        &app,
        &reviewer,
        Desk::Review,
        &id,
        json!({"outcome": "reject", "note": "不属于本中心受理范围"}),
    )
    .await;
    assert_eq!(decided.status(), 200);
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
    // The two messages may go in either order: the workers send them side by side.
    let sent = wechat.sent_to("wx-refused");
    let mut templates: Vec<&str> = sent.iter().map(|m| m.template_id.as_str()).collect();
    templates.sort();
    assert_eq!(templates, ["tpl-rejected", "tpl-submitted"]);
    let rejected = sent
        .iter()
        .find(|m| m.template_id == "tpl-rejected")
        .unwrap();
    assert!(rejected.data["thing5"].contains("不属于本中心"));
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
    let id = submitted_case(&app, &citizen, Some(&unique_address("outboxed")), 0).await;

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
    use beebox::domain::application::{Action, ApplicationState};
    use beebox::store::applications::{self, Actor};
    use beebox::store::jobs::NewJob;

    let wechat = WechatServer::start().await;
    let app = spawn_app_with(|c| configure(c, &wechat)).await;
    let citizen = wechat_citizen(&app, "legacy").await;
    let created = create(&app, &citizen, "social-security-card-replacement").await;
    let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    // An event as an earlier release recorded it: no notifications, a `notify_citizen` job.
    let db = app.state.database().unwrap();
    let event = applications::record_event(
        db,
        id,
        Actor::system(),
        Action::Submit,
        Some(ApplicationState::Draft),
        ApplicationState::Submitted,
        None,
        chrono::Utc::now(),
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
