//! The pre-review queue and claim leases.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, EntityTrait};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, spawn_app};
use crate::staff::staff_token;

const DEPARTMENT: &str = "civil-affairs";
const ITEM: &str = "elderly-preferential-card";

/// Seeds `n` submitted cases of `ITEM`, the first submitted longest ago. Setup only: the
/// citizen's path to `submitted` is played over HTTP in `pages.rs`.
async fn seed_submitted(app: &TestApp, n: usize) -> Vec<Uuid> {
    let db = app.state.database().unwrap();
    let citizen =
        beebox::store::citizens::upsert_by_openid(db, &format!("seed-{}", Uuid::new_v4()), None)
            .await
            .unwrap();
    let version = beebox::store::catalog::find(db, ITEM, None)
        .await
        .unwrap()
        .unwrap();
    let start = Utc::now() - Duration::hours(5);
    let mut ids = Vec::new();
    for i in 0..n {
        let submitted = start + Duration::seconds(i as i64);
        let model = crate::helpers::application_row(citizen.id, &version, "submitted", submitted);
        ids.push(model.insert(db).await.unwrap().id);
    }
    ids
}

pub async fn claim_next(app: &TestApp, token: &str) -> Option<String> {
    let response = app
        .post_as(token, "/v1/review/claim-next", &json!({}))
        .await;
    match response.status().as_u16() {
        204 => None,
        200 => {
            let row: serde_json::Value = response.json().await.unwrap();
            assert_eq!(row["claimed_by_me"], true);
            Some(row["id"].as_str().unwrap().to_string())
        }
        other => panic!(
            "claim-next answered {other}: {}",
            response.text().await.unwrap()
        ),
    }
}

