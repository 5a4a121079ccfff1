//! Reception of the originals and the dispatch batches: leg 1 played against the in-process SF
//! simulator, then the reception desk over HTTP.

use serde_json::{Value, json};

use crate::support::answers::{contains, pdf_shown};
use crate::support::cases::{CIVIL, state_of};
use crate::support::courier::{arrived_case, shipments_until};
use crate::support::mail::{unique_address, wait_for_mail_to};
use crate::support::seeds::passed_case;
use crate::support::staff::staff_token;
use crate::support::{TestApp, assert_problem, quick_app, spawn_app_with};

#[tokio::test]
async fn reception_confirms_arrived_originals_and_the_cut_off_dispatches_them() {
    let app = quick_app().await;
    let desk = staff_token(&app, "front.desk", "reception", CIVIL).await;
    let (citizen, id) = arrived_case(&app, "arrived").await;

    let queue: Value = app
        .get_as(&desk, "/v1/reception/queue")
        .await
        .json()
        .await
        .unwrap();
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id.as_str());
    assert!(items[0]["waybill_no"].as_str().unwrap().starts_with("SF"));

    let path = format!("/v1/reception/applications/{id}/receive");
    let received = app
        .post_as(&desk, &path, &json!({"matches": true, "note": "原件齐全"}))
        .await;
    assert_eq!(received.status(), 200);
    let received: Value = received.json().await.unwrap();
    assert_eq!(received["state"], "received");
    assert_eq!(state_of(&app, &citizen, &id).await, "received");
    // Confirming twice is a conflict, and the case has left the queue.
    assert_problem(
        app.post_as(&desk, &path, &json!({"matches": true})).await,
        409,
        "invalid_state",
    )
    .await;
    let queue: Value = app
        .get_as(&desk, "/v1/reception/queue")
        .await
        .json()
        .await
        .unwrap();
    assert!(queue["items"].as_array().unwrap().is_empty());

    // The cut-off: the scheduled job batches it for its department.
    let db = app.state.database().unwrap();
    beebox::store::jobs::enqueue(
        db,
        beebox::store::jobs::NewJob::of(&beebox::courier::dispatch::DispatchBatches {
            cutoff: chrono::Utc::now(),
        })
        .deduped_by("test:dispatch"),
    )
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while state_of(&app, &citizen, &id).await != "at_department" {
        assert!(std::time::Instant::now() < deadline, "never dispatched");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let batches: Value = app
        .get_as(&desk, "/v1/reception/batches")
        .await
        .json()
        .await
        .unwrap();
    let batch = &batches["items"][0];
    assert_eq!(batch["department_code"], CIVIL);
    assert_eq!(batch["case_count"], 1);
    let manifest = app
        .get_as(
            &desk,
            &format!(
                "/v1/reception/batches/{}/manifest",
                batch["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(manifest.status(), 200);
    assert!(
        manifest.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = manifest.text().await.unwrap();
    assert!(text.contains(&id.replace('-', "")), "{text}");
    assert!(
        text.contains("老年人优待证") || text.contains("优待"),
        "{text}"
    );
    assert!(text.contains("接收人签字"));

    let actions = app.timeline_actions(&citizen, &id).await;
    assert_eq!(
        actions,
        [
            "schedule_pickup",
            "pick_up",
            "originals_delivered",
            "receive",
            "dispatch"
        ]
    );
}

#[tokio::test]
async fn a_mismatch_returns_the_case_with_reasons_and_the_originals_by_courier() {
    let app = quick_app().await;
    let desk = staff_token(&app, "careful.desk", "reception", CIVIL).await;
    let (citizen, id) = arrived_case(&app, "mismatched").await;
    let path = format!("/v1/reception/applications/{id}/receive");

    let problem = assert_problem(
        app.post_as(&desk, &path, &json!({"matches": false})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "mismatched_materials");
    let problem = assert_problem(
        app.post_as(
            &desk,
            &path,
            &json!({"matches": false, "mismatched_materials": ["passport"]}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "mismatched_materials[0]");

    let returned = app
        .post_as(
            &desk,
            &path,
            &json!({"matches": false, "note": "户口簿原件与照片不是同一本", "mismatched_materials": ["household-register"]}),
        )
        .await;
    assert_eq!(returned.status(), 200);
    let returned: Value = returned.json().await.unwrap();
    assert_eq!(returned["state"], "returned");
    assert!(returned["return_shipment_id"].is_string());

    let mine: Value = app
        .get_as(&citizen, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["state"], "returned");
    assert_eq!(
        mine["return_reasons"][0]["material_code"],
        "household-register"
    );
    assert_eq!(
        mine["return_reasons"][0]["reason"],
        "户口簿原件与照片不是同一本"
    );
    // The originals go back by courier: a return leg with its own order and waybill.
    let legs = shipments_until(&app, &citizen, &id, "return leg ordered", |items| {
        items
            .iter()
            .any(|s| s["leg"] == "return" && s["waybill_no"].is_string())
    })
    .await;
    assert_eq!(legs.len(), 2);
    // Their delivery back to the citizen is on the timeline; the case stays returned.
    shipments_until(&app, &citizen, &id, "originals back", |items| {
        items
            .iter()
            .any(|s| s["leg"] == "return" && s["status"] == "delivered")
    })
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !app
        .timeline_actions(&citizen, &id)
        .await
        .contains(&"originals_returned".to_string())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no originals_returned"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state_of(&app, &citizen, &id).await, "returned");
}

#[tokio::test]
async fn reception_is_for_reception_staff_of_the_cases_department() {
    let app = quick_app().await;
    let (_, id) = passed_case(&app, "not-yet").await;
    let desk = staff_token(&app, "eager.desk", "reception", CIVIL).await;
    let path = format!("/v1/reception/applications/{id}/receive");
    assert_problem(
        app.post_as(&desk, &path, &json!({"matches": true})).await,
        409,
        "invalid_state",
    )
    .await;
    let elsewhere = staff_token(
        &app,
        "other.desk",
        "reception",
        "human-resources-social-security",
    )
    .await;
    assert_problem(
        app.post_as(&elsewhere, &path, &json!({"matches": true}))
            .await,
        404,
        "application_not_found",
    )
    .await;
    let reviewer = staff_token(&app, "a.reviewer", "reviewer", CIVIL).await;
    assert_problem(
        app.get_as(&reviewer, "/v1/reception/queue").await,
        403,
        "role_required",
    )
    .await;
    let citizen = app.citizen_token("nosy").await;
    assert_eq!(
        app.get_as(&citizen, "/v1/reception/queue").await.status(),
        403
    );
}

/// Received cases, one per name, dispatched at a cut-off of now: the batch's id and the cases.
async fn dispatched_batch(app: &TestApp, desk: &str, names: &[&str]) -> (String, Vec<String>) {
    let mut ids = Vec::new();
    for name in names {
        let (_, id) = arrived_case(app, name).await;
        let path = format!("/v1/reception/applications/{id}/receive");
        let received = app.post_as(desk, &path, &json!({"matches": true})).await;
        assert_eq!(received.status(), 200);
        ids.push(id);
    }
    let db = app.state.database().unwrap();
    let moved = app
        .state
        .cases
        .dispatch_at(db, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(moved, names.len());
    let batches: Value = app
        .get_as(desk, "/v1/reception/batches")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(batches["items"][0]["case_count"], names.len());
    (batches["items"][0]["id"].as_str().unwrap().to_string(), ids)
}

async fn get_accepting(app: &TestApp, token: &str, path: &str, accept: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .header("accept", accept)
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_string()
}

#[tokio::test]
async fn the_manifest_prints_as_a_pdf_with_every_case_and_the_signatures_line() {
    let app = quick_app().await;
    let desk = staff_token(&app, "print.desk", "reception", CIVIL).await;
    let (batch, ids) = dispatched_batch(&app, &desk, &["printed-one", "printed-two"]).await;
    let path = format!("/v1/reception/batches/{batch}/manifest");

    let response = app.get_as(&desk, &format!("{path}?format=pdf")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/pdf");
    assert_eq!(
        header(&response, "content-disposition"),
        format!("attachment; filename=\"manifest-{batch}.pdf\"")
    );
    let pdf = response.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
    assert!(contains(&pdf, b"/BaseFont /STSong-Light"));
    assert!(contains(&pdf, b"/Encoding /UniGB-UCS2-H"));
    // Two cases fit one page.
    assert!(contains(&pdf, b"/Count 1"));
    for id in &ids {
        assert!(contains(&pdf, &pdf_shown(&id.replace('-', ""))), "{id}");
    }
    assert!(contains(&pdf, &pdf_shown("材料交接单")));
    assert!(contains(&pdf, &pdf_shown("合计 2 件")));
    assert!(contains(&pdf, &pdf_shown("接收人签字：")));
    assert!(contains(&pdf, &pdf_shown("第 1 页 / 共 1 页")));

    // Without `format`, Accept chooses; `format` wins over Accept; CSV stays the default.
    let accepted = get_accepting(&app, &desk, &path, "application/pdf").await;
    assert_eq!(accepted.status(), 200);
    assert_eq!(header(&accepted, "content-type"), "application/pdf");
    assert!(accepted.bytes().await.unwrap().starts_with(b"%PDF-"));
    let ranked = get_accepting(&app, &desk, &path, "text/csv, application/pdf;q=0.5").await;
    assert!(header(&ranked, "content-type").starts_with("text/csv"));
    let explicit = get_accepting(
        &app,
        &desk,
        &format!("{path}?format=csv"),
        "application/pdf",
    )
    .await;
    assert!(header(&explicit, "content-type").starts_with("text/csv"));
    let csv = app.get_as(&desk, &path).await;
    assert_eq!(csv.status(), 200);
    assert!(header(&csv, "content-type").starts_with("text/csv"));
    assert_eq!(
        header(&csv, "content-disposition"),
        format!("attachment; filename=\"manifest-{batch}.csv\"")
    );
    let text = csv.text().await.unwrap();
    for id in &ids {
        assert!(text.contains(&id.replace('-', "")), "{text}");
    }
    assert!(text.contains("合计,2 件"), "{text}");
}

#[tokio::test]
async fn the_manifest_format_is_checked_and_other_departments_batches_are_not_found() {
    let app = quick_app().await;
    let desk = staff_token(&app, "format.desk", "reception", CIVIL).await;
    let (batch, _) = dispatched_batch(&app, &desk, &["formatted"]).await;
    let path = format!("/v1/reception/batches/{batch}/manifest");

    assert_problem(
        app.get_as(&desk, &format!("{path}?format=xml")).await,
        400,
        "invalid_parameter",
    )
    .await;
    let elsewhere = staff_token(
        &app,
        "elsewhere.desk",
        "reception",
        "human-resources-social-security",
    )
    .await;
    for query in ["", "?format=csv", "?format=pdf"] {
        assert_problem(
            app.get_as(&elsewhere, &format!("{path}{query}")).await,
            404,
            "batch_not_found",
        )
        .await;
    }
    assert_problem(
        get_accepting(&app, &elsewhere, &path, "application/pdf").await,
        404,
        "batch_not_found",
    )
    .await;
}

#[tokio::test]
async fn an_item_that_keeps_mismatched_originals_sends_no_return_leg_and_the_citizen_is_told_why() {
    let app = spawn_app_with(|c| {
        c.courier.sf.sim_step_ms = 100;
        c.jobs.poll_ms = 50;
        crate::support::mail::mail_to_peer(c);
    })
    .await;
    // The centre returns mismatched originals by default; this item's catalogue entry keeps them.
    assert!(app.state.config.courier.return_originals_on_mismatch);
    let db = app.state.database().unwrap();
    let catalogue = beebox::startup::SAMPLE_CATALOG.replacen(
        "code = \"elderly-preferential-card\"",
        "code = \"elderly-preferential-card\"\noriginals_on_mismatch = \"keep\"",
        1,
    );
    let catalogue = beebox::domain::catalog::CatalogFile::parse(&catalogue).unwrap();
    app.import_catalog(&catalogue).await;
    let item: Value = app
        .get("/v1/matters/elderly-preferential-card")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(item["version"], 2);
    assert_eq!(item["originals_on_mismatch"], "keep");

    let desk = staff_token(&app, "keeping.desk", "reception", CIVIL).await;
    let (citizen, id) = arrived_case(&app, "kept").await;
    let email = unique_address("kept");
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let row = beebox::store::applications::application::Entity::find_by_id(
        id.parse::<uuid::Uuid>().unwrap(),
    )
    .one(db)
    .await
    .unwrap()
    .unwrap();
    let mut row: beebox::store::applications::application::ActiveModel = row.into();
    row.applicant_email = Set(Some(email.clone()));
    row.update(db).await.unwrap();

    let returned = app
        .post_as(
            &desk,
            &format!("/v1/reception/applications/{id}/receive"),
            &json!({"matches": false, "note": "户口簿原件与照片不是同一本", "mismatched_materials": ["household-register"]}),
        )
        .await;
    assert_eq!(returned.status(), 200);
    let returned: Value = returned.json().await.unwrap();
    assert_eq!(returned["state"], "returned");
    assert!(returned.get("return_shipment_id").is_none(), "{returned}");
    let legs: Value = app
        .get_as(&citizen, &format!("/v1/applications/{id}/shipments"))
        .await
        .json()
        .await
        .unwrap();
    let legs = legs["items"].as_array().unwrap();
    assert_eq!(legs.len(), 1, "only leg 1: {legs:#?}");

    // The citizen's email says reception found the mismatch, and names the material.
    let mails = wait_for_mail_to(&email, 1).await;
    let returned_mail = mails
        .iter()
        .find(|m| m["subject"].as_str().unwrap().contains("补正"))
        .expect("the return email");
    let text = returned_mail["text"].as_str().unwrap();
    assert!(text.contains("核验"), "{text}");
    assert!(text.contains("居民户口簿"), "{text}");
    assert!(text.contains("户口簿原件与照片不是同一本"), "{text}");
    assert!(!text.contains("经预审"), "{text}");
}
