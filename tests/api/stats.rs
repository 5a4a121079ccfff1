//! The dashboard's statistics over HTTP, from a case driven through the API: filed, returned
//! with a reason, fixed, resubmitted, approved (an item without originals goes straight to
//! the department) and refused there, with the clock moved between the steps so the stages
//! have lengths. Each figure is checked as a client reads it, for the case's department and
//! for a reviewer of another one; a rebuild of the rollups gives the same answers.

use std::time::Duration;

use chrono::{Datelike, Timelike};
use serde_json::{Value, json};

use crate::support::cases::{
    CIVIL, Desk, ELDERLY_CARD, SOCIAL, SOCIAL_CARD, claim_next, create, decide, replace_photo,
    submitted_case, upload_result, wait_state,
};
use crate::support::courier::{booking, dispatch_now, shipments_until, slots};
use crate::support::pages::{jpeg, upload};
use crate::support::staff::staff_token;
use crate::support::{TestApp, assert_problem, quick_app, spawn_app};

const HOUR: Duration = Duration::from_secs(3600);
const REASON: &str = "照片模糊，请重新拍摄";

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get_as(token, path).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// `(weekday, hour)` of the test clock's now, in the centre's time.
fn local_cell(app: &TestApp) -> (u64, u64) {
    let now = app
        .state
        .clock
        .now()
        .with_timezone(&app.config.local_offset());
    (
        u64::from(now.weekday().number_from_monday()),
        u64::from(now.hour()),
    )
}

fn cell(filings: &Value, (weekday, hour): (u64, u64)) -> u64 {
    let cells = filings["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 168);
    let found = cells
        .iter()
        .find(|c| c["weekday"] == weekday && c["hour"] == hour)
        .unwrap();
    found["count"].as_u64().unwrap()
}

fn stage<'a>(stages: &'a Value, name: &str) -> &'a Value {
    stages["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap()
}

/// `value` within the buckets' 4.4% (and a few seconds of real time) of `expected`.
fn near(value: &Value, expected: f64) {
    let value = value.as_f64().unwrap_or_else(|| panic!("{value}"));
    assert!(
        (value - expected).abs() <= expected * 0.045 + 5.0,
        "{value} is not near {expected}"
    );
}

fn material<'a>(returns: &'a Value, code: &str) -> &'a Value {
    returns["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["matter_code"] == SOCIAL_CARD && m["material_code"] == code)
        .unwrap_or_else(|| panic!("{code} in {returns}"))
}

