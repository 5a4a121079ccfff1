//! The pre-review queue and claim leases: the oldest case first and to one reviewer only, leases
//! that expire or renew, other departments and roles kept out, paging, audit and the overdue.

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, EntityTrait};
use serde_json::json;
use uuid::Uuid;

use crate::support::cases::{CIVIL, ELDERLY_CARD, claim_next};
use crate::support::seeds::{seed_submitted, seeded_case};
use crate::support::staff::staff_token;
use crate::support::{assert_problem, spawn_app};

#[tokio::test]
async fn claim_next_hands_out_the_oldest_case_once_then_204() {
    let app = spawn_app().await;
    let ids = seed_submitted(&app, 2).await;
    let a = staff_token(&app, "rev.a", "reviewer", CIVIL).await;
    let b = staff_token(&app, "rev.b", "reviewer", CIVIL).await;
    assert_eq!(claim_next(&app, &a).await, Some(ids[0].to_string()));
    assert_eq!(claim_next(&app, &b).await, Some(ids[1].to_string()));
    assert_eq!(claim_next(&app, &a).await, None);

    let queue: serde_json::Value = app
        .get_as(&a, "/v1/review/queue")
        .await
        .json()
        .await
        .unwrap();
    let rows = queue["items"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["claimed_by_me"], true);
    assert_eq!(rows[1]["claimed"], true);
    assert_eq!(rows[1]["claimed_by_me"], false);
    assert!(rows[0]["waited_secs"].as_i64().unwrap() >= 5 * 3600 - 5);
}

#[tokio::test]
async fn a_claimed_case_is_nobody_elses_until_released_or_expired() {
    let app = spawn_app().await;
    let ids = seed_submitted(&app, 1).await;
    let id = ids[0];
    let a = staff_token(&app, "holder", "reviewer", CIVIL).await;
    let b = staff_token(&app, "other", "reviewer", CIVIL).await;
    let claim = |token: String| {
        let app = &app;
        async move {
            app.post_as(
                &token,
                &format!("/v1/review/applications/{id}/claim"),
                &json!({}),
            )
            .await
        }
    };
    assert_eq!(claim(a.clone()).await.status(), 200);
    // Renewing my own claim is fine; taking someone else's is not.
    assert_eq!(claim(a.clone()).await.status(), 200);
    assert_problem(claim(b.clone()).await, 409, "claimed_by_other").await;
    let release = app
        .post_as(
            &b,
            &format!("/v1/review/applications/{id}/release"),
            &json!({}),
        )
        .await;
    assert_problem(release, 409, "not_claim_holder").await;
    let release = app
        .post_as(
            &a,
            &format!("/v1/review/applications/{id}/release"),
            &json!({}),
        )
        .await;
    assert_eq!(release.status(), 204);
    assert_eq!(claim_next(&app, &b).await, Some(id.to_string()));

    // An expired lease puts the case back in the queue: b's claim is still live a moment
    // before it runs out, and gone a moment after.
    let lease = app.config.review.claim_lease_secs;
    app.state.clock.advance(StdDuration::from_secs(lease - 5));
    assert_eq!(claim_next(&app, &a).await, None);
    app.state.clock.advance(StdDuration::from_secs(10));
    assert_eq!(claim_next(&app, &a).await, Some(id.to_string()));
}

#[tokio::test]
async fn other_departments_cases_are_404_and_never_queued() {
    let app = spawn_app().await;
    let ids = seed_submitted(&app, 1).await;
    let outsider = staff_token(&app, "health.rev", "reviewer", "health-commission").await;
    let queue: serde_json::Value = app
        .get_as(&outsider, "/v1/review/queue")
        .await
        .json()
        .await
        .unwrap();
    assert!(queue["items"].as_array().unwrap().is_empty());
    assert_eq!(claim_next(&app, &outsider).await, None);
    let response = app
        .post_as(
            &outsider,
            &format!("/v1/review/applications/{}/claim", ids[0]),
            &json!({}),
        )
        .await;
    assert_problem(response, 404, "application_not_found").await;
}

#[tokio::test]
async fn citizens_and_other_roles_are_refused_on_review_paths() {
    let app = spawn_app().await;
    let citizen = app.citizen_token("nosy").await;
    assert_problem(
        app.get_as(&citizen, "/v1/review/queue").await,
        403,
        "staff_only",
    )
    .await;
    let reception = staff_token(&app, "front.desk", "reception", CIVIL).await;
    assert_problem(
        app.get_as(&reception, "/v1/review/queue").await,
        403,
        "role_required",
    )
    .await;
}

