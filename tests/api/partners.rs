//! Several courier partners at once (SF Express and China Post EMS): the citizen's choice at
//! booking, an item that names its partner, a service point's partner, each leg keeping the
//! partner it was ordered from, and the problems view per partner.

use serde_json::{Value, json};

use crate::support::answers::assert_problem;
use crate::support::cases::ELDERLY_CARD;
use crate::support::courier::{booking, shipments_until, slots};
use crate::support::seeds::passed_case;
use crate::support::staff::staff_token;
use crate::support::{TestApp, spawn_app_with};

/// Both partners enabled, SF the default; parcels move every 100 ms.
async fn two_partner_app() -> TestApp {
    spawn_app_with(|c| {
        c.courier.partners = vec!["sf".into(), "ems".into()];
        c.courier.default_partner = "sf".into();
        c.courier.sf.sim_step_ms = 100;
        c.courier.ems.sim_step_ms = 100;
        c.jobs.poll_ms = 50;
    })
    .await
}

async fn book(app: &TestApp, token: &str, id: &str, partner: Option<&str>) -> reqwest::Response {
    let window = slots(app, token).await[0].clone();
    let mut body = booking(
        window["date"].as_str().unwrap(),
        window["slot"].as_str().unwrap(),
    );
    if let Some(partner) = partner {
        body["partner"] = json!(partner);
    }
    app.post_as(token, &format!("/v1/applications/{id}/pickup"), &body)
        .await
}