#[tokio::test]
async fn a_case_through_the_api_shows_in_its_departments_statistics_only() {
    let app = spawn_app().await;
    let reviewer = staff_token(&app, "stats.reviewer", "reviewer", SOCIAL).await;
    let approver = staff_token(&app, "stats.approver", "approver", SOCIAL).await;
    let other = staff_token(&app, "stats.other", "reviewer", CIVIL).await;
    let admin = staff_token(&app, "stats.admin", "admin", "").await;
    let citizen = app.citizen_token("stats-citizen").await;

    // Filed: the heat map's cell of the hour, the top item, the pre-review queue.
    let before = local_cell(&app);
    let id = submitted_case(&app, &citizen, None, 40).await;
    let after = local_cell(&app);
    let filings = get(&app, &reviewer, "/v1/stats/filings").await;
    assert_eq!(filings["total"], 1);
    if before == after {
        assert_eq!(cell(&filings, before), 1, "{filings}");
    } else {
        assert_eq!(cell(&filings, before) + cell(&filings, after), 1);
    }
    assert_eq!(
        filings["top_matters"],
        json!([{"matter_code": SOCIAL_CARD, "matter_name": filings["top_matters"][0]["matter_name"], "count": 1}])
    );
    assert_ne!(filings["top_matters"][0]["matter_name"], SOCIAL_CARD);
    let workload = get(&app, &reviewer, "/v1/stats/workload").await;
    assert_eq!(workload["total"]["waiting"], 1, "{workload}");
    assert_eq!(workload["departments"][0]["department_code"], SOCIAL);
    assert_eq!(
        workload["departments"][0]["matters"][0]["matter_code"],
        SOCIAL_CARD
    );

    // Two hours later it is returned for its photo; an hour after the fix it is approved.
    app.state.clock.advance(2 * HOUR);
    assert_eq!(
        claim_next(&app, &reviewer).await.as_deref(),
        Some(id.as_str())
    );
    let workload = get(&app, &reviewer, "/v1/stats/workload").await;
    assert_eq!(workload["total"]["claimed"], 1);
    assert_eq!(workload["total"]["waiting"], 0);
    let body =
        json!({"outcome": "return", "reasons": [{"material_code": "id-photo", "reason": REASON}]});
    assert_eq!(
        decide(&app, &reviewer, Desk::Review, &id, body)
            .await
            .status(),
        200
    );
    let case: Value = get(&app, &citizen, &format!("/v1/applications/{id}")).await;
    replace_photo(&app, &citizen, &id, &case, 41).await;
    let path = format!("/v1/applications/{id}/submit");
    assert_eq!(app.post_as(&citizen, &path, &json!({})).await.status(), 200);
    app.state.clock.advance(HOUR);
    assert_eq!(
        claim_next(&app, &reviewer).await.as_deref(),
        Some(id.as_str())
    );
    let approve = json!({"outcome": "approve"});
    let approved = decide(&app, &reviewer, Desk::Review, &id, approve).await;
    assert_eq!(approved.status(), 200);
    let workload = get(&app, &approver, "/v1/stats/workload").await;
    assert_eq!(workload["total"]["at_department"], 1, "{workload}");
    assert_eq!(workload["total"]["claimed"], 0);

    // Three hours at the department, then refused.
    app.state.clock.advance(3 * HOUR);
    let refuse = json!({"outcome": "refused", "note": "不符合条件"});
    let refused = decide(&app, &approver, Desk::Department, &id, refuse).await;
    assert_eq!(refused.status(), 200);

    // A resubmission is not a filing.
    let filings = get(&app, &reviewer, "/v1/stats/filings").await;
    assert_eq!(filings["total"], 1);

    // Stages: two pre-review decisions (2 h and 1 h), one department decision (3 h).
    let stages = get(&app, &approver, "/v1/stats/stages").await;
    let prereview = stage(&stages, "prereview");
    assert_eq!(prereview["count"], 2, "{stages}");
    near(&prereview["median_secs"], 3600.0);
    near(&prereview["p90_secs"], 7200.0);
    near(&prereview["mean_secs"], 5400.0);
    let department = stage(&stages, "department");
    assert_eq!(department["count"], 1);
    near(&department["median_secs"], 10_800.0);
    for name in ["pickup", "transit", "delivery"] {
        assert_eq!(stage(&stages, name)["count"], 0, "{name}");
        assert!(stage(&stages, name).get("median_secs").is_none());
    }

    // Returns: every material was covered by both decisions, the photo returned once.
    let returns = get(&app, &reviewer, "/v1/stats/returns").await;
    let photo = material(&returns, "id-photo");
    assert_eq!(photo["decisions"], 2, "{returns}");
    assert_eq!(photo["returns"], 1);
    assert_eq!(photo["return_rate"], 0.5);
    assert_eq!(
        photo["top_reasons"],
        json!([{"reason": REASON, "count": 1}])
    );
    assert_ne!(photo["material_name"], "id-photo");
    let card = material(&returns, "id-card");
    assert_eq!(card["decisions"], 2);
    assert_eq!(card["returns"], 0);
    assert_eq!(card["top_reasons"], json!([]));
    assert_eq!(returns["items"][0]["material_code"], "id-photo");
    // The console's "common reasons" of one material.
    let one = get(
        &app,
        &reviewer,
        &format!("/v1/stats/returns?matter={SOCIAL_CARD}&material=id-photo"),
    )
    .await;
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    assert_eq!(one["items"][0]["top_reasons"][0]["reason"], REASON);

    // A reviewer of another department sees none of it, and may not ask for this one.
    let theirs = get(&app, &other, "/v1/stats/filings").await;
    assert_eq!(theirs["total"], 0);
    assert_eq!(theirs["top_matters"], json!([]));
    let theirs = get(&app, &other, "/v1/stats/returns").await;
    assert_eq!(theirs["items"], json!([]));
    let theirs = get(&app, &other, "/v1/stats/stages").await;
    assert_eq!(stage(&theirs, "prereview")["count"], 0);
    let path = format!("/v1/stats/filings?department={SOCIAL}");
    assert_problem(app.get_as(&other, &path).await, 404, "department_not_found").await;
    let path = format!("/v1/stats/workload?department={SOCIAL}");
    assert_problem(app.get_as(&other, &path).await, 404, "department_not_found").await;

    // An admin without departments sees every department, or the one asked for.
    let everyone = get(&app, &admin, "/v1/stats/filings").await;
    assert_eq!(everyone["total"], 1);
    let path = format!("/v1/stats/filings?department={SOCIAL}");
    assert_eq!(get(&app, &admin, &path).await["total"], 1);
    let path = format!("/v1/stats/filings?department={CIVIL}");
    assert_eq!(get(&app, &admin, &path).await["total"], 0);
    let path = "/v1/stats/filings?department=no-such-department";
    assert_problem(app.get_as(&admin, path).await, 404, "department_not_found").await;

    // A period without the case counts nothing.
    let path = "/v1/stats/filings?from=2020-01-01&to=2020-01-31";
    let old = get(&app, &reviewer, path).await;
    assert_eq!(old["total"], 0);
    assert_eq!(old["from"], "2020-01-01");
    assert_eq!(old["to"], "2020-01-31");

    // A rebuild from the events and decisions gives the same answers.
    let paths = ["/v1/stats/filings", "/v1/stats/stages", "/v1/stats/returns"];
    let mut live = Vec::new();
    for path in paths {
        live.push(get(&app, &admin, path).await);
    }
    let db = app.state.database().unwrap();
    beebox::store::stats::rebuild::rebuild(db, app.config.local_offset())
        .await
        .unwrap();
    for (path, live) in paths.into_iter().zip(live) {
        assert_eq!(get(&app, &admin, path).await, live, "{path}");
    }
}

