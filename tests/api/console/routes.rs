//! Routes the console's screens needed, public like any other: reception's waybill lookup and
//! its read-only view of a case.

use serde_json::{Value, json};

use crate::support::answers::json_of;
use crate::support::cases::{CIVIL, Desk, SOCIAL, claim_next, decide, submitted_elderly_case};
use crate::support::courier::{arrived_case, deliver_originals};
use crate::support::staff::staff_token;
use crate::support::{assert_problem, quick_app};

#[tokio::test]
async fn a_scanned_waybill_finds_its_case_in_my_departments_only() {
    let app = quick_app().await;
    let (citizen, id) = arrived_case(&app, "zhao").await;
    let shipments: Value = app
        .get_as(&citizen, &format!("/v1/applications/{id}/shipments"))
        .await
        .json()
        .await
        .unwrap();
    let waybill = shipments["items"][0]["waybill_no"]
        .as_str()
        .unwrap()
        .to_string();
    let clerk = staff_token(&app, "desk", "reception", CIVIL).await;
    let found = json_of(
        app.get_as(&clerk, &format!("/v1/reception/waybills/{waybill}"))
            .await,
        200,
    )
    .await;
    assert_eq!(found["id"], id.as_str());
    assert_eq!(found["waybill_no"], waybill.as_str());
    assert_eq!(found["state"], "originals_in_transit");
    assert_eq!(found["awaiting_reception"], true);

    let elsewhere = staff_token(&app, "other", "reception", SOCIAL).await;
    let hidden = app
        .get_as(&elsewhere, &format!("/v1/reception/waybills/{waybill}"))
        .await;
    assert_problem(hidden, 404, "waybill_not_found").await;
    let unknown = app
        .get_as(&clerk, "/v1/reception/waybills/SF0000000000")
        .await;
    assert_problem(unknown, 404, "waybill_not_found").await;
    let reviewer = staff_token(&app, "rev", "reviewer", CIVIL).await;
    let wrong_role = app
        .get_as(&reviewer, &format!("/v1/reception/waybills/{waybill}"))
        .await;
    assert_problem(wrong_role, 403, "role_required").await;

    // Once received, the scan still finds it, and says reception is done with it.
    let received = app
        .post_as(
            &clerk,
            &format!("/v1/reception/applications/{id}/receive"),
            &serde_json::json!({ "matches": true }),
        )
        .await;
    assert_eq!(received.status(), 200);
    let again = json_of(
        app.get_as(&clerk, &format!("/v1/reception/waybills/{waybill}"))
            .await,
        200,
    )
    .await;
    assert_eq!(again["state"], "received");
    assert_eq!(again["awaiting_reception"], false);
}

#[tokio::test]
async fn reception_reads_a_case_of_its_departments_with_photos_and_the_originals_to_check() {
    let app = quick_app().await;
    let citizen = app.citizen_token("qian").await;
    let id = submitted_elderly_case(&app, &citizen, 31).await;
    let reviewer = staff_token(&app, "rev", "reviewer", CIVIL).await;
    assert_eq!(
        claim_next(&app, &reviewer).await.as_deref(),
        Some(id.as_str())
    );
    let approved = decide(
        &app,
        &reviewer,
        Desk::Review,
        &id,
        json!({"outcome": "approve"}),
    )
    .await;
    assert_eq!(approved.status(), 200);
    deliver_originals(&app, &citizen, &id).await;

    let clerk = staff_token(&app, "desk", "reception", CIVIL).await;
    let path = format!("/v1/reception/applications/{id}");
    let case = json_of(app.get_as(&clerk, &path).await, 200).await;
    let application = &case["application"];
    assert_eq!(application["id"], id.as_str());
    assert_eq!(application["state"], "originals_in_transit");
    assert_eq!(application["applicant"]["id_number"], "110105********002X");
    let materials = application["materials"].as_array().unwrap();
    let originals: Vec<&str> = materials
        .iter()
        .filter(|m| m["original_required"] == true)
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert_eq!(originals, ["id-photo", "application-form"]);
    let photo = &materials.iter().find(|m| m["code"] == "id-photo").unwrap()["pages"][0];
    assert!(photo["url"].is_string(), "{photo}");
    let actions: Vec<&str> = case["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"create"));
    assert_eq!(actions.last(), Some(&"originals_delivered"));

    // Another department's clerk learns nothing, not even that it exists; a reviewer is not
    // reception.
    let elsewhere = staff_token(&app, "other", "reception", SOCIAL).await;
    assert_problem(
        app.get_as(&elsewhere, &path).await,
        404,
        "application_not_found",
    )
    .await;
    assert_problem(app.get_as(&reviewer, &path).await, 403, "role_required").await;

    // Reading the case is audited, as at the department's desk, refusals included.
    let admin = staff_token(&app, "auditor", "admin", CIVIL).await;
    let audit = json_of(
        app.get_as(
            &admin,
            &format!("/v1/admin/audit?application={id}&action=reception.view"),
        )
        .await,
        200,
    )
    .await;
    let mut views: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let who = e["actor_name"].as_str().unwrap_or("?");
            match e["outcome"].as_str().unwrap() {
                "success" => format!("{who} success"),
                outcome => format!("{who} {outcome} {}", e["detail"].as_str().unwrap()),
            }
        })
        .collect();
    views.sort();
    assert_eq!(
        views,
        [
            "desk success",
            "other failure application_not_found",
            "rev denied role_required"
        ]
    );
}
