//! Pre-review decisions on cases submitted over HTTP: return, fix, resubmit and approve as one
//! loop, and rejections with their reasons or note.

use serde_json::json;

use crate::support::cases::{SOCIAL, claim_next, replace_photo, submitted_case};
use crate::support::pages::{jpeg, upload};
use crate::support::staff::staff_token;
use crate::support::{assert_problem, spawn_app};

#[tokio::test]
async fn return_fix_resubmit_and_approve_the_whole_loop() {
    let app = spawn_app().await;
    let citizen = app.citizen_token("loop-citizen").await;
    let id = submitted_case(&app, &citizen, None, 120).await;
    let later = app.citizen_token("later-citizen").await;
    let newer = submitted_case(&app, &later, None, 130).await;
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
    let blocked = upload(&app, &citizen, &id, "id-card", jpeg(90), "x.jpg").await;
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
    let citizen = app.citizen_token("rejected-citizen").await;
    let id = submitted_case(&app, &citizen, None, 160).await;
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
async fn a_rejection_takes_its_reasons_like_a_return_or_a_note() {
    let app = spawn_app().await;
    let citizen = app.citizen_token("reasoned-rejection").await;
    let id = submitted_case(&app, &citizen, None, 180).await;
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
