//! Routes the console's screens needed, public like any other: reception's waybill lookup.

use serde_json::Value;

use crate::support::answers::json_of;
use crate::support::cases::{CIVIL, SOCIAL};
use crate::support::courier::arrived_case;
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
