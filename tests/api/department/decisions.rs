//! The department's decision and leg 2: an approved result posted back by the in-process SF
//! simulator, confirm-receipt and auto-confirm, refusals, and items without a paper result.
//! The whole two-way flow is in `two_way_flow.rs`.

use std::time::{Duration, Instant};

use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::support::answers::json_of;
use crate::support::cases::{CIVIL, Desk, decide, state_of, wait_state};
use crate::support::courier::shipments_until;
use crate::support::notify::settled_notifications;
use crate::support::seeds::waiting_case;
use crate::support::staff::staff_token;
use crate::support::{assert_problem, quick_app};

const POSTED_ITEM: &str = "elderly-preferential-card";
const UNPOSTED_ITEM: &str = "birth-registration";

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
            Desk::Department,
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
            Desk::Department,
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
            Desk::Department,
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
        .simulator("sf")
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
    let sim = app.state.couriers.simulator("sf").unwrap();
    sim.freeze(true);
    let decided = json_of(
        decide(
            &app,
            &approver,
            Desk::Department,
            &id,
            json!({"outcome": "approved"}),
        )
        .await,
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
        decide(
            &app,
            &approver,
            Desk::Department,
            &id,
            json!({"outcome": "approved"}),
        )
        .await,
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

    // `courier.auto_confirm_hours` later.
    let hours = app.state.config.courier.auto_confirm_hours;
    app.state
        .clock
        .advance(Duration::from_secs((hours + 1) * 3600));
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
        decide(
            &app,
            &approver,
            Desk::Department,
            &id,
            json!({"outcome": "refused"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert!(problem.to_string().contains("note"), "{problem}");
    assert_problem(
        decide(
            &app,
            &approver,
            Desk::Department,
            &id,
            json!({"outcome": "maybe"}),
        )
        .await,
        400,
        "malformed_body",
    )
    .await;
    let note = "申请人年龄未满 60 周岁，不符合办理条件";
    let decided = json_of(
        decide(
            &app,
            &approver,
            Desk::Department,
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
    let told = settled_notifications(&app, &citizen, &id, 1).await;
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
        decide(
            &app,
            &approver,
            Desk::Department,
            &id,
            json!({"outcome": "approved"}),
        )
        .await,
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
