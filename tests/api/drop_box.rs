//! The 24-hour box as a drop-off for originals: choosing it where the item allows it, taking
//! it back, and reception's scans of envelopes that are unknown, mistyped, used, withdrawn, of a
//! cancelled case or of another department, each a clear error that changes nothing and is kept
//! in the run. The whole flow through the box is in `two_way_flow.rs`.

use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};

use crate::support::answers::{assert_problem, contains, pdf_shown};
use crate::support::cases::{CIVIL, SOCIAL, state_of};
use crate::support::courier::{booking, slots};
use crate::support::seeds::{passed_case, seeded_case};
use crate::support::staff::staff_token;
use crate::support::{TestApp, spawn_app};

fn address() -> Value {
    booking("2026-01-01", "09:00-12:00")["address"].clone()
}

async fn choose(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.post_as(
        token,
        &format!("/v1/applications/{id}/drop-off"),
        &json!({ "address": address() }),
    )
    .await
}

/// A passed case of the sample's drop-box item with its drop-off chosen: (token, id, code).
async fn dropped(app: &TestApp, name: &str) -> (String, String, String) {
    let (token, id) = passed_case(app, name).await;
    let response = choose(app, &token, &id).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    (token, id, body["code"].as_str().unwrap().to_string())
}

/// A new run of reception member `desk`: its scans path.
async fn run(app: &TestApp, desk: &str) -> String {
    let run: Value = app
        .post_as(desk, "/v1/reception/box-runs", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    format!("/v1/reception/box-runs/{}", run["id"].as_str().unwrap())
}

/// The run at `run`, and the outcome of each of its scans in order.
async fn run_outcomes(app: &TestApp, desk: &str, run: &str) -> (Value, Vec<String>) {
    let kept: Value = app.get_as(desk, run).await.json().await.unwrap();
    let outcomes = kept["scans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["outcome"].as_str().unwrap().to_string())
        .collect();
    (kept, outcomes)
}

async fn scan(app: &TestApp, desk: &str, run: &str, code: &str) -> reqwest::Response {
    app.post_as(desk, &format!("{run}/scans"), &json!({ "code": code }))
        .await
}

#[tokio::test]
async fn a_drop_off_is_chosen_once_shown_to_its_citizen_only_and_offered_only_where_allowed() {
    let app = spawn_app().await;
    let (token, id) = passed_case(&app, "chooser").await;
    let first = choose(&app, &token, &id).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let code = first["code"].as_str().unwrap();
    assert!(
        code.len() == 9 && code.as_bytes()[4] == b'-',
        "XXXX-XXXX: {code}"
    );
    assert_eq!(first["emptied_at"], json!(["09:30", "15:30"]));
    assert!(first["place"].as_str().unwrap().contains("投递箱"));
    // A retry answers the same drop-off; a pickup is refused while it stands.
    let again = choose(&app, &token, &id).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["code"], first["code"]);
    let window = slots(&app, &token).await[0].clone();
    let pickup = booking(
        window["date"].as_str().unwrap(),
        window["slot"].as_str().unwrap(),
    );
    let refused = app
        .post_as(&token, &format!("/v1/applications/{id}/pickup"), &pickup)
        .await;
    assert_problem(refused, 409, "invalid_state").await;
    // Another citizen sees nothing of it.
    let other = app.citizen_token("someone-else").await;
    for path in ["", "/qr"] {
        let seen = app
            .get_as(&other, &format!("/v1/applications/{id}/drop-off{path}"))
            .await;
        assert_problem(seen, 404, "application_not_found").await;
    }
    // An item that does not take its originals in the box.
    let (token, id) = seeded_case(
        &app,
        "no-box",
        "disability-card-renewal",
        "prereview_passed",
        |_| {},
    )
    .await;
    let refused = choose(&app, &token, &id.to_string()).await;
    assert_problem(refused, 409, "drop_off_not_offered").await;
    assert_eq!(
        state_of(&app, &token, &id.to_string()).await,
        "prereview_passed"
    );
    // Nor before pre-review passed.
    let (token, id) = seeded_case(
        &app,
        "too-early",
        crate::support::cases::ELDERLY_CARD,
        "submitted",
        |_| {},
    )
    .await;
    assert_problem(
        choose(&app, &token, &id.to_string()).await,
        409,
        "invalid_state",
    )
    .await;
}

#[tokio::test]
async fn a_mistyped_or_unknown_code_and_a_second_scan_are_clear_errors_that_change_nothing() {
    let app = spawn_app().await;
    let (token, id, code) = dropped(&app, "scanned-twice").await;
    let desk = staff_token(&app, "box.scanner", "reception", CIVIL).await;
    let run = run(&app, &desk).await;

    assert_problem(
        scan(&app, &desk, &run, "K7M2-9QX").await,
        404,
        "drop_code_unknown",
    )
    .await;
    assert_problem(
        scan(&app, &desk, &run, "ZZZZ-ZZZZ").await,
        404,
        "drop_code_unknown",
    )
    .await;
    assert_eq!(state_of(&app, &token, &id).await, "awaiting_drop_off");

    let received = scan(&app, &desk, &run, &code).await;
    assert_eq!(received.status(), 201);
    assert_eq!(state_of(&app, &token, &id).await, "originals_in_transit");
    // The arrivals scanner finds the envelope by its code however typed, shown as on it; so
    // does the citizen's list of parcels.
    let typed = code.replace('-', "").to_lowercase();
    let found: Value = app
        .get_as(&desk, &format!("/v1/reception/waybills/{typed}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["id"], id.as_str(), "{found}");
    assert_eq!(
        (
            &found["partner"],
            &found["waybill_no"],
            &found["awaiting_reception"]
        ),
        (&json!("box"), &json!(code), &json!(true))
    );
    let legs: Value = app
        .get_as(&token, &format!("/v1/applications/{id}/shipments"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(legs["items"][0]["waybill_no"], code.as_str(), "{legs}");
    let timeline = app.timeline_actions(&token, &id).await;
    let used = assert_problem(scan(&app, &desk, &run, &code).await, 409, "drop_code_used").await;
    assert!(used["detail"].as_str().unwrap().contains("before"));
    assert_eq!(app.timeline_actions(&token, &id).await, timeline);
    // Once in, the citizen can no longer take it back.
    let late = app
        .delete_as(&token, &format!("/v1/applications/{id}/drop-off"))
        .await;
    assert_problem(late, 409, "drop_off_collected").await;

    // The run keeps every envelope, matched or not.
    let (kept, outcomes) = run_outcomes(&app, &desk, &run).await;
    assert_eq!(outcomes, ["unknown", "unknown", "received", "used"]);
    assert_eq!(kept["scans"][2]["application_id"], id.as_str());
    // A closed run takes no more scans.
    let closed: Value = app
        .post_as(&desk, &format!("{run}/close"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(closed["closed_at"].is_string());
    assert_problem(scan(&app, &desk, &run, &code).await, 409, "box_run_closed").await;
}

#[tokio::test]
async fn a_withdrawn_drop_off_a_cancelled_case_and_another_departments_envelope_change_nothing() {
    let app = spawn_app().await;
    let desk = staff_token(&app, "box.civil", "reception", CIVIL).await;
    let run = run(&app, &desk).await;

    // Taken back: the code is void, and the case can book a pickup.
    let (token, id, code) = dropped(&app, "withdrawn").await;
    let taken_back = app
        .delete_as(&token, &format!("/v1/applications/{id}/drop-off"))
        .await;
    assert_eq!(taken_back.status(), 204);
    assert_eq!(state_of(&app, &token, &id).await, "prereview_passed");
    assert_problem(
        scan(&app, &desk, &run, &code).await,
        409,
        "drop_code_withdrawn",
    )
    .await;
    assert_eq!(state_of(&app, &token, &id).await, "prereview_passed");
    let window = slots(&app, &token).await[0].clone();
    let pickup = booking(
        window["date"].as_str().unwrap(),
        window["slot"].as_str().unwrap(),
    );
    let booked = app
        .post_as(&token, &format!("/v1/applications/{id}/pickup"), &pickup)
        .await;
    assert_eq!(booked.status(), 201);

    // Another department's reception: told whose it is, nothing of the case, nothing moved.
    let (token, id, code) = dropped(&app, "elsewhere").await;
    let social = staff_token(&app, "box.social", "reception", SOCIAL).await;
    let their_run = self::run(&app, &social).await;
    let refused = assert_problem(
        scan(&app, &social, &their_run, &code).await,
        409,
        "drop_code_other_department",
    )
    .await;
    assert!(refused["detail"].as_str().unwrap().contains(CIVIL));
    let kept: Value = app.get_as(&social, &their_run).await.json().await.unwrap();
    assert!(kept["scans"][0].get("application_id").is_none(), "{kept}");
    assert_eq!(state_of(&app, &token, &id).await, "awaiting_drop_off");

    // A case cancelled since (the flow offers no way there; an operator's fix in the database
    // is one): the envelope stays aside, the case stays cancelled.
    let db = app.state.database().unwrap();
    let uuid: uuid::Uuid = id.parse().unwrap();
    let row = beebox::store::applications::application::Entity::find_by_id(uuid)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut row: beebox::store::applications::application::ActiveModel = row.into();
    row.state = Set("cancelled".into());
    row.update(db).await.unwrap();
    assert_problem(
        scan(&app, &desk, &run, &code).await,
        409,
        "drop_code_case_cancelled",
    )
    .await;
    assert_eq!(state_of(&app, &token, &id).await, "cancelled");
}

#[tokio::test]
async fn the_cover_sheet_is_a_printable_pdf_of_the_code_for_its_citizen_only() {
    let app = spawn_app().await;
    let (token, id) = passed_case(&app, "cover").await;
    let path = format!("/v1/applications/{id}/drop-off/cover");
    // No sheet before the box is chosen.
    assert_problem(app.get_as(&token, &path).await, 404, "drop_off_not_found").await;
    let chosen: Value = choose(&app, &token, &id).await.json().await.unwrap();
    let code = chosen["code"].as_str().unwrap();
    assert_eq!(chosen["cover_url"], path.as_str());

    let sheet = app.get_as(&token, &path).await;
    assert_eq!(sheet.status(), 200);
    assert_eq!(sheet.headers()["content-type"], "application/pdf");
    let disposition = sheet.headers()["content-disposition"].to_str().unwrap();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"drop-off-{code}.pdf\"")
    );
    let pdf = sheet.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(contains(&pdf, b"/Count 1"), "one page");
    // The code in large type, and the application's number.
    assert!(contains(&pdf, &pdf_shown(code)), "the code is on the sheet");
    assert!(contains(&pdf, b"/BaseFont /STSong-Light"));
    let number = format!("申请编号：{}", id.replace('-', ""));
    assert!(
        contains(&pdf, &pdf_shown(&number)),
        "the application number"
    );

    // Another citizen sees nothing; taken back, there is no sheet.
    let other = app.citizen_token("not-the-owner").await;
    assert_problem(
        app.get_as(&other, &path).await,
        404,
        "application_not_found",
    )
    .await;
    let taken_back = app
        .delete_as(&token, &format!("/v1/applications/{id}/drop-off"))
        .await;
    assert_eq!(taken_back.status(), 204);
    assert_problem(app.get_as(&token, &path).await, 404, "drop_off_not_found").await;
}

#[tokio::test]
async fn a_drop_not_found_by_its_day_is_flagged_once_and_its_citizen_reminded() {
    let app = crate::support::spawn_app_with(|c| {
        c.jobs.poll_ms = 50;
        crate::support::mail::mail_to_peer(c);
    })
    .await;
    let email = crate::support::mail::unique_address("late-drop");
    let (token, id) = seeded_case(
        &app,
        "late-drop",
        crate::support::cases::ELDERLY_CARD,
        "prereview_passed",
        |row| row.applicant_email = Set(Some(email.clone())),
    )
    .await;
    let id = id.to_string();
    let chosen: Value = choose(&app, &token, &id).await.json().await.unwrap();
    let code = chosen["code"].as_str().unwrap().to_string();
    let chosen_at: chrono::DateTime<chrono::Utc> =
        chosen["created_at"].as_str().unwrap().parse().unwrap();
    let drop_by: chrono::DateTime<chrono::Utc> =
        chosen["drop_by"].as_str().unwrap().parse().unwrap();
    assert_eq!(drop_by - chosen_at, chrono::Duration::days(3));
    assert!(chosen.get("reminded_at").is_none(), "{chosen}");

    let db = app.state.database().unwrap();
    let cases = &app.state.cases;
    assert_eq!(
        cases.remind_late_drops(db).await.unwrap(),
        0,
        "not late yet"
    );
    let desk = staff_token(&app, "late.desk", "reception", CIVIL).await;
    let admin = staff_token(&app, "late.admin", "admin", "").await;
    assert!(box_problems(&app, &admin).await.is_empty());

    // Three days on, the drop is late: flagged and reminded once, however often the job runs.
    app.state
        .clock
        .advance(std::time::Duration::from_secs(3 * 24 * 3600 + 60));
    assert_eq!(cases.remind_late_drops(db).await.unwrap(), 1);
    assert_eq!(cases.remind_late_drops(db).await.unwrap(), 0);
    let seen: Value = app
        .get_as(&token, &format!("/v1/applications/{id}/drop-off"))
        .await
        .json()
        .await
        .unwrap();
    assert!(seen["reminded_at"].is_string(), "{seen}");
    assert_eq!(state_of(&app, &token, &id).await, "awaiting_drop_off");
    let actions = app.timeline_actions(&token, &id).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "remind_drop_off").count(),
        1,
        "{actions:?}"
    );
    let mails = crate::support::mail::wait_for_mail_to(&email, 1).await;
    let reminder = mails
        .iter()
        .find(|m| m["subject"].as_str().unwrap().contains(&code))
        .expect("the reminder names the code");
    let text = reminder["text"].as_str().unwrap();
    assert!(text.contains(&format!("投递码：{code}")), "{text}");
    assert!(text.contains("开箱时间：每日 09:30、15:30"), "{text}");

    // Operators see it on the problems view; reception sees it with the box.
    let listed = box_problems(&app, &admin).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["reason"], "drop_overdue");
    assert_eq!(listed[0]["application_id"], id.as_str());
    let the_box: Value = app
        .get_as(&desk, "/v1/reception/box")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(the_box["waiting"], 1, "{the_box}");
    assert_eq!(the_box["overdue"][0]["code"], code.as_str());
    assert_eq!(the_box["overdue"][0]["application_id"], id.as_str());

    // Found at last: nothing waits, nothing is a problem, and no second reminder goes.
    let run = run(&app, &desk).await;
    assert_eq!(scan(&app, &desk, &run, &code).await.status(), 201);
    assert!(box_problems(&app, &admin).await.is_empty());
    let the_box: Value = app
        .get_as(&desk, "/v1/reception/box")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (the_box["waiting"].clone(), the_box["overdue"].clone()),
        (json!(0), json!([]))
    );
    assert_eq!(cases.remind_late_drops(db).await.unwrap(), 0);
}

#[tokio::test]
async fn a_scan_retried_under_its_key_answers_as_it_did_and_is_kept_once() {
    let app = spawn_app().await;
    let (token, id, code) = dropped(&app, "retried-scan").await;
    let desk = staff_token(&app, "retry.desk", "reception", CIVIL).await;
    let run = run(&app, &desk).await;
    let keyed = |key: &'static str, code: String| {
        app.client
            .post(app.url(&format!("{run}/scans")))
            .bearer_auth(&desk)
            .header("Idempotency-Key", key)
            .json(&json!({ "code": code }))
            .send()
    };
    let first = keyed("scan-1", code.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = keyed("scan-1", code.clone()).await.unwrap();
    assert_eq!(again.status(), 200, "the retry is answered as received");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["scan"]["id"], first["scan"]["id"]);
    assert_eq!(again["application_id"], id.as_str());
    assert_eq!(state_of(&app, &token, &id).await, "originals_in_transit");
    // The key of that scan with another code is a client's mistake, not a retry.
    assert_problem(
        keyed("scan-1", "ZZZZ-ZZZZ".into()).await.unwrap(),
        422,
        "idempotency_key_reused",
    )
    .await;
    // The same envelope scanned again (another key, or none) is the clear error it was.
    assert_problem(
        keyed("scan-2", code.clone()).await.unwrap(),
        409,
        "drop_code_used",
    )
    .await;
    assert_problem(scan(&app, &desk, &run, &code).await, 409, "drop_code_used").await;
    // A mistyped code's retry is the same 404, kept once.
    assert_problem(
        keyed("scan-3", "ZZZZ".into()).await.unwrap(),
        404,
        "drop_code_unknown",
    )
    .await;
    assert_problem(
        keyed("scan-3", "ZZZZ".into()).await.unwrap(),
        404,
        "drop_code_unknown",
    )
    .await;
    let (_, outcomes) = run_outcomes(&app, &desk, &run).await;
    assert_eq!(outcomes, ["received", "used", "used", "unknown"]);
    // Another department's envelope: its retry names the department again.
    let (_, _, theirs) = dropped(&app, "retried-elsewhere").await;
    let social = staff_token(&app, "retry.social", "reception", SOCIAL).await;
    let their_run = self::run(&app, &social).await;
    for _ in 0..2 {
        let refused = app
            .client
            .post(app.url(&format!("{their_run}/scans")))
            .bearer_auth(&social)
            .header("Idempotency-Key", "scan-elsewhere")
            .json(&json!({ "code": theirs }))
            .send()
            .await
            .unwrap();
        let refused = assert_problem(refused, 409, "drop_code_other_department").await;
        assert!(
            refused["detail"].as_str().unwrap().contains(CIVIL),
            "{refused}"
        );
    }
    assert_eq!(
        run_outcomes(&app, &social, &their_run).await.1,
        ["other_department"]
    );
    // After the run closed, a retry still gets its answer; a new scan does not.
    let closed = app
        .post_as(&desk, &format!("{run}/close"), &json!({}))
        .await;
    assert_eq!(closed.status(), 200);
    assert_eq!(keyed("scan-1", code.clone()).await.unwrap().status(), 200);
    assert_problem(keyed("scan-4", code).await.unwrap(), 409, "box_run_closed").await;
}

