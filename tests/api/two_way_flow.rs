//! The whole two-way flow of the courier issue, over HTTP, against the in-process courier
//! simulators, the WeChat peer and the SMTP peer: submit, pre-review, pickup and delivery of the
//! originals, reception, the dispatch batch, the department's approval, delivery of the result
//! and the citizen's receipt. The citizen's timeline, the notifications and the audit log are
//! checked whole at the end. It plays once with SF Express and once with China Post EMS as the
//! deployment's partner, and once with the originals left in the centre's 24-hour box (and EMS
//! for the result); `scripts/test.sh` runs each on SQLite and on PostgreSQL.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::cases::{
    CIVIL, Desk, claim_next, decide, new_application, state_of, upload_result, wait_state,
};
use crate::support::courier::{booking, dispatch_now, shipments_until, slots};
use crate::support::mail::{unique_address, wait_for_mail_to};
use crate::support::notify::{configure, settled_notifications, subscribe, wechat_citizen};
use crate::support::pages::{jpeg, upload};
use crate::support::spawn_app_with;
use crate::support::staff::staff_token;
use crate::support::wechat::WechatServer;

const ITEM: &str = "elderly-preferential-card";

/// The citizen's events of the flow and the template each is sent with.
const EVENTS: [(&str, &str); 6] = [
    ("submitted", "tpl-submitted"),
    ("prereview_passed", "tpl-passed"),
    ("originals_in_transit", "tpl-picked-up"),
    ("received", "tpl-received"),
    ("result_in_delivery", "tpl-result-posted"),
    ("completed", "tpl-completed"),
];

async fn ok(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_whole_two_way_flow_plays_over_http_against_the_sf_simulator() {
    play("sf", Originals::Pickup).await;
}

#[tokio::test]
async fn the_whole_two_way_flow_plays_over_http_against_the_ems_simulator() {
    play("ems", Originals::Pickup).await;
}

#[tokio::test]
async fn the_whole_two_way_flow_plays_with_the_box_for_the_originals_and_ems_for_the_result() {
    play("ems", Originals::Box).await;
}

/// How the originals reach the centre.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Originals {
    /// A courier of the partner collects them at the door.
    Pickup,
    /// The citizen leaves them in the centre's 24-hour box; reception scans the envelope.
    Box,
}

/// Whether `waybill` looks like one of `partner`'s: `SF` and 13 digits, or EMS's 13 digits.
fn is_waybill_of(partner: &str, waybill: &str) -> bool {
    let digits = |s: &str| s.len() == 13 && s.chars().all(|c| c.is_ascii_digit());
    match partner {
        "sf" => waybill.strip_prefix("SF").is_some_and(digits),
        _ => digits(waybill),
    }
}