fn field_errors(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_citizen_picks_an_enabled_partner_at_booking_and_the_parcel_keeps_it() {
    let app = two_partner_app().await;
    let (token, id) = passed_case(&app, "picks-ems").await;
    let offered: Value = app
        .get_as(&token, "/v1/pickup-slots?city=杭州市")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(offered["partners"], json!(["sf", "ems"]));

    let unknown = assert_problem(
        book(&app, &token, &id, Some("dhl")).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_errors(&unknown), ["partner"], "{unknown}");
    let booked = book(&app, &token, &id, Some("ems")).await;
    assert_eq!(booked.status(), 201);
    let booked: Value = booked.json().await.unwrap();
    assert_eq!(booked["partner"], "ems");
    // The same booking again is the same booking; the other partner is another booking.
    let again = book(&app, &token, &id, Some("ems")).await;
    assert_eq!(again.status(), 200);
    assert_problem(
        book(&app, &token, &id, Some("sf")).await,
        409,
        "pickup_already_scheduled",
    )
    .await;

    let legs = shipments_until(&app, &token, &id, "originals delivered by EMS", |items| {
        items.iter().any(|s| s["status"] == "delivered")
    })
    .await;
    assert_eq!(legs.len(), 1);
    assert_eq!(legs[0]["partner"], "ems");
    let waybill = legs[0]["waybill_no"].as_str().unwrap();
    let ems_orders = app.state.couriers.simulator("ems").unwrap().orders();
    assert_eq!(ems_orders.len(), 1);
    assert_eq!(ems_orders[0].waybill_no, waybill);
    assert!(
        app.state
            .couriers
            .simulator("sf")
            .unwrap()
            .orders()
            .is_empty()
    );
    let codes: Vec<&str> = legs[0]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["op_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["203", "389", "954", "702", "704"]);
}

#[tokio::test]
async fn an_item_that_names_its_partner_takes_no_other_and_its_default_follows_it() {
    let app = two_partner_app().await;
    let catalogue = beebox::startup::SAMPLE_CATALOG.replacen(
        "code = \"elderly-preferential-card\"",
        "code = \"elderly-preferential-card\"\ncourier_partner = \"ems\"",
        1,
    );
    let catalogue = beebox::domain::catalog::CatalogFile::parse(&catalogue).unwrap();
    catalogue
        .check_partners(&app.state.config.courier.partners)
        .unwrap();
    app.import_catalog(&catalogue).await;
    let item: Value = app
        .get(&format!("/v1/matters/{ELDERLY_CARD}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(item["courier_partner"], "ems");

    let (token, id) = passed_case(&app, "item-ems").await;
    let refused = assert_problem(
        book(&app, &token, &id, Some("sf")).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_errors(&refused), ["partner"]);
    assert!(refused.to_string().contains("ems"), "{refused}");
    let booked: Value = book(&app, &token, &id, None).await.json().await.unwrap();
    assert_eq!(booked["partner"], "ems");

    // Refused where EMS is not enabled, naming the item.
    let problem = catalogue
        .check_partners(&["sf".into()])
        .unwrap_err()
        .to_string();
    assert!(
        problem.contains("matter elderly-preferential-card") && problem.contains("courier_partner"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_service_points_partner_is_set_checked_and_shown_by_an_admin() {
    let app = two_partner_app().await;
    let admin = staff_token(&app, "partners.admin", "admin", "").await;
    let mut point = json!({
        "code": "village-ems",
        "name": "东山村代办点",
        "address": {"province": "浙江省", "city": "杭州市", "district": "西湖区",
                    "detail": "东山村 1 号", "contact_name": "李四", "phone": "13800138001"},
        "departments": ["civil-affairs"],
        "courier_partner": "dhl",
    });
    let refused = assert_problem(
        app.post_as(&admin, "/v1/admin/service-points", &point)
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_errors(&refused), ["courier_partner"]);
    point["courier_partner"] = json!("ems");
    let created = app
        .post_as(&admin, "/v1/admin/service-points", &point)
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["courier_partner"], "ems");
    let id = created["id"].as_str().unwrap();
    let mut change = point.clone();
    change.as_object_mut().unwrap().remove("code");
    change.as_object_mut().unwrap().remove("courier_partner");
    let changed: Value = app
        .put_as(&admin, &format!("/v1/admin/service-points/{id}"), &change)
        .await
        .json()
        .await
        .unwrap();
    assert!(changed.get("courier_partner").is_none(), "{changed}");
}

#[tokio::test]
async fn the_problems_view_names_each_legs_partner_and_filters_by_one() {
    let app = spawn_app_with(|c| {
        c.courier.partners = vec!["sf".into(), "ems".into()];
        // Orders fail for good at the simulators: both legs become problems.
        c.courier.sf.sim_step_ms = 3_600_000;
        c.courier.ems.sim_step_ms = 3_600_000;
        c.jobs.poll_ms = 50;
    })
    .await;
    for (name, partner) in [("problem-sf", "sf"), ("problem-ems", "ems")] {
        let code = if partner == "sf" { "A1006" } else { "B00001" };
        app.state.couriers.simulator(partner).unwrap().fail_next(
            1,
            beebox::integrations::courier::sim::SimFault::ApiCode(code.into()),
        );
        let (token, id) = passed_case(&app, name).await;
        assert_eq!(book(&app, &token, &id, Some(partner)).await.status(), 201);
        shipments_until(&app, &token, &id, "the order failed", |items| {
            items[0]["order_status"] == "failed"
        })
        .await;
    }
    let admin = staff_token(&app, "problems.admin", "admin", "").await;
    let all: Value = app
        .get_as(&admin, "/v1/admin/shipments/problems")
        .await
        .json()
        .await
        .unwrap();
    let mut partners: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["partner"].as_str().unwrap())
        .collect();
    partners.sort();
    assert_eq!(partners, ["ems", "sf"], "{all}");
    assert_eq!(all["by_partner"], json!({"ems": 1, "sf": 1}));
    let ems: Value = app
        .get_as(&admin, "/v1/admin/shipments/problems?partner=ems")
        .await
        .json()
        .await
        .unwrap();
    let items = ems["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["partner"], "ems");
    assert!(items[0]["last_error"].as_str().unwrap().contains("B00001"));
    assert_problem(
        app.get_as(&admin, "/v1/admin/shipments/problems?partner=dhl")
            .await,
        422,
        "validation_failed",
    )
    .await;
}