#[tokio::test]
async fn claim_next_hands_out_the_oldest_case_once_then_204() {
    let app = spawn_app().await;
    let ids = seed_submitted(&app, 2).await;
    let a = staff_token(&app, "rev.a", "reviewer", DEPARTMENT).await;
    let b = staff_token(&app, "rev.b", "reviewer", DEPARTMENT).await;
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
    let a = staff_token(&app, "holder", "reviewer", DEPARTMENT).await;
    let b = staff_token(&app, "other", "reviewer", DEPARTMENT).await;
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

    // An expired lease puts the case back in the queue.
    let db = app.state.database().unwrap();
    let row = beebox::store::applications::application::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut expired: beebox::store::applications::application::ActiveModel = row.into();
    expired.claim_expires_at = Set(Some(Utc::now() - Duration::seconds(1)));
    expired.update(db).await.unwrap();
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
    let reception = staff_token(&app, "front.desk", "reception", DEPARTMENT).await;
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
    let token = staff_token(&app, "pager", "reviewer", DEPARTMENT).await;
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

    claim_next(&app, &token).await.unwrap();
    let admin = staff_token(&app, "boss", "admin", "").await;
    let audit: serde_json::Value = app
        .get_as(&admin, &format!("/v1/admin/audit?application={}", ids[0]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["action"], "review.claim");
    assert_eq!(audit["items"][0]["actor_name"], "pager");
}

#[tokio::test]
async fn twenty_concurrent_reviewers_claim_each_of_two_hundred_cases_exactly_once() {
    let app = spawn_app().await;
    let ids = seed_submitted(&app, 200).await;
    let mut tokens = Vec::new();
    for i in 0..20 {
        tokens.push(staff_token(&app, &format!("reviewer.{i}"), "reviewer", DEPARTMENT).await);
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
}

/// A citizen's case submitted over HTTP: two ID card pages and an ID photo.
pub async fn submitted_case(app: &TestApp, citizen: &str) -> (String, String) {
    use crate::pages::{jpeg, upload};
    let token = app.citizen_token(citizen).await;
    let created =
        crate::applications::create(app, &token, "social-security-card-replacement").await;
    let id = created["id"].as_str().unwrap().to_string();
    let seed = citizen.len() as u8;
    for (material, n) in [("id-card", 1u8), ("id-card", 2), ("id-photo", 3)] {
        let response = upload(app, &token, &id, material, jpeg(seed * 10 + n), "p.jpg").await;
        assert_eq!(response.status(), 201);
    }
    let submitted = app
        .post_as(&token, &format!("/v1/applications/{id}/submit"), &json!({}))
        .await;
    assert_eq!(submitted.status(), 200);
    (token, id)
}

/// Replaces the first `id-photo` page of a returned case, as the citizen fixing it would:
/// deletes it (204) and uploads new bytes (201).
pub async fn replace_photo(
    app: &TestApp,
    token: &str,
    id: &str,
    case: &serde_json::Value,
    seed: u8,
) {
    let photo = case["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "id-photo")
        .unwrap()["pages"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deleted = app
        .client
        .delete(app.url(&format!("/v1/applications/{id}/pages/{photo}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let replaced = crate::pages::upload(
        app,
        token,
        id,
        "id-photo",
        crate::pages::jpeg(seed),
        "new.jpg",
    )
    .await;
    assert_eq!(replaced.status(), 201);
}

pub const SOCIAL: &str = "human-resources-social-security";

#[tokio::test]
async fn return_fix_resubmit_and_approve_the_whole_loop() {
    let app = spawn_app().await;
    let (citizen, id) = submitted_case(&app, "loop-citizen").await;
    let (_, newer) = submitted_case(&app, "later-citizen").await;
    let first = staff_token(&app, "first.reviewer", "reviewer", SOCIAL).await;
    let second = staff_token(&app, "second.reviewer", "reviewer", SOCIAL).await;

    // A reviewer claims the oldest case and sees it whole, ID number included.
    assert_eq!(claim_next(&app, &first).await.as_deref(), Some(id.as_str()));
    let case: serde_json::Value = app
        .get_as(&first, &format!("/v1/review/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        case["application"]["applicant"]["id_number"],
        "11010519491231002X"
    );
    assert_eq!(case["claim"]["claimed_by_me"], true);
    let pages = &case["application"]["materials"][0]["pages"];
    assert!(pages[0]["url"].as_str().is_some_and(|u| !u.is_empty()));
    // Someone without the claim sees it masked and cannot decide.
    let seen: serde_json::Value = app
        .get_as(&second, &format!("/v1/review/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen["application"]["applicant"]["id_number"],
        "110105********002X"
    );
    let decide = |token: &str, body: serde_json::Value| {
        let app = &app;
        let token = token.to_string();
        let path = format!("/v1/review/applications/{id}/decision");
        async move { app.post_as(&token, &path, &body).await }
    };
    assert_problem(
        decide(&second, json!({"outcome": "approve"})).await,
        409,
        "claim_required",
    )
    .await;
    let problem = assert_problem(
        decide(&first, json!({"outcome": "return", "reasons": []})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "reasons");
    let problem = assert_problem(
        decide(
            &first,
            json!({"outcome": "return", "reasons": [{"material_code": "passport", "reason": "x"}]}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "reasons[0].material_code");

    // Returned with a reason for one material.
    let returned = decide(
        &first,
        json!({"outcome": "return", "reasons": [{"material_code": "id-photo", "reason": "照片模糊，请重新拍摄"}]}),
    )
    .await;
    assert_eq!(returned.status(), 200);
    let returned: serde_json::Value = returned.json().await.unwrap();
    assert_eq!(returned["application"]["state"], "returned");
    assert_eq!(returned["claim"]["claimed"], false);

    // The citizen reads the reason and may change only that material.
    let mine: serde_json::Value = app
        .get_as(&citizen, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["state"], "returned");
    assert_eq!(mine["return_reasons"][0]["material_code"], "id-photo");
    assert_eq!(mine["return_reasons"][0]["reason"], "照片模糊，请重新拍摄");
    let blocked = crate::pages::upload(
        &app,
        &citizen,
        &id,
        "id-card",
        crate::pages::jpeg(90),
        "x.jpg",
    )
    .await;
    assert_problem(blocked, 409, "material_not_returned").await;
    replace_photo(&app, &citizen, &id, &mine, 91).await;
    let resubmitted = app
        .post_as(
            &citizen,
            &format!("/v1/applications/{id}/submit"),
            &json!({}),
        )
        .await;
    assert_eq!(resubmitted.status(), 200);

    // Back at the head of the queue, ahead of the newer case.
    let queue: serde_json::Value = app
        .get_as(&second, "/v1/review/queue")
        .await
        .json()
        .await
        .unwrap();
    let order: Vec<&str> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, [id.as_str(), newer.as_str()]);
    assert_eq!(queue["items"][0]["resubmitted"], true);

    // A second reviewer claims it and approves.
    assert_eq!(
        claim_next(&app, &second).await.as_deref(),
        Some(id.as_str())
    );
    let approved = app
        .post_as(
            &second,
            &format!("/v1/review/applications/{id}/decision"),
            &json!({"outcome": "approve"}),
        )
        .await;
    assert_eq!(approved.status(), 200);
    let approved: serde_json::Value = approved.json().await.unwrap();
    // This item's originals are not posted: it goes straight on to the department.
    assert_eq!(approved["application"]["state"], "at_department");
    assert_eq!(approved["decisions"].as_array().unwrap().len(), 2);
    // A decided case takes no second decision.
    let again = app
        .post_as(
            &second,
            &format!("/v1/review/applications/{id}/decision"),
            &json!({"outcome": "reject", "note": "x"}),
        )
        .await;
    assert_problem(again, 409, "invalid_state").await;

    // The citizen's timeline and the audit log show every step.
    let actions = app.timeline_actions(&citizen, &id).await;
    assert_eq!(
        actions,
        [
            "create",
            "submit",
            "return",
            "resubmit",
            "approve",
            "skip_pickup"
        ]
    );
    let admin = staff_token(&app, "the.admin", "admin", "").await;
    let audit: serde_json::Value = app
        .get_as(
            &admin,
            &format!("/v1/admin/audit?application={id}&limit=100"),
        )
        .await
        .json()
        .await
        .unwrap();
    // Refused attempts are there too, with their outcome and the problem's code.
    let mut steps: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let detail = match e["outcome"].as_str() {
                Some("success") => String::new(),
                _ => format!(" {}", e["detail"].as_str().unwrap_or_default()),
            };
            format!(
                "{} {} {}{detail}",
                e["actor_name"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    steps.reverse();
    assert_eq!(
        steps,
        [
            "first.reviewer review.claim success",
            "first.reviewer review.view success",
            "second.reviewer review.view success",
            "second.reviewer review.decision failure claim_required",
            "first.reviewer review.decision failure validation_failed",
            "first.reviewer review.decision failure validation_failed",
            "first.reviewer review.decision success",
            "second.reviewer review.claim success",
            "second.reviewer review.decision success",
            "second.reviewer review.decision failure invalid_state",
        ]
    );
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_is_final() {
    let app = spawn_app().await;
    let (citizen, id) = submitted_case(&app, "rejected-citizen").await;
    let reviewer = staff_token(&app, "strict", "reviewer", SOCIAL).await;
    claim_next(&app, &reviewer).await.unwrap();
    let path = format!("/v1/review/applications/{id}/decision");
    let problem = assert_problem(
        app.post_as(&reviewer, &path, &json!({"outcome": "reject"}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "note");
    let rejected = app
        .post_as(
            &reviewer,
            &path,
            &json!({"outcome": "reject", "note": "不符合办理条件"}),
        )
        .await;
    assert_eq!(rejected.status(), 200);
    let mine: serde_json::Value = app
        .get_as(&citizen, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["state"], "rejected");
    // Final: the citizen can neither change nor resubmit it.
    let resubmit = app
        .post_as(
            &citizen,
            &format!("/v1/applications/{id}/submit"),
            &json!({}),
        )
        .await;
    assert_problem(resubmit, 409, "invalid_state").await;
}

#[tokio::test]
async fn overdue_cases_are_flagged_filtered_counted_and_measured() {
    let app = spawn_app().await;
    let ids = seed_submitted(&app, 3).await;
    let db = app.state.database().unwrap();
    for id in &ids[..2] {
        let row = beebox::store::applications::application::Entity::find_by_id(*id)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let mut late: beebox::store::applications::application::ActiveModel = row.into();
        late.prereview_due_at = Set(Some(Utc::now() - Duration::minutes(1)));
        late.update(db).await.unwrap();
    }
    let token = staff_token(&app, "sla.watch", "reviewer", DEPARTMENT).await;
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
        json!([{"matter_code": ITEM, "department_code": DEPARTMENT, "waiting": 2, "claimed": 1, "overdue": 2}])
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(&format!(
            "beebox_prereview_overdue{{department=\"{DEPARTMENT}\",matter=\"{ITEM}\"}} 2"
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn working_on_a_claimed_case_renews_the_lease() {
    let app = spawn_app().await;
    let ids = seed_submitted(&app, 1).await;
    let token = staff_token(&app, "busy.bee", "reviewer", DEPARTMENT).await;
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

#[tokio::test]
async fn a_rejection_takes_its_reasons_like_a_return_or_a_note() {
    let app = spawn_app().await;
    let (citizen, id) = submitted_case(&app, "reasoned-rejection").await;
    let reviewer = staff_token(&app, "reasoned", "reviewer", SOCIAL).await;
    claim_next(&app, &reviewer).await.unwrap();
    let path = format!("/v1/review/applications/{id}/decision");
    // Neither reasons nor a note: the problem names both ways of giving one.
    let problem = assert_problem(
        app.post_as(
            &reviewer,
            &path,
            &json!({"outcome": "reject", "note": "  "}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "note");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("reasons")
    );
    // Reasons are checked as for a return.
    let problem = assert_problem(
        app.post_as(
            &reviewer,
            &path,
            &json!({"outcome": "reject", "reasons": [{"material_code": "no-such", "reason": "x"}]}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "reasons[0].material_code");
    let decided = app
        .post_as(
            &reviewer,
            &path,
            &json!({"outcome": "reject",
                    "reasons": [{"material_code": "id-card", "reason": "证件已过期\n无法办理"}],
                    "note": "请携带有效证件到窗口咨询"}),
        )
        .await;
    assert_eq!(decided.status(), 200);
    let decided: serde_json::Value = decided.json().await.unwrap();
    let decision = &decided["decisions"][0];
    assert_eq!(decision["outcome"], "reject");
    assert_eq!(decision["reasons"][0]["material_code"], "id-card");
    assert_eq!(decision["reasons"][0]["reason"], "证件已过期\n无法办理");
    assert_eq!(decision["note"], "请携带有效证件到窗口咨询");
    let mine: serde_json::Value = app
        .get_as(&citizen, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["state"], "rejected");
}
