//! The citizen's wallet (证照夹): pre-review's approval makes a typed material's pages a verified
//! document; a later case of another department takes it without an upload where its material
//! accepts reuse; the citizen withdraws one, a reviewer invalidates one, and what cannot fill a
//! material is refused with nothing attached.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::answers::json_of;
use crate::support::cases::{
    CIVIL, Desk, ELDERLY_CARD, SOCIAL, claim_next, create, decide, submitted_case,
};
use crate::support::pages::fetch;
use crate::support::staff::staff_token;
use crate::support::wallet::{
    approved_case, attach, card_of, material, of_type, reused_case, submit_case, upload_all, wallet,
};
use crate::support::{TestApp, assert_problem, quick_app};

async fn case_of(app: &TestApp, citizen: &str, id: &str) -> Value {
    json_of(
        app.get_as(citizen, &format!("/v1/applications/{id}")).await,
        200,
    )
    .await
}

#[tokio::test]
async fn an_approved_case_fills_the_wallet_and_another_department_reuses_it_without_an_upload() {
    let app = quick_app().await;
    let citizen = app.citizen_token("wallet-owner").await;
    assert!(wallet(&app, &citizen, "").await.is_empty());
    let source = approved_case(&app, &citizen, 40, json!({"outcome": "approve"})).await;

    // Both typed materials became documents; the ID card's pages are the case's.
    let docs = wallet(&app, &citizen, "").await;
    assert_eq!(docs.len(), 2, "{docs:?}");
    let card = of_type(&docs, "resident_id_card");
    assert_eq!(card["state"], "valid");
    assert_eq!(card["page_count"], 2);
    assert_eq!(card["source"]["application_id"], source.as_str());
    assert_eq!(card["source"]["department_code"], SOCIAL);
    let card_id = card["id"].as_str().unwrap().to_string();
    let photo_id = of_type(&docs, "id_photo")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let source_case = case_of(&app, &citizen, &source).await;
    let source_shas: Vec<&Value> = material(&source_case, "id-card")["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["sha256"])
        .collect();
    let detail = json_of(
        app.get_as(&citizen, &format!("/v1/documents/{card_id}"))
            .await,
        200,
    )
    .await;
    let pages = detail["pages"].as_array().unwrap();
    assert_eq!(
        pages.iter().map(|p| &p["sha256"]).collect::<Vec<_>>(),
        source_shas
    );
    let first = fetch(&app, pages[0]["url"].as_str().unwrap()).await;
    assert!(first.starts_with(&[0xFF, 0xD8]));

    // A case of another department offers the card where its material accepts it, and only there.
    let draft = create(&app, &citizen, ELDERLY_CARD).await;
    let id = draft["id"].as_str().unwrap().to_string();
    let offered: Vec<&Value> = material(&draft, "id-card")["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["id"])
        .collect();
    assert_eq!(offered, [&json!(card_id)]);
    assert_eq!(material(&draft, "id-photo")["reuse"], "fresh_only");
    assert!(
        material(&draft, "id-photo")["offers"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        material(&draft, "household-register")["offers"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let attached = json_of(attach(&app, &citizen, &id, "id-card", &card_id).await, 201).await;
    assert_eq!(attached["document"]["id"], card_id.as_str());
    let new_pages = attached["pages"].as_array().unwrap();
    assert_eq!(new_pages.len(), 2);
    assert!(
        new_pages
            .iter()
            .all(|p| p["document_id"] == card_id.as_str())
    );
    assert_eq!(
        new_pages.iter().map(|p| &p["sha256"]).collect::<Vec<_>>(),
        source_shas
    );
    // A retry attaches nothing more.
    let again = json_of(attach(&app, &citizen, &id, "id-card", &card_id).await, 200).await;
    assert_eq!(again["pages"], attached["pages"]);

    let case = case_of(&app, &citizen, &id).await;
    let card_material = material(&case, "id-card");
    assert_eq!(card_material["satisfied"], true);
    assert_eq!(card_material["page_count"], 2);
    assert!(card_material["offers"].as_array().unwrap().is_empty());
    let reused = card_material["reused"].as_array().unwrap();
    assert_eq!(reused.len(), 1);
    assert_eq!(reused[0]["id"], card_id.as_str());
    assert!(
        reused[0].get("verified_by").is_none(),
        "staff names are for staff"
    );
    // The timeline and the document say where it was used.
    let actions = app.timeline_actions(&citizen, &id).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "attach_document").count(),
        1
    );
    let detail = json_of(
        app.get_as(&citizen, &format!("/v1/documents/{card_id}"))
            .await,
        200,
    )
    .await;
    let uses = detail["uses"].as_array().unwrap();
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0]["application_id"], id.as_str());
    assert_eq!(uses[0]["department_code"], CIVIL);
    assert_eq!(uses[0]["matter_code"], ELDERLY_CARD);

    // The rest uploaded; the case submits and its reviewer sees what was reused, by whom.
    let rest = [
        ("household-register", 141),
        ("household-register", 142),
        ("id-photo", 143),
        ("application-form", 144),
    ];
    upload_all(&app, &citizen, &id, &rest).await;
    submit_case(&app, &citizen, &id).await;
    let civil = staff_token(&app, "civil.reviewer", "reviewer", CIVIL).await;
    let seen = json_of(
        app.get_as(&civil, &format!("/v1/review/applications/{id}"))
            .await,
        200,
    )
    .await;
    let reused = &material(&seen["application"], "id-card")["reused"][0];
    assert_eq!(reused["id"], card_id.as_str());
    assert_eq!(reused["source"]["application_id"], source.as_str());
    assert_eq!(
        reused["verified_by"]["display_name"]
            .as_str()
            .map(str::is_empty),
        Some(false)
    );
    assert!(reused["verified_at"].is_string());
    assert!(material(&seen["application"], "id-card")["pages"][0]["url"].is_string());

    // The ID photo's document never fills a material of another type.
    let other = create(&app, &citizen, ELDERLY_CARD).await;
    let other = other["id"].as_str().unwrap();
    assert_problem(
        attach(&app, &citizen, other, "id-card", &photo_id).await,
        422,
        "document_type_mismatch",
    )
    .await;
}

#[tokio::test]
async fn documents_that_cannot_fill_a_material_are_refused_and_nothing_is_attached() {
    let app = quick_app().await;
    let citizen = app.citizen_token("wallet-refusals").await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::hours(8 + 24)).date_naive();
    approved_case(
        &app,
        &citizen,
        50,
        json!({"outcome": "approve",
               "document_expiries": [{"material_code": "id-card", "expires_on": tomorrow}]}),
    )
    .await;
    let docs = wallet(&app, &citizen, "").await;
    let card = of_type(&docs, "resident_id_card");
    assert_eq!(card["expires_on"], json!(tomorrow));
    let card_id = card["id"].as_str().unwrap().to_string();
    let photo_id = of_type(&docs, "id_photo")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let draft = create(&app, &citizen, ELDERLY_CARD).await;
    let id = draft["id"].as_str().unwrap().to_string();

    // A fresh_only material, another citizen, an unknown document, an unknown material.
    assert_problem(
        attach(&app, &citizen, &id, "id-photo", &photo_id).await,
        422,
        "reuse_not_accepted",
    )
    .await;
    let stranger = app.citizen_token("wallet-stranger").await;
    let theirs = create(&app, &stranger, ELDERLY_CARD).await;
    let theirs = theirs["id"].as_str().unwrap();
    assert_problem(
        attach(&app, &stranger, theirs, "id-card", &card_id).await,
        404,
        "document_not_found",
    )
    .await;
    assert_problem(
        app.get_as(&stranger, &format!("/v1/documents/{card_id}"))
            .await,
        404,
        "document_not_found",
    )
    .await;
    assert_problem(
        app.post_as(
            &stranger,
            &format!("/v1/documents/{card_id}/withdraw"),
            &json!({}),
        )
        .await,
        404,
        "document_not_found",
    )
    .await;
    assert!(wallet(&app, &stranger, "?ended=true").await.is_empty());
    assert_problem(
        attach(&app, &citizen, theirs, "id-card", &card_id).await,
        404,
        "application_not_found",
    )
    .await;
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_problem(
        attach(&app, &citizen, &id, "id-card", &unknown).await,
        404,
        "document_not_found",
    )
    .await;
    assert_problem(
        attach(&app, &citizen, &id, "no-such", &card_id).await,
        404,
        "material_not_found",
    )
    .await;

    // The card expires with the day the reviewer recorded, whatever the material's 365 days say.
    app.state.clock.advance(Duration::from_secs(3 * 24 * 3600));
    let draft = case_of(&app, &citizen, &id).await;
    assert!(
        material(&draft, "id-card")["offers"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_problem(
        attach(&app, &citizen, &id, "id-card", &card_id).await,
        422,
        "document_expired",
    )
    .await;
    let draft = case_of(&app, &citizen, &id).await;
    assert_eq!(material(&draft, "id-card")["page_count"], 0);
    assert!(
        json_of(
            app.get_as(&citizen, &format!("/v1/documents/{card_id}"))
                .await,
            200
        )
        .await["uses"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A recorded expiry must name a typed material and lie ahead; only an approval records one.
    let reviewer = staff_token(&app, "hr.expiries", "reviewer", SOCIAL).await;
    let next = submitted_case(&app, &citizen, None, 60).await;
    assert_eq!(
        claim_next(&app, &reviewer).await.as_deref(),
        Some(next.as_str())
    );
    for (body, field) in [
        (
            json!({"outcome": "approve", "document_expiries": [{"material_code": "old-card", "expires_on": "2099-01-01"}]}),
            "document_expiries[0].material_code",
        ),
        (
            json!({"outcome": "approve", "document_expiries": [{"material_code": "id-card", "expires_on": "2020-01-01"}]}),
            "document_expiries[0].expires_on",
        ),
        (
            json!({"outcome": "return", "reasons": [{"material_code": "id-card", "reason": "模糊"}], "document_expiries": [{"material_code": "id-card", "expires_on": "2099-01-01"}]}),
            "document_expiries",
        ),
    ] {
        let refused = assert_problem(
            decide(&app, &reviewer, Desk::Review, &next, body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(refused["errors"][0]["field"], field, "{refused}");
    }
}

#[tokio::test]
async fn a_withdrawn_document_stays_in_the_cases_that_used_it_and_is_never_offered_again() {
    let app = quick_app().await;
    let citizen = app.citizen_token("wallet-withdraw").await;
    approved_case(&app, &citizen, 70, json!({"outcome": "approve"})).await;
    let card_id = card_of(&app, &citizen).await;
    let used = create(&app, &citizen, ELDERLY_CARD).await;
    let used = used["id"].as_str().unwrap().to_string();
    json_of(
        attach(&app, &citizen, &used, "id-card", &card_id).await,
        201,
    )
    .await;

    let withdrawn = json_of(
        app.post_as(
            &citizen,
            &format!("/v1/documents/{card_id}/withdraw"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(withdrawn["state"], "withdrawn");
    assert!(withdrawn["ended_at"].is_string());
    // Again is harmless.
    let again = json_of(
        app.post_as(
            &citizen,
            &format!("/v1/documents/{card_id}/withdraw"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(again["ended_at"], withdrawn["ended_at"]);

    // Out of the wallet's list, still there with `ended`; the case that used it keeps its pages.
    assert!(
        wallet(&app, &citizen, "")
            .await
            .iter()
            .all(|d| d["id"] != card_id.as_str())
    );
    let ended = wallet(&app, &citizen, "?ended=true").await;
    assert_eq!(
        ended.iter().find(|d| d["id"] == card_id.as_str()).unwrap()["state"],
        "withdrawn"
    );
    let case = case_of(&app, &citizen, &used).await;
    assert_eq!(material(&case, "id-card")["page_count"], 2);
    assert_eq!(
        material(&case, "id-card")["reused"][0]["state"],
        "withdrawn"
    );

    // A new case neither offers nor takes it.
    let fresh = create(&app, &citizen, ELDERLY_CARD).await;
    assert!(
        material(&fresh, "id-card")["offers"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let fresh = fresh["id"].as_str().unwrap();
    assert_problem(
        attach(&app, &citizen, fresh, "id-card", &card_id).await,
        422,
        "document_withdrawn",
    )
    .await;
    assert_eq!(
        material(&case_of(&app, &citizen, fresh).await, "id-card")["page_count"],
        0
    );
}

#[tokio::test]
async fn removing_a_reused_page_keeps_the_object_the_wallet_names() {
    let app = quick_app().await;
    let citizen = app.citizen_token("wallet-remove").await;
    approved_case(&app, &citizen, 80, json!({"outcome": "approve"})).await;
    let card_id = card_of(&app, &citizen).await;
    let draft = create(&app, &citizen, ELDERLY_CARD).await;
    let id = draft["id"].as_str().unwrap().to_string();
    let attached = json_of(attach(&app, &citizen, &id, "id-card", &card_id).await, 201).await;
    for page in attached["pages"].as_array().unwrap() {
        let deleted = app
            .delete_as(
                &citizen,
                &format!(
                    "/v1/applications/{id}/pages/{}",
                    page["id"].as_str().unwrap()
                ),
            )
            .await;
        assert_eq!(deleted.status(), 204);
    }
    // The use ended with its last page; the deletion jobs ran and left the shared objects.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let jobs = beebox::store::jobs::list(
            app.state.database().unwrap(),
            None,
            Some("delete_objects"),
            None,
            10,
        )
        .await
        .unwrap();
        if jobs.len() == 2 && jobs.iter().all(|j| j.state == "done") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{jobs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let detail = json_of(
        app.get_as(&citizen, &format!("/v1/documents/{card_id}"))
            .await,
        200,
    )
    .await;
    assert!(detail["uses"][0]["removed_at"].is_string());
    for page in detail["pages"].as_array().unwrap() {
        let bytes = fetch(&app, page["url"].as_str().unwrap()).await;
        assert_eq!(bytes.len() as u64, page["size"].as_u64().unwrap());
    }
    // And the material offers the card again.
    let case = case_of(&app, &citizen, &id).await;
    assert_eq!(
        material(&case, "id-card")["offers"][0]["id"],
        card_id.as_str()
    );
}

#[tokio::test]
async fn a_reviewer_invalidates_a_reused_document_and_a_resubmission_must_replace_it() {
    let app = quick_app().await;
    let (citizen, id, card_id) = reused_case(&app, "wallet-invalid", 90).await;

    let civil = staff_token(&app, "civil.checker", "reviewer", CIVIL).await;
    let path = format!("/v1/review/applications/{id}/documents/{card_id}/invalidate");
    let reason = json!({"reason": "证件已过有效期"});
    // Only the claim holder, and only a document this case used.
    assert_problem(
        app.post_as(&civil, &path, &reason).await,
        409,
        "claim_required",
    )
    .await;
    assert_eq!(claim_next(&app, &civil).await.as_deref(), Some(id.as_str()));
    let unused = format!(
        "/v1/review/applications/{id}/documents/{}/invalidate",
        uuid::Uuid::now_v7()
    );
    assert_problem(
        app.post_as(&civil, &unused, &reason).await,
        404,
        "document_not_found",
    )
    .await;
    let hr = staff_token(&app, "hr.outsider", "reviewer", SOCIAL).await;
    assert_problem(
        app.post_as(&hr, &path, &reason).await,
        404,
        "application_not_found",
    )
    .await;
    assert_problem(
        app.post_as(&civil, &path, &json!({"reason": ""})).await,
        400,
        "malformed_body",
    )
    .await;

    let seen = json_of(app.post_as(&civil, &path, &reason).await, 200).await;
    let reused = &material(&seen["application"], "id-card")["reused"][0];
    assert_eq!(reused["state"], "invalidated");
    assert_eq!(reused["end_reason"], "证件已过有效期");
    // The citizen's wallet no longer holds it, and says why.
    assert!(
        wallet(&app, &citizen, "")
            .await
            .iter()
            .all(|d| d["id"] != card_id.as_str())
    );
    let detail = json_of(
        app.get_as(&citizen, &format!("/v1/documents/{card_id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(detail["state"], "invalidated");
    assert_eq!(detail["end_reason"], "证件已过有效期");
    assert!(
        app.timeline_actions(&citizen, &id)
            .await
            .iter()
            .any(|a| a == "invalidate_document")
    );

    // Returned, the case cannot go back with the invalid pages; fresh ones fix it.
    json_of(
        decide(&app, &civil, Desk::Review, &id,
               json!({"outcome": "return", "reasons": [{"material_code": "id-card", "reason": "身份证已过期，请上传新证"}]})).await,
        200,
    )
    .await;
    let refused = assert_problem(
        app.post_as(
            &citizen,
            &format!("/v1/applications/{id}/submit"),
            &json!({}),
        )
        .await,
        422,
        "materials_incomplete",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "id-card");
    let case = case_of(&app, &citizen, &id).await;
    for page in material(&case, "id-card")["pages"].as_array().unwrap() {
        let path = format!(
            "/v1/applications/{id}/pages/{}",
            page["id"].as_str().unwrap()
        );
        assert_eq!(app.delete_as(&citizen, &path).await.status(), 204);
    }
    upload_all(&app, &citizen, &id, &[("id-card", 201), ("id-card", 202)]).await;
    submit_case(&app, &citizen, &id).await;
}

#[tokio::test]
async fn the_departments_approval_confirms_a_document_and_a_new_verification_replaces_it() {
    let app = quick_app().await;
    let citizen = app.citizen_token("wallet-confirm").await;
    let id = approved_case(&app, &citizen, 100, json!({"outcome": "approve"})).await;
    let card = of_type(&wallet(&app, &citizen, "").await, "resident_id_card").clone();
    assert!(card.get("confirmed_at").is_none());
    let approver = staff_token(&app, "hr.approver", "approver", SOCIAL).await;
    app.state.clock.advance(Duration::from_secs(24 * 3600));
    json_of(
        decide(
            &app,
            &approver,
            Desk::Department,
            &id,
            json!({"outcome": "approved", "note": "同意"}),
        )
        .await,
        200,
    )
    .await;
    let confirmed = of_type(&wallet(&app, &citizen, "").await, "resident_id_card").clone();
    assert_eq!(confirmed["id"], card["id"]);
    let confirmed_at =
        chrono::DateTime::parse_from_rfc3339(confirmed["confirmed_at"].as_str().unwrap()).unwrap();
    let until =
        chrono::DateTime::parse_from_rfc3339(confirmed["valid_until"].as_str().unwrap()).unwrap();
    // The sample catalogue's ID card material keeps a verification 365 days.
    assert_eq!(until - confirmed_at, chrono::Duration::days(365));
    let verified_at =
        chrono::DateTime::parse_from_rfc3339(card["verified_at"].as_str().unwrap()).unwrap();
    assert!(confirmed_at > verified_at);
}