#[tokio::test]
async fn bad_periods_and_departments_answer_problems_with_stable_codes() {
    let app = spawn_app().await;
    let reviewer = staff_token(&app, "stats.params", "reviewer", SOCIAL).await;
    for path in [
        "/v1/stats/filings?from=2026-02-30",
        "/v1/stats/stages?to=yesterday",
        "/v1/stats/returns?from=2026-1-1",
    ] {
        assert_problem(app.get_as(&reviewer, path).await, 400, "invalid_date").await;
    }
    for path in [
        "/v1/stats/filings?from=2026-03-02&to=2026-03-01",
        "/v1/stats/stages?from=2025-01-01&to=2026-01-02",
    ] {
        assert_problem(app.get_as(&reviewer, path).await, 400, "invalid_period").await;
    }
    let path = "/v1/stats/returns?department=civil-affairs";
    assert_problem(
        app.get_as(&reviewer, path).await,
        404,
        "department_not_found",
    )
    .await;
    // A whole year is allowed.
    let path = "/v1/stats/stages?from=2025-01-01&to=2025-12-31";
    assert_eq!(app.get_as(&reviewer, path).await.status(), 200);
    // Citizens are not staff.
    let citizen = app.citizen_token("stats-nosy").await;
    assert_problem(
        app.get_as(&citizen, "/v1/stats/workload").await,
        403,
        "staff_only",
    )
    .await;
}

