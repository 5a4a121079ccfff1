//! "One thing" bundles (一件事): a filing of several departments' items with their shared
//! materials asked once, one submit for all, each department deciding its own item, and the
//! citizen's one timeline. The whole story with the wallet is the first test.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::answers::json_of;
use crate::support::cases::{Desk, claim_next, create, decide};
use crate::support::pages::{jpeg, upload};
use crate::support::staff::staff_token;
use crate::support::wallet::{
    UTILITIES, attach, file, material, new_filing, of_type, ready_filing, submit_case, upload_all,
    wallet,
};
use crate::support::{TestApp, assert_problem, quick_app};

const FUND: &str = "provident-fund-purchase-withdrawal";
const ITEMS: [(&str, &str); 3] = [
    ("electricity-account-transfer", "power-supply"),
    ("water-account-transfer", "water-supply"),
    ("gas-account-transfer", "gas-supply"),
];

async fn filing_of(app: &TestApp, citizen: &str, id: &str) -> Value {
    json_of(app.get_as(citizen, &format!("/v1/filings/{id}")).await, 200).await
}

async fn submit(app: &TestApp, citizen: &str, id: &str) -> reqwest::Response {
    app.post_as(citizen, &format!("/v1/filings/{id}/submit"), &json!({}))
        .await
}

