//! The department's desk and leg 2: the queue, result files, decisions, the result posted back
//! by the in-process SF simulator, confirm-receipt and auto-confirm. The whole two-way flow is
//! in `two_way_flow.rs`.

use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};

use crate::helpers::{TestApp, application_row, assert_problem, spawn_app_with};
use crate::pages::{GPS_PHOTO, app1_segments, fetch, has_gps_ifd, jpeg};
use crate::pickup::{shipments_until, state_of};
use crate::staff::staff_token;

pub const CIVIL: &str = "civil-affairs";
const POSTED_ITEM: &str = "elderly-preferential-card";
const UNPOSTED_ITEM: &str = "birth-registration";

pub async fn quick_app() -> TestApp {
    spawn_app_with(|c| {
        c.courier.sf.sim_step_ms = 100;
        c.jobs.poll_ms = 50;
    })
    .await
}

/// A case of `item` waiting for its department, owned by the dev citizen `name`, with a
/// return address. Setup only: the road there is played in `two_way_flow.rs`.
pub async fn waiting_case(app: &TestApp, name: &str, item: &str) -> (String, String) {
    let token = app.citizen_token(name).await;
    let db = app.state.database().unwrap();
    let citizen = beebox::store::citizens::upsert_by_openid(db, &format!("dev-{name}"), None)
        .await
        .unwrap();
    let version = beebox::store::catalog::find(db, item, None)
        .await
        .unwrap()
        .unwrap();
    let mut row = application_row(citizen.id, &version, "at_department", Utc::now());
    row.return_address = Set(Some(json!({
        "province": "浙江省", "city": "杭州市", "district": "拱墅区",
        "detail": "湖墅南路 88 号 2 单元 601", "contact_name": "李四", "phone": "13900139000"
    })));
    let row = row.insert(db).await.unwrap();
    (token, row.id.to_string())
}