#[tokio::test]
async fn the_courier_legs_time_every_stage_and_show_in_the_workload() {
    let app = quick_app().await;
    let citizen = app.citizen_token("stats-courier").await;
    let reviewer = staff_token(&app, "stats.courier.reviewer", "reviewer", CIVIL).await;
    let desk = staff_token(&app, "stats.courier.desk", "reception", CIVIL).await;
    let approver = staff_token(&app, "stats.courier.approver", "approver", CIVIL).await;

    let created = create(&app, &citizen, ELDERLY_CARD).await;
    let id = created["id"].as_str().unwrap().to_string();
    let pages = [
        ("id-card", 1u8),
        ("id-card", 2),
        ("household-register", 3),
        ("household-register", 4),
        ("id-photo", 5),
        ("application-form", 6),
    ];
    for (material, seed) in pages {
        let response = upload(&app, &citizen, &id, material, jpeg(seed * 13), "p.jpg").await;
        assert_eq!(response.status(), 201, "{material}");
    }
    let path = format!("/v1/applications/{id}/submit");
    assert_eq!(app.post_as(&citizen, &path, &json!({})).await.status(), 200);
    assert_eq!(
        claim_next(&app, &reviewer).await.as_deref(),
        Some(id.as_str())
    );
    let approve = json!({"outcome": "approve"});
    let approved = decide(&app, &reviewer, Desk::Review, &id, approve).await;
    assert_eq!(approved.status(), 200);

    // The courier collects the originals and delivers them at the centre: reception's queue.
    let window = slots(&app, &citizen).await[0].clone();
    let booked = booking(
        window["date"].as_str().unwrap(),
        window["slot"].as_str().unwrap(),
    );
    let path = format!("/v1/applications/{id}/pickup");
    assert_eq!(app.post_as(&citizen, &path, &booked).await.status(), 201);
    shipments_until(&app, &citizen, &id, "originals delivered", |items| {
        items
            .iter()
            .any(|s| s["leg"] == "materials" && s["status"] == "delivered")
    })
    .await;
    let workload = get(&app, &desk, "/v1/stats/workload").await;
    assert_eq!(workload["total"]["at_reception"], 1, "{workload}");
    assert_eq!(workload["total"]["in_transit"], 0);

    // Reception confirms: it waits for the batch, then the department decides.
    let path = format!("/v1/reception/applications/{id}/receive");
    let received = app.post_as(&desk, &path, &json!({"matches": true})).await;
    assert_eq!(received.status(), 200);
    let workload = get(&app, &desk, "/v1/stats/workload").await;
    assert_eq!(workload["total"]["awaiting_dispatch"], 1, "{workload}");
    dispatch_now(&app, "stats").await;
    wait_state(&app, &citizen, &id, "at_department").await;
    let scan = upload_result(&app, &approver, &id, jpeg(77), "card.jpg").await;
    assert_eq!(scan.status(), 201);
    let body = json!({"outcome": "approved", "note": "准予办理"});
    let decided = decide(&app, &approver, Desk::Department, &id, body).await;
    assert_eq!(decided.status(), 200);
    wait_state(&app, &citizen, &id, "completed").await;

    // Each stage ended once; the delivery was the courier's, not the citizen's confirmation.
    let path = format!("/v1/applications/{id}/confirm-receipt");
    assert_eq!(app.post_as(&citizen, &path, &json!({})).await.status(), 200);
    let stages = get(&app, &approver, "/v1/stats/stages").await;
    for name in ["prereview", "pickup", "transit", "department", "delivery"] {
        let figure = stage(&stages, name);
        assert_eq!(figure["count"], 1, "{name}: {stages}");
        assert!(figure["median_secs"].as_i64().unwrap() >= 0);
    }
    let workload = get(&app, &approver, "/v1/stats/workload").await;
    assert_eq!(workload["departments"], json!([]), "{workload}");

    // The rebuild agrees.
    let db = app.state.database().unwrap();
    beebox::store::stats::rebuild::rebuild(db, app.config.local_offset())
        .await
        .unwrap();
    assert_eq!(get(&app, &approver, "/v1/stats/stages").await, stages);
}