fn item_of<'a>(filing: &'a Value, matter: &str) -> &'a Value {
    filing["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["matter_code"] == matter)
        .unwrap()
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_bundle_reuses_the_wallet_asks_each_shared_material_once_and_each_department_decides_its_own()
 {
    let app = quick_app().await;
    let citizen = app.citizen_token("bundle-owner").await;

    // Item A: the provident fund withdrawal with an ID card and the property certificate.
    let fund = create(&app, &citizen, FUND).await;
    let fund = str_of(&fund["id"]);
    let pages = [
        ("id-card", 21),
        ("id-card", 22),
        ("property-certificate", 23),
        ("bank-card", 24),
    ];
    upload_all(&app, &citizen, &fund, &pages).await;
    submit_case(&app, &citizen, &fund).await;
    let fund_reviewer =
        staff_token(&app, "hpf.reviewer", "reviewer", "housing-provident-fund").await;
    assert_eq!(
        claim_next(&app, &fund_reviewer).await.as_deref(),
        Some(fund.as_str())
    );
    json_of(
        decide(
            &app,
            &fund_reviewer,
            Desk::Review,
            &fund,
            json!({"outcome": "approve"}),
        )
        .await,
        200,
    )
    .await;
    let docs = wallet(&app, &citizen, "").await;
    let card = str_of(&of_type(&docs, "resident_id_card")["id"]);
    let deed = str_of(&of_type(&docs, "property_certificate")["id"]);

    // The bundle: three departments' items, the shared materials asked once, at the first item.
    let filing = file(&app, &citizen, UTILITIES).await;
    let id = str_of(&filing["id"]);
    assert_eq!(filing["state"], "draft");
    let items: Vec<(String, String)> = filing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (str_of(&i["matter_code"]), str_of(&i["department"]["code"])))
        .collect();
    assert_eq!(items, ITEMS.map(|(m, d)| (m.to_string(), d.to_string())));
    let ids: Vec<String> = filing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| str_of(&i["application_id"]))
        .collect();
    let holder = &ids[0];
    let materials = filing["materials"].as_array().unwrap();
    for code in ["id-card", "property-certificate", "sale-contract"] {
        let asked: Vec<&Value> = materials
            .iter()
            .filter(|m| m["material_code"] == code)
            .collect();
        assert_eq!(asked.len(), 1, "{code} is asked once");
        assert_eq!(asked[0]["application_id"], holder.as_str());
        let others: Vec<&Value> = asked[0]["shared_with"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["application_id"])
            .collect();
        assert_eq!(others, [&json!(ids[1]), &json!(ids[2])], "{code}");
    }
    // Each item's own bill stays its own.
    assert_eq!(
        materials
            .iter()
            .filter(|m| m["shared_with"].as_array().unwrap().is_empty())
            .count(),
        3
    );

    // Both documents from the wallet (no upload), the one new material uploaded once.
    json_of(attach(&app, &citizen, holder, "id-card", &card).await, 201).await;
    json_of(
        attach(&app, &citizen, holder, "property-certificate", &deed).await,
        201,
    )
    .await;
    assert_eq!(
        upload(
            &app,
            &citizen,
            holder,
            "sale-contract",
            jpeg(30),
            "contract.jpg"
        )
        .await
        .status(),
        201
    );
    let submitted = json_of(submit(&app, &citizen, &id).await, 200).await;
    assert_eq!(submitted["state"], "in_progress");
    assert!(
        submitted["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "submitted")
    );

    // Three reviewers of three departments, one case each, with the reuse marked.
    let mut reviewers = Vec::new();
    for (n, (_, department)) in ITEMS.iter().enumerate() {
        let reviewer = staff_token(
            &app,
            &format!("{department}.reviewer"),
            "reviewer",
            department,
        )
        .await;
        assert_eq!(
            claim_next(&app, &reviewer).await.as_deref(),
            Some(ids[n].as_str())
        );
        assert_eq!(
            claim_next(&app, &reviewer).await,
            None,
            "one case for {department}"
        );
        let seen = json_of(
            app.get_as(&reviewer, &format!("/v1/review/applications/{}", ids[n]))
                .await,
            200,
        )
        .await;
        for (code, doc) in [("id-card", &card), ("property-certificate", &deed)] {
            let m = material(&seen["application"], code);
            assert_eq!(m["reused"][0]["id"], doc.as_str(), "{department} {code}");
            assert_eq!(m["reused"][0]["source"]["application_id"], fund.as_str());
            assert!(m["reused"][0]["verified_by"]["display_name"].is_string());
            assert_eq!(m["satisfied"], true);
        }
        assert_eq!(
            material(&seen["application"], "sale-contract")["page_count"],
            1
        );
        reviewers.push(reviewer);
    }

    // Water returns its own sale contract; the others approve.
    let water = &ids[1];
    json_of(decide(&app, &reviewers[1], Desk::Review, water,
        json!({"outcome": "return", "reasons": [{"material_code": "sale-contract", "reason": "合同签字页不清晰"}]})).await, 200).await;
    for n in [0, 2] {
        json_of(
            decide(
                &app,
                &reviewers[n],
                Desk::Review,
                &ids[n],
                json!({"outcome": "approve"}),
            )
            .await,
            200,
        )
        .await;
    }
    let now = filing_of(&app, &citizen, &id).await;
    let water_item = item_of(&now, ITEMS[1].0);
    assert_eq!(water_item["state"], "returned");
    assert_eq!(water_item["return_reasons"].as_array().unwrap().len(), 1);
    assert_eq!(
        water_item["return_reasons"][0]["material_code"],
        "sale-contract"
    );
    assert!(item_of(&now, ITEMS[0].0).get("return_reasons").is_none());

    // The citizen fixes only that: the ID card is not theirs to change.
    let case = json_of(
        app.get_as(&citizen, &format!("/v1/applications/{water}"))
            .await,
        200,
    )
    .await;
    let contract_page = str_of(&material(&case, "sale-contract")["pages"][0]["id"]);
    let card_page = str_of(&material(&case, "id-card")["pages"][0]["id"]);
    assert_problem(
        app.delete_as(
            &citizen,
            &format!("/v1/applications/{water}/pages/{card_page}"),
        )
        .await,
        409,
        "material_not_returned",
    )
    .await;
    assert_eq!(
        app.delete_as(
            &citizen,
            &format!("/v1/applications/{water}/pages/{contract_page}")
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        upload(
            &app,
            &citizen,
            water,
            "sale-contract",
            jpeg(31),
            "clear.jpg"
        )
        .await
        .status(),
        201
    );
    submit_case(&app, &citizen, water).await;
    assert_eq!(
        claim_next(&app, &reviewers[1]).await.as_deref(),
        Some(water.as_str())
    );
    json_of(
        decide(
            &app,
            &reviewers[1],
            Desk::Review,
            water,
            json!({"outcome": "approve"}),
        )
        .await,
        200,
    )
    .await;

    // Each department approves its own; nothing is posted back, so each completes.
    for (n, (_, department)) in ITEMS.iter().enumerate() {
        let approver = staff_token(
            &app,
            &format!("{department}.approver"),
            "approver",
            department,
        )
        .await;
        json_of(
            decide(
                &app,
                &approver,
                Desk::Department,
                &ids[n],
                json!({"outcome": "approved", "note": "已过户"}),
            )
            .await,
            200,
        )
        .await;
    }
    let done = filing_of(&app, &citizen, &id).await;
    assert_eq!(done["state"], "settled");
    assert!(
        done["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "completed")
    );

    // One timeline for the bundle, each event naming its item.
    let timeline = json_of(
        app.get_as(&citizen, &format!("/v1/filings/{id}/events"))
            .await,
        200,
    )
    .await;
    let events = timeline["items"].as_array().unwrap();
    let of = |action: &str| {
        events
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| str_of(&e["application_id"]))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("submit").into_iter().collect::<HashSet<_>>(),
        ids.iter().cloned().collect()
    );
    assert_eq!(of("return"), std::slice::from_ref(water));
    assert_eq!(of("resubmit"), std::slice::from_ref(water));
    assert_eq!(of("complete").len(), 3);
    let times: Vec<&str> = events
        .iter()
        .map(|e| e["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");

    // Where each document was used: the bundle's three items, each for its department.
    for doc in [&card, &deed] {
        let detail = json_of(
            app.get_as(&citizen, &format!("/v1/documents/{doc}")).await,
            200,
        )
        .await;
        let used: Vec<(String, String)> = detail["uses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| (str_of(&u["application_id"]), str_of(&u["department_code"])))
            .collect();
        let wanted: Vec<(String, String)> = ids
            .iter()
            .zip(ITEMS)
            .map(|(i, (_, d))| (i.clone(), d.to_string()))
            .collect();
        assert_eq!(used, wanted);
    }
    // The shared sale contract, verified by three departments, is one document, not three.
    let contracts: Vec<Value> = wallet(&app, &citizen, "")
        .await
        .into_iter()
        .filter(|d| d["document_type"] == "sale_contract")
        .collect();
    assert_eq!(
        contracts.len(),
        2,
        "the contract the others approved, and water's fixed one"
    );
}

#[tokio::test]
async fn a_filing_is_submitted_whole_or_not_at_all_and_exactly_once() {
    let app = quick_app().await;
    let citizen = app.citizen_token("bundle-whole").await;
    // Nothing uploaded: every item's materials are named, and nothing is submitted.
    let empty = file(&app, &citizen, UTILITIES).await;
    let refused = assert_problem(
        submit(&app, &citizen, empty["id"].as_str().unwrap()).await,
        422,
        "materials_incomplete",
    )
    .await;
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for (matter, _) in ITEMS {
        assert!(
            fields.contains(&format!("{matter}.sale-contract").as_str()),
            "{fields:?}"
        );
    }
    let still = filing_of(&app, &citizen, empty["id"].as_str().unwrap()).await;
    assert!(
        still["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "draft")
    );

    // An item is not submitted alone the first time.
    let filing = ready_filing(&app, &citizen, 60).await;
    let id = str_of(&filing["id"]);
    let first = str_of(&filing["items"][0]["application_id"]);
    let alone = assert_problem(
        app.post_as(
            &citizen,
            &format!("/v1/applications/{first}/submit"),
            &json!({}),
        )
        .await,
        409,
        "submit_with_filing",
    )
    .await;
    assert!(alone["detail"].as_str().unwrap().contains(&id));

    // Two submits at once: one wins, the other is refused, each item submitted once.
    let (a, b) = tokio::join!(submit(&app, &citizen, &id), submit(&app, &citizen, &id));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let timeline = json_of(
        app.get_as(&citizen, &format!("/v1/filings/{id}/events"))
            .await,
        200,
    )
    .await;
    let submits = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "submit")
        .count();
    assert_eq!(submits, 3);
    assert_problem(submit(&app, &citizen, &id).await, 409, "invalid_state").await;

    // Another citizen's filing and an unknown bundle.
    let stranger = app.citizen_token("bundle-stranger").await;
    assert_problem(
        app.get_as(&stranger, &format!("/v1/filings/{id}")).await,
        404,
        "filing_not_found",
    )
    .await;
    assert_problem(submit(&app, &stranger, &id).await, 404, "filing_not_found").await;
    assert_problem(
        app.post_as(&stranger, &format!("/v1/filings/{id}/cancel"), &json!({}))
            .await,
        404,
        "filing_not_found",
    )
    .await;
    assert_problem(
        app.get_as(&stranger, &format!("/v1/filings/{id}/events"))
            .await,
        404,
        "filing_not_found",
    )
    .await;
    assert_problem(
        app.post_as(&citizen, "/v1/filings", &new_filing("no-such-bundle"))
            .await,
        404,
        "bundle_not_found",
    )
    .await;
    let listed = json_of(app.get_as(&stranger, "/v1/filings").await, 200).await;
    assert!(listed["items"].as_array().unwrap().is_empty());

    // A retried create with the same key makes one filing.
    let key = uuid::Uuid::now_v7().to_string();
    let mut ids = HashSet::new();
    for _ in 0..2 {
        let response = app
            .client
            .post(app.url("/v1/filings"))
            .bearer_auth(&stranger)
            .header("Idempotency-Key", &key)
            .json(&new_filing(UTILITIES))
            .send()
            .await
            .unwrap();
        ids.insert(str_of(&json_of(response, 201).await["id"]));
    }
    assert_eq!(ids.len(), 1);
    let listed = json_of(app.get_as(&stranger, "/v1/filings").await, 200).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    // The stranger's applications are the filing's three items, each saying so.
    let filing_id = ids.into_iter().next().unwrap();
    let apps = json_of(app.get_as(&stranger, "/v1/applications").await, 200).await;
    let apps = apps["items"].as_array().unwrap();
    assert_eq!(apps.len(), 3);
    assert!(
        apps.iter().all(|a| a["filing_id"] == filing_id.as_str()),
        "{apps:?}"
    );
}

#[tokio::test]
async fn a_cancelled_item_stays_out_and_cancelling_the_bundle_names_what_it_could_not() {
    let app = quick_app().await;
    let citizen = app.citizen_token("bundle-cancel").await;
    let filing = ready_filing(&app, &citizen, 70).await;
    let id = str_of(&filing["id"]);
    let ids: Vec<String> = filing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| str_of(&i["application_id"]))
        .collect();
    // The citizen withdraws gas alone; the others go on with the shared pages.
    json_of(
        app.post_as(
            &citizen,
            &format!("/v1/applications/{}/cancel", ids[2]),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let view = filing_of(&app, &citizen, &id).await;
    let shared = view["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["material_code"] == "sale-contract")
        .unwrap()
        .clone();
    assert_eq!(
        shared["shared_with"].as_array().unwrap().len(),
        1,
        "gas no longer asks"
    );
    let submitted = json_of(submit(&app, &citizen, &id).await, 200).await;
    let states: Vec<&str> = submitted["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["submitted", "submitted", "cancelled"]);
    let water = json_of(
        app.get_as(&citizen, &format!("/v1/applications/{}", ids[1]))
            .await,
        200,
    )
    .await;
    assert_eq!(material(&water, "sale-contract")["page_count"], 1);
    assert_eq!(material(&water, "id-card")["page_count"], 2);

    // Electricity passes pre-review; cancelling the bundle withdraws water and says electricity could not be.
    let reviewer = staff_token(&app, "power.reviewer", "reviewer", "power-supply").await;
    assert_eq!(
        claim_next(&app, &reviewer).await.as_deref(),
        Some(ids[0].as_str())
    );
    json_of(
        decide(
            &app,
            &reviewer,
            Desk::Review,
            &ids[0],
            json!({"outcome": "approve"}),
        )
        .await,
        200,
    )
    .await;
    let cancelled = json_of(
        app.post_as(&citizen, &format!("/v1/filings/{id}/cancel"), &json!({}))
            .await,
        200,
    )
    .await;
    let kept = cancelled["not_cancelled"].as_array().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["application_id"], ids[0].as_str());
    assert_eq!(kept[0]["state"], "at_department");
    let states: Vec<&str> = cancelled["filing"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["at_department", "cancelled", "cancelled"]);
    assert_eq!(cancelled["filing"]["state"], "in_progress");
    // Again changes nothing.
    let again = json_of(
        app.post_as(&citizen, &format!("/v1/filings/{id}/cancel"), &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(again["not_cancelled"], cancelled["not_cancelled"]);
}

#[tokio::test]
async fn the_catalogue_lists_bundles_with_their_items_in_order() {
    let app = quick_app().await;
    let listed = json_of(app.get("/v1/bundles").await, 200).await;
    let codes: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&UTILITIES) && codes.contains(&"newborn"),
        "{codes:?}"
    );
    let one = json_of(app.get(&format!("/v1/bundles/{UTILITIES}")).await, 200).await;
    let items: Vec<(&str, &str)> = one["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["matter_code"].as_str().unwrap(),
                i["department"]["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(items, ITEMS);
    assert_problem(app.get("/v1/bundles/nope").await, 404, "bundle_not_found").await;
}

/// A bundle of two items that both post their originals, imported beside the sample catalogue.
const POSTED: &str = "elderly-and-disability-cards";

async fn import_posted_bundle(app: &TestApp) {
    let text = format!(
        "{}\n[[bundle]]\ncode = \"{POSTED}\"\nname = \"老年人优待证与残疾人证联办\"\n\
         description = \"两证原件一次取件\"\n\
         items = [\"elderly-preferential-card\", \"disability-card-renewal\"]\n",
        beebox::startup::SAMPLE_CATALOG
    );
    let file = beebox::domain::catalog::CatalogFile::parse(&text).unwrap();
    app.import_catalog(&file).await;
}

#[tokio::test]
async fn a_bundles_originals_go_in_one_pickup_and_reach_each_departments_reception() {
    let app = quick_app().await;
    import_posted_bundle(&app).await;
    let citizen = app.citizen_token("bundle-posted").await;
    let filing = file(&app, &citizen, POSTED).await;
    let id = str_of(&filing["id"]);
    let ids: Vec<String> = filing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| str_of(&i["application_id"]))
        .collect();
    // The ID card, household register and ID photo are shared: asked at the first item only.
    let shared = [
        ("id-card", 1),
        ("id-card", 2),
        ("household-register", 3),
        ("household-register", 4),
        ("id-photo", 5),
        ("application-form", 6),
    ];
    upload_all(&app, &citizen, &ids[0], &shared).await;
    let own = [
        ("old-disability-card", 7),
        ("old-disability-card", 8),
        ("application-form", 9),
    ];
    upload_all(&app, &citizen, &ids[1], &own).await;
    json_of(submit(&app, &citizen, &id).await, 200).await;

    let civil = staff_token(&app, "civil.posted", "reviewer", "civil-affairs").await;
    let dpf = staff_token(
        &app,
        "dpf.posted",
        "reviewer",
        "disabled-persons-federation",
    )
    .await;
    for (reviewer, item) in [(&civil, &ids[0]), (&dpf, &ids[1])] {
        assert_eq!(
            claim_next(&app, reviewer).await.as_deref(),
            Some(item.as_str())
        );
    }
    json_of(
        decide(
            &app,
            &civil,
            Desk::Review,
            &ids[0],
            json!({"outcome": "approve"}),
        )
        .await,
        200,
    )
    .await;

    let slot = crate::support::courier::slots(&app, &citizen).await[0].clone();
    let body = crate::support::courier::booking(
        slot["date"].as_str().unwrap(),
        slot["slot"].as_str().unwrap(),
    );
    let path = format!("/v1/filings/{id}/pickup");
    // Not before every posting item passed pre-review.
    let early = assert_problem(
        app.post_as(&citizen, &path, &body).await,
        409,
        "filing_not_ready",
    )
    .await;
    assert_eq!(early["errors"][0]["field"], "disability-card-renewal");
    json_of(
        decide(
            &app,
            &dpf,
            Desk::Review,
            &ids[1],
            json!({"outcome": "approve"}),
        )
        .await,
        200,
    )
    .await;
    // Not item by item.
    let alone = format!("/v1/applications/{}/pickup", ids[0]);
    assert_problem(
        app.post_as(&citizen, &alone, &body).await,
        409,
        "pickup_with_filing",
    )
    .await;

    let booked = json_of(app.post_as(&citizen, &path, &body).await, 201).await;
    let carries: Vec<String> = booked["carries"]
        .as_array()
        .unwrap()
        .iter()
        .map(str_of)
        .collect();
    assert_eq!(carries, ids);
    let again = json_of(app.post_as(&citizen, &path, &body).await, 200).await;
    assert_eq!(again["shipment_id"], booked["shipment_id"]);
    for item in &ids {
        let one = json_of(
            app.get_as(&citizen, &format!("/v1/applications/{item}/pickup"))
                .await,
            200,
        )
        .await;
        assert_eq!(
            one["shipment_id"], booked["shipment_id"],
            "one parcel for both"
        );
        assert_problem(
            app.delete_as(&citizen, &format!("/v1/applications/{item}/pickup"))
                .await,
            409,
            "pickup_with_filing",
        )
        .await;
    }

    // The simulated courier collects and delivers the one parcel: both cases move.
    for item in &ids {
        crate::support::courier::shipments_until(
            &app,
            &citizen,
            item,
            "originals delivered",
            |items| {
                items
                    .iter()
                    .any(|s| s["leg"] == "materials" && s["status"] == "delivered")
            },
        )
        .await;
    }
    let now = filing_of(&app, &citizen, &id).await;
    assert!(
        now["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "originals_in_transit"),
        "{now}"
    );

    // Each department's reception finds its own case in the parcel; a desk of both sees both.
    let waybill = str_of(&json_of(app.get_as(&citizen, &path).await, 200).await["waybill_no"]);
    for (n, department) in ["civil-affairs", "disabled-persons-federation"]
        .iter()
        .enumerate()
    {
        let desk = staff_token(&app, &format!("desk{n}.posted"), "reception", department).await;
        let queue = json_of(app.get_as(&desk, "/v1/reception/queue").await, 200).await;
        let queued: Vec<&Value> = queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["id"])
            .collect();
        assert_eq!(queued, [&json!(ids[n])]);
        let scanned = json_of(
            app.get_as(&desk, &format!("/v1/reception/waybills/{waybill}"))
                .await,
            200,
        )
        .await;
        assert_eq!(scanned["id"], ids[n].as_str());
        assert_eq!(scanned["awaiting_reception"], true);
        assert!(scanned["same_parcel"].as_array().unwrap().is_empty());
        let received = app
            .post_as(
                &desk,
                &format!("/v1/reception/applications/{}/receive", ids[n]),
                &json!({"matches": true}),
            )
            .await;
        assert_eq!(received.status(), 200, "{department}");
    }
    let both = staff_token(
        &app,
        "desk.both",
        "reception",
        "civil-affairs,disabled-persons-federation",
    )
    .await;
    let scanned = json_of(
        app.get_as(&both, &format!("/v1/reception/waybills/{waybill}"))
            .await,
        200,
    )
    .await;
    assert_eq!(scanned["same_parcel"].as_array().unwrap().len(), 1);
}