pub async fn upload_result(
    app: &TestApp,
    token: &str,
    id: &str,
    bytes: Vec<u8>,
    name: &str,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    );
    app.client
        .post(app.url(&format!("/v1/department/applications/{id}/results")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

pub async fn decide(app: &TestApp, token: &str, id: &str, body: Value) -> reqwest::Response {
    app.post_as(
        token,
        &format!("/v1/department/applications/{id}/decision"),
        &body,
    )
    .await
}

pub async fn wait_state(app: &TestApp, token: &str, id: &str, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = state_of(app, token, id).await;
        if state == wanted {
            return;
        }
        assert!(Instant::now() < deadline, "still {state}, never {wanted}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn an_approved_posted_result_goes_by_courier_and_its_delivery_completes_the_case() {
    let app = quick_app().await;
    let approver = staff_token(&app, "civil.approver", "approver", CIVIL).await;
    let (citizen, id) = waiting_case(&app, "posted", POSTED_ITEM).await;

    let queue = json_of(app.get_as(&approver, "/v1/department/queue").await, 200).await;
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(items[0]["department_code"], CIVIL);

    let decided = json_of(
        decide(
            &app,
            &approver,
            &id,
            json!({"outcome": "approved", "note": "准予发证"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(decided["state"], "result_in_delivery");
    assert_eq!(decided["decision"]["outcome"], "approved");
    let leg_id = decided["result_shipment_id"].as_str().unwrap().to_string();
    // The same decision again (a retry) answers the same; another one is refused.
    let again = json_of(
        decide(
            &app,
            &approver,
            &id,
            json!({"outcome": "approved", "note": "准予发证"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(again["decision"]["id"], decided["decision"]["id"]);
    assert_eq!(again["result_shipment_id"], leg_id.as_str());
    assert_problem(
        decide(
            &app,
            &approver,
            &id,
            json!({"outcome": "refused", "note": "x"}),
        )
        .await,
        409,
        "already_decided",
    )
    .await;
    let queue = json_of(app.get_as(&approver, "/v1/department/queue").await, 200).await;
    assert!(queue["items"].as_array().unwrap().is_empty());

    // Leg 2 goes to the return address and its delivery completes the case.
    let legs = shipments_until(&app, &citizen, &id, "result delivered", |items| {
        items
            .iter()
            .any(|s| s["leg"] == "result" && s["status"] == "delivered")
    })
    .await;
    let leg = legs.iter().find(|s| s["leg"] == "result").unwrap();
    assert_eq!(leg["id"], leg_id.as_str());
    assert!(leg["waybill_no"].as_str().unwrap().starts_with("SF"));
    let order = app
        .state
        .couriers
        .simulator
        .as_ref()
        .unwrap()
        .orders()
        .into_iter()
        .find(|o| Some(o.waybill_no.as_str()) == leg["waybill_no"].as_str())
        .expect("the simulator holds the result order");
    assert!(!order.cancelled);
    let row =
        beebox::store::shipments::find(app.state.database().unwrap(), leg_id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
    let recipient: Value = serde_json::from_str(&row.recipient).unwrap();
    assert_eq!(recipient["detail"], "湖墅南路 88 号 2 单元 601");
    assert_eq!(recipient["name"], "李四");
    let sender: Value = serde_json::from_str(&row.sender).unwrap();
    assert_eq!(
        sender["name"],
        app.state.config.courier.centre.name.as_str()
    );
    wait_state(&app, &citizen, &id, "completed").await;

    // The citizen confirms receipt; a retry answers the same.
    let path = format!("/v1/applications/{id}/confirm-receipt");
    let receipt = json_of(app.post_as(&citizen, &path, &json!({})).await, 200).await;
    assert_eq!(receipt["state"], "completed");
    let again = json_of(app.post_as(&citizen, &path, &json!({})).await, 200).await;
    assert_eq!(
        again["receipt_confirmed_at"],
        receipt["receipt_confirmed_at"]
    );
    let result = json_of(
        app.get_as(&citizen, &format!("/v1/applications/{id}/result"))
            .await,
        200,
    )
    .await;
    assert_eq!(result["decision"]["outcome"], "approved");
    assert_eq!(result["decision"]["note"], "准予发证");
    assert_eq!(result["posted"], true);
    assert_eq!(
        result["receipt_confirmed_at"],
        receipt["receipt_confirmed_at"]
    );

    assert_eq!(
        app.timeline_actions(&citizen, &id).await,
        [
            "department_approve",
            "ship_result",
            "deliver_result",
            "confirm_receipt"
        ]
    );
    // Someone else's case is not there for them.
    let stranger = app.citizen_token("stranger").await;
    assert_problem(
        app.get_as(&stranger, &format!("/v1/applications/{id}/result"))
            .await,
        404,
        "application_not_found",
    )
    .await;
    assert_problem(
        app.post_as(&stranger, &path, &json!({})).await,
        404,
        "application_not_found",
    )
    .await;
}

#[tokio::test]
async fn confirming_receipt_before_the_delivery_push_completes_the_case_once() {
    let app = quick_app().await;
    let approver = staff_token(&app, "early.approver", "approver", CIVIL).await;
    let (citizen, id) = waiting_case(&app, "early", POSTED_ITEM).await;
    let path = format!("/v1/applications/{id}/confirm-receipt");
    // Nothing posted yet: nothing to confirm.
    assert_problem(
        app.post_as(&citizen, &path, &json!({})).await,
        409,
        "no_result_to_confirm",
    )
    .await;
    let sim = app.state.couriers.simulator.as_ref().unwrap();
    sim.freeze(true);
    let decided = json_of(
        decide(&app, &approver, &id, json!({"outcome": "approved"})).await,
        200,
    )
    .await;
    assert_eq!(decided["state"], "result_in_delivery");
    let receipt = json_of(app.post_as(&citizen, &path, &json!({})).await, 200).await;
    assert_eq!(receipt["state"], "completed");
    // The courier's delivery, arriving later, changes nothing more.
    sim.freeze(false);
    shipments_until(&app, &citizen, &id, "result delivered", |items| {
        items
            .iter()
            .any(|s| s["leg"] == "result" && s["status"] == "delivered")
    })
    .await;
    assert_eq!(state_of(&app, &citizen, &id).await, "completed");
    assert_eq!(
        app.timeline_actions(&citizen, &id).await,
        ["department_approve", "ship_result", "confirm_receipt"]
    );
}

#[tokio::test]
async fn a_delivered_result_nobody_confirms_is_confirmed_after_the_configured_time() {
    let app = quick_app().await;
    let approver = staff_token(&app, "auto.approver", "approver", CIVIL).await;
    let (citizen, id) = waiting_case(&app, "forgetful", POSTED_ITEM).await;
    json_of(
        decide(&app, &approver, &id, json!({"outcome": "approved"})).await,
        200,
    )
    .await;
    wait_state(&app, &citizen, &id, "completed").await;
    let db = app.state.database().unwrap();
    let confirm = || async {
        let key = format!("test:confirm:{}", uuid::Uuid::new_v4());
        let job = beebox::store::jobs::NewJob::of(&beebox::courier::receipts::ConfirmReceipts {
            slot: 0,
        })
        .deduped_by(key.clone());
        beebox::store::jobs::enqueue(db, job).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let jobs = beebox::store::jobs::job::Entity::find()
                .all(db)
                .await
                .unwrap();
            if jobs
                .iter()
                .any(|j| j.dedupe_key.as_deref() == Some(key.as_str()) && j.state == "done")
            {
                return;
            }
            assert!(Instant::now() < deadline, "the confirm job never ran");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    // Delivered just now: not yet.
    confirm().await;
    let result_path = format!("/v1/applications/{id}/result");
    let result = json_of(app.get_as(&citizen, &result_path).await, 200).await;
    assert!(result.get("receipt_confirmed_at").is_none(), "{result}");

    // Delivered longer ago than `courier.auto_confirm_hours`.
    let hours = app.state.config.courier.auto_confirm_hours as i64;
    let leg = beebox::store::shipments::current_leg(db, id.parse().unwrap(), "result")
        .await
        .unwrap()
        .unwrap();
    let mut leg: beebox::store::shipments::shipment::ActiveModel = leg.into();
    leg.delivered_at = Set(Some(Utc::now() - chrono::Duration::hours(hours + 1)));
    leg.update(db).await.unwrap();
    confirm().await;
    let result = json_of(app.get_as(&citizen, &result_path).await, 200).await;
    assert!(result["receipt_confirmed_at"].is_string(), "{result}");
    let actions = app.timeline_actions(&citizen, &id).await;
    assert_eq!(actions.last().unwrap(), "auto_confirm_receipt");
    // Once only.
    confirm().await;
    let again = app.timeline_actions(&citizen, &id).await;
    assert_eq!(again, actions);
}

#[tokio::test]
async fn a_refusal_needs_its_reason_and_ends_the_case() {
    let app = quick_app().await;
    let approver = staff_token(&app, "strict.approver", "approver", CIVIL).await;
    let (citizen, id) = waiting_case(&app, "refused", POSTED_ITEM).await;
    let problem = assert_problem(
        decide(&app, &approver, &id, json!({"outcome": "refused"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert!(problem.to_string().contains("note"), "{problem}");
    assert_problem(
        decide(&app, &approver, &id, json!({"outcome": "maybe"})).await,
        400,
        "malformed_body",
    )
    .await;
    let note = "申请人年龄未满 60 周岁，不符合办理条件";
    let decided = json_of(
        decide(
            &app,
            &approver,
            &id,
            json!({"outcome": "refused", "note": note}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(decided["state"], "refused");
    assert!(decided.get("result_shipment_id").is_none());
    assert_eq!(state_of(&app, &citizen, &id).await, "refused");
    let result = json_of(
        app.get_as(&citizen, &format!("/v1/applications/{id}/result"))
            .await,
        200,
    )
    .await;
    assert_eq!(result["decision"]["outcome"], "refused");
    assert_eq!(result["decision"]["note"], note);
    assert_eq!(result["posted"], false);
    assert_problem(
        app.post_as(
            &citizen,
            &format!("/v1/applications/{id}/confirm-receipt"),
            &json!({}),
        )
        .await,
        409,
        "no_result_to_confirm",
    )
    .await;
    let shipments = json_of(
        app.get_as(&citizen, &format!("/v1/applications/{id}/shipments"))
            .await,
        200,
    )
    .await;
    assert!(shipments["items"].as_array().unwrap().is_empty());
    assert_eq!(
        app.timeline_actions(&citizen, &id).await,
        ["department_refuse"]
    );
    // The refusal is news to the citizen (dev has no AppID, and the case no email address:
    // the WeChat message is recorded as skipped with its reason).
    let told = crate::notifications::settled_notifications(&app, &citizen, &id, 1).await;
    let events: Vec<(&str, &str, &str)> = told
        .iter()
        .map(|n| {
            (
                n["event"].as_str().unwrap(),
                n["channel"].as_str().unwrap(),
                n["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(events, [("refused", "wechat", "skipped")]);
}

#[tokio::test]
async fn an_item_without_a_paper_result_completes_with_the_decision() {
    let app = quick_app().await;
    let approver = staff_token(&app, "health.approver", "approver", "health-commission").await;
    let (citizen, id) = waiting_case(&app, "newborn", UNPOSTED_ITEM).await;
    let decided = json_of(
        decide(&app, &approver, &id, json!({"outcome": "approved"})).await,
        200,
    )
    .await;
    assert_eq!(decided["state"], "completed");
    assert!(decided.get("result_shipment_id").is_none());
    assert_eq!(state_of(&app, &citizen, &id).await, "completed");
    assert_eq!(
        app.timeline_actions(&citizen, &id).await,
        ["department_approve", "complete"]
    );
    assert_problem(
        app.post_as(
            &citizen,
            &format!("/v1/applications/{id}/confirm-receipt"),
            &json!({}),
        )
        .await,
        409,
        "no_result_to_confirm",
    )
    .await;
}

#[tokio::test]
async fn result_files_are_cleaned_kept_until_the_decision_and_shown_to_the_citizen_after() {
    let app = quick_app().await;
    let approver = staff_token(&app, "scan.approver", "approver", CIVIL).await;
    let (citizen, id) = waiting_case(&app, "scanned", POSTED_ITEM).await;

    let created = json_of(
        upload_result(&app, &approver, &id, GPS_PHOTO.to_vec(), "licence.jpg").await,
        201,
    )
    .await;
    assert_eq!(created["content_type"], "image/jpeg");
    assert_eq!(created["original_name"], "licence.jpg");
    let stored = fetch(&app, created["url"].as_str().unwrap()).await;
    assert!(
        app1_segments(GPS_PHOTO).iter().any(|s| has_gps_ifd(s)),
        "the fixture has GPS"
    );
    assert!(!app1_segments(&stored).iter().any(|s| has_gps_ifd(s)));
    assert_eq!(created["size"], stored.len());

    assert_problem(
        upload_result(&app, &approver, &id, GPS_PHOTO.to_vec(), "again.jpg").await,
        409,
        "duplicate_result_file",
    )
    .await;
    assert_problem(
        upload_result(&app, &approver, &id, b"not a picture".to_vec(), "x.txt").await,
        422,
        "unsupported_file_type",
    )
    .await;
    let spare = json_of(
        upload_result(&app, &approver, &id, jpeg(77), "spare.jpg").await,
        201,
    )
    .await;
    let delete = app
        .client
        .delete(app.url(&format!(
            "/v1/department/applications/{id}/results/{}",
            spare["id"].as_str().unwrap()
        )))
        .bearer_auth(&approver)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);

    // Before the decision the citizen sees no files.
    let result_path = format!("/v1/applications/{id}/result");
    let before = json_of(app.get_as(&citizen, &result_path).await, 200).await;
    assert!(before.get("decision").is_none());
    assert!(before["files"].as_array().unwrap().is_empty());

    let case = json_of(
        app.get_as(&approver, &format!("/v1/department/applications/{id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(case["result_files"].as_array().unwrap().len(), 1);
    assert_eq!(case["application"]["state"], "at_department");

    json_of(
        decide(&app, &approver, &id, json!({"outcome": "approved"})).await,
        200,
    )
    .await;
    assert_problem(
        upload_result(&app, &approver, &id, jpeg(78), "late.jpg").await,
        409,
        "not_at_department",
    )
    .await;
    let after = json_of(app.get_as(&citizen, &result_path).await, 200).await;
    let files = after["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["id"], created["id"]);
    assert_eq!(fetch(&app, files[0]["url"].as_str().unwrap()).await, stored);

    // The audit log has the upload, the deletion and the decision, and the refused uploads
    // with their problem codes.
    let admin = staff_token(&app, "audit.admin", "admin", CIVIL).await;
    let audit = json_of(
        app.get_as(&admin, &format!("/v1/admin/audit?application={id}"))
            .await,
        200,
    )
    .await;
    let mut actions: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let action = e["action"].as_str().unwrap();
            match e["outcome"].as_str().unwrap() {
                "success" => action.to_string(),
                outcome => format!("{action} {outcome} {}", e["detail"].as_str().unwrap()),
            }
        })
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "department.decide",
            "department.result_delete",
            "department.result_upload",
            "department.result_upload",
            "department.result_upload failure duplicate_result_file",
            "department.result_upload failure not_at_department",
            "department.result_upload failure unsupported_file_type",
            "department.view"
        ]
    );
}

#[tokio::test]
async fn the_department_desk_is_for_approvers_of_the_cases_department() {
    let app = quick_app().await;
    let (_, id) = waiting_case(&app, "scoped", POSTED_ITEM).await;
    let reviewer = staff_token(&app, "civil.reviewer", "reviewer", CIVIL).await;
    let elsewhere = staff_token(&app, "other.approver", "approver", "public-security").await;
    assert_problem(
        app.get_as(&reviewer, "/v1/department/queue").await,
        403,
        "role_required",
    )
    .await;
    assert_problem(
        decide(&app, &reviewer, &id, json!({"outcome": "approved"})).await,
        403,
        "role_required",
    )
    .await;
    let queue = json_of(app.get_as(&elsewhere, "/v1/department/queue").await, 200).await;
    assert!(queue["items"].as_array().unwrap().is_empty());
    assert_problem(
        app.get_as(&elsewhere, &format!("/v1/department/applications/{id}"))
            .await,
        404,
        "application_not_found",
    )
    .await;
    assert_problem(
        decide(&app, &elsewhere, &id, json!({"outcome": "approved"})).await,
        404,
        "application_not_found",
    )
    .await;
    assert_problem(
        upload_result(&app, &elsewhere, &id, jpeg(5), "x.jpg").await,
        404,
        "application_not_found",
    )
    .await;
    // Unauthenticated: the framework's 401 as problem+json.
    let anonymous = app.get("/v1/department/queue").await;
    assert_eq!(anonymous.status(), 401);
    // A case not at the department is not decided.
    let approver = staff_token(&app, "civil.approver2", "approver", CIVIL).await;
    let (_, early) = crate::pickup::passed_case(&app, "early-case").await;
    assert_problem(
        decide(&app, &approver, &early, json!({"outcome": "approved"})).await,
        409,
        "not_at_department",
    )
    .await;
}

#[tokio::test]
async fn a_result_file_of_several_mebibytes_is_accepted_like_a_page() {
    let app = quick_app().await;
    let approver = staff_token(&app, "scan.heavy", "approver", CIVIL).await;
    let (citizen, id) = waiting_case(&app, "heavy-scan", POSTED_ITEM).await;
    // A scanned licence: a 5 MiB PDF, over the 1 MiB limit of JSON bodies.
    let mut pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\n".to_vec();
    while pdf.len() < 5 * 1024 * 1024 {
        pdf.extend_from_slice(b"% scanned page data, padded to size\n");
    }
    pdf.extend_from_slice(b"trailer <<>>\n%%EOF\n");
    assert!(pdf.len() > app.config.server.body_limit_bytes);
    let created = json_of(
        upload_result(&app, &approver, &id, pdf.clone(), "营业执照 扫描件.pdf").await,
        201,
    )
    .await;
    assert_eq!(created["content_type"], "application/pdf");
    assert_eq!(created["size"], pdf.len());
    assert_eq!(created["original_name"], "营业执照 扫描件.pdf");
    // The upload limit still holds for files.
    let too_big = vec![b'%'; app.config.uploads.max_page_bytes as usize + 128 * 1024];
    assert_problem(
        upload_result(&app, &approver, &id, too_big, "huge.pdf").await,
        413,
        "payload_too_large",
    )
    .await;
    // The decision, a JSON body, keeps the JSON limit.
    let long_note = "字".repeat(app.config.server.body_limit_bytes / 3 + 1);
    assert_problem(
        decide(
            &app,
            &approver,
            &id,
            json!({"outcome": "refused", "note": long_note}),
        )
        .await,
        413,
        "payload_too_large",
    )
    .await;
    let _ = citizen;
}
