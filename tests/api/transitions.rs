//! A move the state machine refuses answers `409 invalid_state` from every route that can ask
//! for it, whichever desk asks: the citizen's, pre-review, reception or the department.

use serde_json::json;

use crate::support::cases::{CIVIL, Desk, ELDERLY_CARD, create, decide, state_of, upload_result};
use crate::support::courier::{booking, slots};
use crate::support::pages::jpeg;
use crate::support::seeds::seeded_case;
use crate::support::staff::staff_token;
use crate::support::{TestApp, assert_problem, spawn_app};

/// The staff of `CIVIL` at each desk: reviewer, reception, approver.
async fn desks(app: &TestApp, prefix: &str) -> [String; 3] {
    [
        staff_token(app, &format!("{prefix}.reviewer"), "reviewer", CIVIL).await,
        staff_token(app, &format!("{prefix}.desk"), "reception", CIVIL).await,
        staff_token(app, &format!("{prefix}.approver"), "approver", CIVIL).await,
    ]
}

/// Every staff move on case `id`, none of which its state allows.
async fn staff_moves_are_refused(app: &TestApp, prefix: &str, id: &str) {
    let [reviewer, desk, approver] = desks(app, prefix).await;
    let claim = format!("/v1/review/applications/{id}/claim");
    assert_problem(
        app.post_as(&reviewer, &claim, &json!({})).await,
        409,
        "invalid_state",
    )
    .await;
    let approve = json!({"outcome": "approve"});
    let decided = decide(app, &reviewer, Desk::Review, id, approve).await;
    assert_problem(decided, 409, "invalid_state").await;
    let receive = format!("/v1/reception/applications/{id}/receive");
    let received = app
        .post_as(&desk, &receive, &json!({"matches": true}))
        .await;
    assert_problem(received, 409, "invalid_state").await;
    let grant = json!({"outcome": "approved"});
    let granted = decide(app, &approver, Desk::Department, id, grant).await;
    assert_problem(granted, 409, "invalid_state").await;
    let attached = upload_result(app, &approver, id, jpeg(9), "licence.jpg").await;
    assert_problem(attached, 409, "invalid_state").await;
}

#[tokio::test]
async fn a_cancelled_case_refuses_every_move_with_invalid_state() {
    let app = spawn_app().await;
    let citizen = app.citizen_token("withdrawn").await;
    let created = create(&app, &citizen, ELDERLY_CARD).await;
    let id = created["id"].as_str().unwrap().to_string();
    let cancel = format!("/v1/applications/{id}/cancel");
    assert_eq!(
        app.post_as(&citizen, &cancel, &json!({})).await.status(),
        200
    );
    assert_eq!(state_of(&app, &citizen, &id).await, "cancelled");

    let submit = format!("/v1/applications/{id}/submit");
    let submitted = app.post_as(&citizen, &submit, &json!({})).await;
    assert_problem(submitted, 409, "invalid_state").await;
    let window = slots(&app, &citizen).await[0].clone();
    let body = booking(
        window["date"].as_str().unwrap(),
        window["slot"].as_str().unwrap(),
    );
    let pickup = format!("/v1/applications/{id}/pickup");
    assert_problem(
        app.post_as(&citizen, &pickup, &body).await,
        409,
        "invalid_state",
    )
    .await;
    staff_moves_are_refused(&app, "cancelled", &id).await;

    // Nothing moved, and cancelling again stays harmless.
    assert_eq!(
        app.post_as(&citizen, &cancel, &json!({})).await.status(),
        200
    );
    assert_eq!(state_of(&app, &citizen, &id).await, "cancelled");
    let actions = app.timeline_actions(&citizen, &id).await;
    assert_eq!(actions, ["create", "cancel"]);
}

#[tokio::test]
async fn a_case_at_the_department_refuses_earlier_desks_and_later_steps_with_invalid_state() {
    let app = spawn_app().await;
    let (citizen, id) = seeded_case(&app, "at-desk", ELDERLY_CARD, "at_department", |_| {}).await;
    let id = id.to_string();
    let [reviewer, desk, _] = desks(&app, "later").await;

    let submit = format!("/v1/applications/{id}/submit");
    let submitted = app.post_as(&citizen, &submit, &json!({})).await;
    assert_problem(submitted, 409, "invalid_state").await;
    let cancel = format!("/v1/applications/{id}/cancel");
    assert_problem(
        app.post_as(&citizen, &cancel, &json!({})).await,
        409,
        "invalid_state",
    )
    .await;
    let claim = format!("/v1/review/applications/{id}/claim");
    assert_problem(
        app.post_as(&reviewer, &claim, &json!({})).await,
        409,
        "invalid_state",
    )
    .await;
    let reject = json!({"outcome": "reject", "note": "late"});
    let rejected = decide(&app, &reviewer, Desk::Review, &id, reject).await;
    assert_problem(rejected, 409, "invalid_state").await;
    let receive = format!("/v1/reception/applications/{id}/receive");
    let received = app
        .post_as(&desk, &receive, &json!({"matches": true}))
        .await;
    assert_problem(received, 409, "invalid_state").await;
    assert_eq!(state_of(&app, &citizen, &id).await, "at_department");
}