/// The flow with `partner` as the deployment's default partner (both enabled).
async fn play(partner: &'static str, originals: Originals) {
    let wechat = WechatServer::start().await;
    let app = spawn_app_with(|c| {
        configure(c, &wechat);
        for (event, template) in EVENTS {
            c.wechat
                .subscribe
                .templates
                .get_mut(event)
                .expect("a default mapping for every citizen event")
                .template_id = Some(template.into());
        }
        c.courier.sf.sim_step_ms = 100;
        c.courier.ems.sim_step_ms = 100;
        c.courier.partners = vec!["sf".into(), "ems".into()];
        c.courier.default_partner = partner.into();
    })
    .await;
    let who = match originals {
        Originals::Pickup => format!("two-way-{partner}"),
        Originals::Box => format!("two-way-box-{partner}"),
    };
    let citizen = wechat_citizen(&app, &who).await;
    let templates: Vec<&str> = EVENTS.iter().map(|(_, t)| *t).collect();
    subscribe(&app, &citizen, &templates).await;
    let email = unique_address(&who);

    // 1. Submit: photos of every required material.
    let mut body = new_application(ITEM);
    body["applicant"]["email"] = json!(email);
    let created = ok(app.post_as(&citizen, "/v1/applications", &body).await, 201).await;
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
        let response = upload(&app, &citizen, &id, material, jpeg(seed * 11), "p.jpg").await;
        assert_eq!(response.status(), 201, "{material}");
    }
    let path = format!("/v1/applications/{id}/submit");
    ok(app.post_as(&citizen, &path, &json!({})).await, 200).await;

    // 2. Pre-review approves.
    let reviewer = staff_token(&app, "flow.reviewer", "reviewer", CIVIL).await;
    assert_eq!(
        claim_next(&app, &reviewer).await.as_deref(),
        Some(id.as_str())
    );
    let path = format!("/v1/review/applications/{id}/decision");
    ok(
        app.post_as(&reviewer, &path, &json!({"outcome": "approve"}))
            .await,
        200,
    )
    .await;
    assert_eq!(state_of(&app, &citizen, &id).await, "prereview_passed");

    // 3. The pickup is booked, the courier collects the originals and delivers them; or the
    // citizen leaves them in the box and reception scans the envelope when it empties it.
    let leg_one = match originals {
        Originals::Pickup => {
            let window = slots(&app, &citizen).await[0].clone();
            let booked = booking(
                window["date"].as_str().unwrap(),
                window["slot"].as_str().unwrap(),
            );
            let path = format!("/v1/applications/{id}/pickup");
            let pickup = ok(app.post_as(&citizen, &path, &booked).await, 201).await;
            assert_eq!(pickup["partner"], partner);
            partner
        }
        Originals::Box => {
            drop_in_the_box(&app, &citizen, &id).await;
            "box"
        }
    };
    shipments_until(&app, &citizen, &id, "originals delivered", |items| {
        items
            .iter()
            .any(|s| s["leg"] == "materials" && s["status"] == "delivered")
    })
    .await;
    assert_eq!(state_of(&app, &citizen, &id).await, "originals_in_transit");

    // 4. Reception confirms; the cut-off dispatches the batch.
    let desk = staff_token(&app, "flow.desk", "reception", CIVIL).await;
    let path = format!("/v1/reception/applications/{id}/receive");
    let received = ok(
        app.post_as(&desk, &path, &json!({"matches": true, "note": "原件齐全"}))
            .await,
        200,
    )
    .await;
    assert_eq!(received["state"], "received");
    dispatch_now(&app, &who).await;
    wait_state(&app, &citizen, &id, "at_department").await;

    // 5. The department attaches the issued card's scan and approves.
    let approver = staff_token(&app, "flow.approver", "approver", CIVIL).await;
    let queue = ok(app.get_as(&approver, "/v1/department/queue").await, 200).await;
    assert_eq!(queue["items"][0]["id"], id.as_str());
    assert!(queue["items"][0]["batch_id"].is_string());
    let scan = ok(
        upload_result(&app, &approver, &id, jpeg(99), "card.jpg").await,
        201,
    )
    .await;
    let decided = ok(
        decide(
            &app,
            &approver,
            Desk::Department,
            &id,
            json!({"outcome": "approved", "note": "准予办理"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(decided["state"], "result_in_delivery");

    // 6. Leg 2 is delivered and the case completes; the citizen confirms receipt.
    let legs = shipments_until(&app, &citizen, &id, "result delivered", |items| {
        items
            .iter()
            .any(|s| s["leg"] == "result" && s["status"] == "delivered")
    })
    .await;
    wait_state(&app, &citizen, &id, "completed").await;
    let path = format!("/v1/applications/{id}/confirm-receipt");
    ok(app.post_as(&citizen, &path, &json!({})).await, 200).await;

    // Both legs, each with its waybill and full route (the box's: the drop code, one scan).
    assert_eq!(legs.len(), 2, "{legs:#?}");
    for ((leg, kind), by) in legs
        .iter()
        .zip(["materials", "result"])
        .zip([leg_one, partner])
    {
        assert_eq!(leg["leg"], kind);
        assert_eq!(leg["status"], "delivered");
        assert_eq!(leg["partner"], by, "{leg}");
        let waybill = leg["waybill_no"].as_str().unwrap();
        if by == "box" {
            let steps = leg["timeline"].as_array().unwrap();
            assert_eq!(steps.len(), 1, "{leg}");
            assert_eq!(steps[0]["status"], "delivered");
            assert_eq!(steps[0]["op_code"], "box_scan");
            continue;
        }
        assert!(is_waybill_of(by, waybill), "{waybill}");
        let steps: Vec<&str> = leg["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_str().unwrap())
            .collect();
        assert_eq!(steps.first(), Some(&"picked_up"), "{kind}: {steps:?}");
        assert_eq!(steps.last(), Some(&"delivered"), "{kind}: {steps:?}");
    }
    let result_waybill = legs[1]["waybill_no"].as_str().unwrap().to_string();

    // The citizen's timeline, whole.
    assert_eq!(
        app.timeline_actions(&citizen, &id).await,
        [
            "create",
            "submit",
            "approve",
            match originals {
                Originals::Pickup => "schedule_pickup",
                Originals::Box => "choose_drop_off",
            },
            "pick_up",
            "originals_delivered",
            "receive",
            "dispatch",
            "department_approve",
            "ship_result",
            "deliver_result",
            "confirm_receipt",
        ]
    );
    let result = ok(
        app.get_as(&citizen, &format!("/v1/applications/{id}/result"))
            .await,
        200,
    )
    .await;
    assert_eq!(result["decision"]["outcome"], "approved");
    assert_eq!(result["files"][0]["id"], scan["id"]);
    assert!(result["receipt_confirmed_at"].is_string());

    // Every citizen event went out by WeChat and by email, once.
    let notifications = settled_notifications(&app, &citizen, &id, EVENTS.len() * 2).await;
    let mut seen: Vec<(String, String, String)> = notifications
        .iter()
        .map(|n| {
            (
                n["event"].as_str().unwrap().to_string(),
                n["channel"].as_str().unwrap().to_string(),
                n["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    let mut wanted: Vec<(String, String, String)> = EVENTS
        .iter()
        .flat_map(|(event, _)| {
            ["email", "wechat"].map(|channel| (event.to_string(), channel.into(), "sent".into()))
        })
        .collect();
    wanted.sort();
    assert_eq!(seen, wanted);
    let messages = wechat.sent_to(&format!("wx-{who}"));
    let sent: BTreeSet<&str> = messages.iter().map(|m| m.template_id.as_str()).collect();
    assert_eq!(sent, templates.iter().copied().collect::<BTreeSet<_>>());
    assert_eq!(messages.len(), EVENTS.len());
    let mails = wait_for_mail_to(&email, EVENTS.len()).await;
    assert_eq!(mails.len(), EVENTS.len());
    let completed = mails
        .iter()
        .find(|m| m["subject"].as_str().unwrap().contains("已办结"))
        .expect("the completion email");
    assert!(
        completed["text"]
            .as_str()
            .unwrap()
            .contains(&result_waybill),
        "{}",
        completed["text"]
    );

    // The audit log holds every staff step of the case.
    let admin = staff_token(&app, "flow.admin", "admin", CIVIL).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let actions: BTreeSet<String> = loop {
        let audit = ok(
            app.get_as(&admin, &format!("/v1/admin/audit?application={id}"))
                .await,
            200,
        )
        .await;
        let actions: BTreeSet<String> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect();
        if actions.contains("department.decide") || Instant::now() > deadline {
            break actions;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for action in [
        "review.claim",
        "review.decision",
        "reception.receive",
        "department.result_upload",
        "department.decide",
    ] {
        assert!(
            actions.contains(action),
            "{action} missing from {actions:?}"
        );
    }
}

/// The citizen chooses the box, prints the code's QR, and reception empties the box: the
/// envelope's code, typed loosely, finds the case.
async fn drop_in_the_box(app: &crate::support::TestApp, citizen: &str, id: &str) {
    let path = format!("/v1/applications/{id}/drop-off");
    let address = booking("2026-01-01", "09:00-12:00")["address"].clone();
    let chosen = ok(
        app.post_as(citizen, &path, &json!({ "address": address }))
            .await,
        201,
    )
    .await;
    let code = chosen["code"].as_str().unwrap().to_string();
    assert_eq!(chosen["status"], "pending");
    assert_eq!(state_of(app, citizen, id).await, "awaiting_drop_off");
    let qr = app.get_as(citizen, &format!("{path}/qr")).await;
    assert_eq!(qr.status(), 200);
    assert_eq!(qr.headers()["content-type"], "image/png");
    assert!(qr.bytes().await.unwrap().starts_with(b"\x89PNG"));

    let desk = staff_token(app, "box.desk", "reception", CIVIL).await;
    let run = ok(
        app.post_as(&desk, "/v1/reception/box-runs", &json!({}))
            .await,
        201,
    )
    .await;
    let scans = format!(
        "/v1/reception/box-runs/{}/scans",
        run["id"].as_str().unwrap()
    );
    let typed = code.to_lowercase().replace('-', " ");
    let scanned = ok(
        app.post_as(&desk, &scans, &json!({ "code": typed })).await,
        201,
    )
    .await;
    assert_eq!(scanned["application_id"], id);
    assert_eq!(scanned["state"], "originals_in_transit");
    assert_eq!(scanned["scan"]["code"], code.as_str());
}