#[tokio::test]
async fn the_box_today_shows_each_emptying_done_missed_or_to_come() {
    let app = spawn_app().await;
    let desk = staff_token(&app, "schedule.desk", "reception", CIVIL).await;
    // Local noon (the centre's time) of the next day: 09:30 has passed, 15:30 is to come.
    let offset = app.state.config.local_offset();
    let now = app.state.clock.now().with_timezone(&offset);
    let noon = (now.date_naive() + chrono::Duration::days(1))
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_local_timezone(offset)
        .unwrap();
    app.state.clock.advance(
        (noon.with_timezone(&chrono::Utc) - app.state.clock.now())
            .to_std()
            .unwrap(),
    );
    let status = box_today(&app, &desk).await;
    let emptyings: Vec<(&str, &str)> = status["today"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["time"].as_str().unwrap(), e["status"].as_str().unwrap()))
        .collect();
    assert_eq!(emptyings, [("09:30", "missed"), ("15:30", "upcoming")]);
    assert!(status.get("open_run").is_none(), "{status}");

    // A late run at noon still counts for the morning's, and is the open run.
    let started: Value = app
        .post_as(&desk, "/v1/reception/box-runs", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let status = box_today(&app, &desk).await;
    assert_eq!(status["today"][0]["status"], "done");
    assert_eq!(status["today"][0]["run_started_at"], started["started_at"]);
    assert_eq!(status["today"][1]["status"], "upcoming");
    assert_eq!(status["open_run"], started["id"]);

    // At 16:00 with no run since, the afternoon's is missed; a run then makes it done.
    app.state
        .clock
        .advance(std::time::Duration::from_secs(4 * 3600));
    let status = box_today(&app, &desk).await;
    assert_eq!(status["today"][1]["status"], "missed");
    app.post_as(&desk, "/v1/reception/box-runs", &json!({}))
        .await;
    let status = box_today(&app, &desk).await;
    assert_eq!(status["today"][1]["status"], "done");
    // Only reception reads it.
    let citizen = app.citizen_token("not-staff").await;
    assert_eq!(
        app.get_as(&citizen, "/v1/reception/box").await.status(),
        403
    );
}

async fn box_problems(app: &TestApp, admin: &str) -> Vec<Value> {
    let list: Value = app
        .get_as(admin, "/v1/admin/shipments/problems?partner=box")
        .await
        .json()
        .await
        .unwrap();
    list["items"].as_array().unwrap().clone()
}

async fn box_today(app: &TestApp, desk: &str) -> Value {
    app.get_as(desk, "/v1/reception/box")
        .await
        .json()
        .await
        .unwrap()
}