#[tokio::test]
async fn the_queue_pages_with_a_cursor_and_claims_are_audited() {
    let app = spawn_app().await;
    let ids = seed_submitted(&app, 5).await;
    let token = staff_token(&app, "pager", "reviewer", CIVIL).await;
    let first: serde_json::Value = app
        .get_as(&token, "/v1/review/queue?limit=2")
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: serde_json::Value = app
        .get_as(
            &token,
            &format!("/v1/review/queue?limit=10&cursor={cursor}"),
        )
        .await
        .json()
        .await
        .unwrap();
    let seen: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    assert_eq!(seen, expected);
    assert!(second["next_cursor"].is_null());

    // Each queue view is in the audit log by the time it is answered (its WAL flush deferred,
    // its commit not).
    let admin = staff_token(&app, "boss", "admin", "").await;
    let views: serde_json::Value = app
        .get_as(&admin, "/v1/admin/audit?action=review.queue")
        .await
        .json()
        .await
        .unwrap();
    let views = views["items"].as_array().unwrap();
    assert_eq!(views.len(), 2, "{views:?}");
    assert!(
        views
            .iter()
            .all(|v| v["actor_name"] == "pager" && v["outcome"] == "success"),
        "{views:?}"
    );

    // The claim and its record, written by one statement on PostgreSQL, name the same case.
    let claimed = claim_next(&app, &token).await.unwrap();
    assert_eq!(claimed, ids[0].to_string());
    let audit: serde_json::Value = app
        .get_as(&admin, &format!("/v1/admin/audit?application={}", ids[0]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["action"], "review.claim");
    assert_eq!(audit["items"][0]["actor_name"], "pager");
    assert_eq!(audit["items"][0]["target_kind"], "application");
    assert_eq!(audit["items"][0]["target_id"], ids[0].to_string());
}

#[tokio::test]
async fn twenty_concurrent_reviewers_claim_each_of_two_hundred_cases_exactly_once() {
    let app = spawn_app().await;
    let ids = seed_submitted(&app, 200).await;
    let mut tokens = Vec::new();
    for i in 0..20 {
        tokens.push(staff_token(&app, &format!("reviewer.{i}"), "reviewer", CIVIL).await);
    }
    let workers = tokens.iter().map(|token| {
        let app = &app;
        async move {
            let mut mine = Vec::new();
            while let Some(id) = claim_next(app, token).await {
                mine.push(id);
            }
            mine
        }
    });
    let claimed: Vec<String> = futures_util::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
        .collect();
    let unique: HashSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), 200, "every case claimed once, none twice");
    assert_eq!(unique.len(), 200);
    let expected: HashSet<String> = ids.iter().map(Uuid::to_string).collect();
    assert_eq!(
        unique.into_iter().cloned().collect::<HashSet<_>>(),
        expected
    );

    // Every claim has its audit record (committed with the claim), each naming its case once,
    // and the calls that found the queue empty left none.
    let admin = staff_token(&app, "boss", "admin", "").await;
    let mut audited = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: serde_json::Value = app
            .get_as(
                &admin,
                &format!("/v1/admin/audit?action=review.claim&limit=100{cursor}"),
            )
            .await
            .json()
            .await
            .unwrap();
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["outcome"], "success");
            audited.push(item["target_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    audited.sort();
    let mut claimed = claimed;
    claimed.sort();
    assert_eq!(audited, claimed);
}

#[tokio::test]
async fn overdue_cases_are_flagged_filtered_counted_and_measured() {
    let app = spawn_app().await;
    // Two cases submitted five hours ago, due a day after; a day on they are overdue...
    seed_submitted(&app, 2).await;
    app.state.clock.advance(StdDuration::from_secs(20 * 3600));
    // ...and one submitted then is not.
    let now = app.state.clock.now();
    seeded_case(&app, "on-time", ELDERLY_CARD, "submitted", |row| {
        row.submitted_at = Set(Some(now));
        row.first_submitted_at = Set(Some(now));
        row.prereview_due_at = Set(Some(now + Duration::hours(24)));
    })
    .await;
    let token = staff_token(&app, "sla.watch", "reviewer", CIVIL).await;
    let queue: serde_json::Value = app
        .get_as(&token, "/v1/review/queue")
        .await
        .json()
        .await
        .unwrap();
    let flags: Vec<bool> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["overdue"].as_bool().unwrap())
        .collect();
    assert_eq!(flags, [true, true, false]);
    assert!(queue["items"][2]["due_at"].is_string());
    let late: serde_json::Value = app
        .get_as(&token, "/v1/review/queue?overdue=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(late["items"].as_array().unwrap().len(), 2);

    claim_next(&app, &token).await.unwrap();
    let stats: serde_json::Value = app
        .get_as(&token, "/v1/review/queue/stats")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats["items"],
        json!([{"matter_code": ELDERLY_CARD, "department_code": CIVIL, "waiting": 2, "claimed": 1, "overdue": 2}])
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(&format!(
            "beebox_prereview_overdue{{department=\"{CIVIL}\",matter=\"{ELDERLY_CARD}\"}} 2"
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn working_on_a_claimed_case_renews_the_lease() {
    let app = spawn_app().await;
    let ids = seed_submitted(&app, 1).await;
    let token = staff_token(&app, "busy.bee", "reviewer", CIVIL).await;
    claim_next(&app, &token).await.unwrap();
    let db = app.state.database().unwrap();
    let row = beebox::store::applications::application::Entity::find_by_id(ids[0])
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut nearly: beebox::store::applications::application::ActiveModel = row.into();
    nearly.claim_expires_at = Set(Some(Utc::now() + Duration::seconds(10)));
    nearly.update(db).await.unwrap();

    let case: serde_json::Value = app
        .get_as(&token, &format!("/v1/review/applications/{}", ids[0]))
        .await
        .json()
        .await
        .unwrap();
    let until =
        chrono::DateTime::parse_from_rfc3339(case["claim"]["claim_expires_at"].as_str().unwrap())
            .unwrap();
    let left = until.with_timezone(&Utc) - Utc::now();
    assert!(
        left > Duration::minutes(29),
        "lease renewed to about 30 minutes, has {left}"
    );
}
