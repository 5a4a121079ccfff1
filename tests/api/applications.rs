//! Creating, listing, reading and cancelling applications, as the mini-program would.

use serde_json::json;

use crate::support::answers::field_pairs;
use crate::support::cases::{VALID_ID, create, new_application};
use crate::support::{assert_problem, spawn_app};

#[tokio::test]
async fn create_gives_a_draft_with_the_items_materials() {
    let app = spawn_app().await;
    let token = app.citizen_token("zhang").await;
    let created = create(&app, &token, "elderly-preferential-card").await;
    assert_eq!(created["state"], "draft");
    assert_eq!(created["matter"]["code"], "elderly-preferential-card");
    assert_eq!(created["matter"]["version"], 1);
    assert_eq!(created["applicant"]["phone"], "13800138000");
    // The owner sees the ID number in full.
    assert_eq!(created["applicant"]["id_number"], VALID_ID);
    assert_eq!(created["return_address"]["city"], "杭州市");
    let materials = created["materials"].as_array().unwrap();
    assert!(!materials.is_empty());
    let required = materials.iter().find(|m| m["required"] == true).unwrap();
    assert_eq!(required["page_count"], 0);
    assert_eq!(required["satisfied"], false);

    let id = created["id"].as_str().unwrap();
    let fetched: serde_json::Value = app
        .get_as(&token, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn id_number_is_encrypted_at_rest() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app().await;
    let token = app.citizen_token("secretive").await;
    create(&app, &token, "elderly-preferential-card").await;
    let db = app.state.database().unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT applicant_id_number_enc, applicant_id_number_masked FROM applications",
        ))
        .await
        .unwrap()
        .unwrap();
    let enc: String = row.try_get("", "applicant_id_number_enc").unwrap();
    let masked: String = row.try_get("", "applicant_id_number_masked").unwrap();
    assert!(enc.starts_with("v1:"));
    assert!(!enc.contains("19491231"));
    assert_eq!(masked, "110105********002X");
}

#[tokio::test]
async fn idempotency_key_replays_the_same_response_and_refuses_a_different_body() {
    let app = spawn_app().await;
    let token = app.citizen_token("retrier").await;
    let send = |body: serde_json::Value, key: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.client
                .post(app.url("/v1/applications"))
                .bearer_auth(token)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let body = new_application("birth-registration");
    let first = send(body.clone(), "key-1").await;
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await.unwrap();
    let again = send(body.clone(), "key-1").await;
    assert_eq!(again.status(), 201);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again, first);

    let mut changed = body.clone();
    changed["note"] = json!("下午在家");
    assert_problem(send(changed, "key-1").await, 422, "idempotency_key_reused").await;

    let list: serde_json::Value = app
        .get_as(&token, "/v1/applications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Another citizen may use the same key for their own request.
    let other = app.citizen_token("someone-else").await;
    let response = app
        .client
        .post(app.url("/v1/applications"))
        .bearer_auth(&other)
        .header("idempotency-key", "key-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let theirs: serde_json::Value = response.json().await.unwrap();
    assert_ne!(theirs["id"], first["id"]);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_application() {
    let app = spawn_app().await;
    let token = app.citizen_token("impatient").await;
    let body = new_application("birth-registration");
    let requests = (0..8).map(|_| {
        app.client
            .post(app.url("/v1/applications"))
            .bearer_auth(&token)
            .header("idempotency-key", "same-key")
            .json(&body)
            .send()
    });
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = std::collections::HashSet::new();
    for response in responses {
        let response = response.unwrap();
        if response.status() == 201 {
            let body: serde_json::Value = response.json().await.unwrap();
            ids.insert(body["id"].as_str().unwrap().to_string());
        } else {
            // A loser of the race may be told to retry, never given a second application.
            assert_problem(response, 409, "concurrent_change").await;
        }
    }
    assert_eq!(ids.len(), 1);
    let list: serde_json::Value = app
        .get_as(&token, "/v1/applications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_phone_and_id_number_are_422_naming_the_fields() {
    let app = spawn_app().await;
    let token = app.citizen_token("typo").await;
    let mut body = new_application("elderly-preferential-card");
    body["applicant"]["phone"] = json!("12345");
    body["applicant"]["id_number"] = json!("110105194912310021");
    let problem = assert_problem(
        app.post_as(&token, "/v1/applications", &body).await,
        422,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["applicant.phone", "applicant.id_number"]);

    let mut missing = new_application("elderly-preferential-card");
    missing["applicant"]
        .as_object_mut()
        .unwrap()
        .remove("id_number");
    let problem = assert_problem(
        app.post_as(&token, "/v1/applications", &missing).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "applicant.id_number");
}

#[tokio::test]
async fn unknown_matter_is_404() {
    let app = spawn_app().await;
    let token = app.citizen_token("lost").await;
    let response = app
        .post_as(&token, "/v1/applications", &new_application("no-such-item"))
        .await;
    assert_problem(response, 404, "matter_not_found").await;
}

#[tokio::test]
async fn another_citizens_application_is_404_like_a_missing_one() {
    let app = spawn_app().await;
    let owner = app.citizen_token("owner").await;
    let intruder = app.citizen_token("intruder").await;
    let created = create(&app, &owner, "birth-registration").await;
    let id = created["id"].as_str().unwrap();
    for path in [
        format!("/v1/applications/{id}"),
        format!("/v1/applications/{id}/events"),
    ] {
        assert_problem(
            app.get_as(&intruder, &path).await,
            404,
            "application_not_found",
        )
        .await;
    }
    let response = app
        .post_as(
            &intruder,
            &format!("/v1/applications/{id}/cancel"),
            &json!({}),
        )
        .await;
    assert_problem(response, 404, "application_not_found").await;
    let missing = uuid::Uuid::now_v7();
    assert_problem(
        app.get_as(&intruder, &format!("/v1/applications/{missing}"))
            .await,
        404,
        "application_not_found",
    )
    .await;
    let list: serde_json::Value = app
        .get_as(&intruder, "/v1/applications")
        .await
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn list_is_newest_first_with_a_cursor() {
    let app = spawn_app().await;
    let token = app.citizen_token("prolific").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(create(&app, &token, "birth-registration").await["id"].clone());
    }
    ids.reverse();
    let first: serde_json::Value = app
        .get_as(&token, "/v1/applications?limit=2")
        .await
        .json()
        .await
        .unwrap();
    let page: Vec<_> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(page, ids[..2]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest: serde_json::Value = app
        .get_as(
            &token,
            &format!("/v1/applications?limit=10&cursor={cursor}"),
        )
        .await
        .json()
        .await
        .unwrap();
    let page: Vec<_> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(page, ids[2..]);
    assert!(rest["next_cursor"].is_null());
    assert_eq!(rest["items"][0]["matter_name"], "生育登记");
    assert_problem(
        app.get_as(&token, "/v1/applications?cursor=garbage").await,
        400,
        "invalid_parameter",
    )
    .await;
}

#[tokio::test]
async fn cancel_a_draft_records_the_event_and_is_idempotent() {
    let app = spawn_app().await;
    let token = app.citizen_token("changed-mind").await;
    let created = create(&app, &token, "birth-registration").await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/applications/{id}/cancel");
    let response = app.post_as(&token, &path, &json!({})).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["state"], "cancelled");
    let again: serde_json::Value = app
        .post_as(&token, &path, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["state"], "cancelled");

    let events: serde_json::Value = app
        .get_as(&token, &format!("/v1/applications/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    let steps = field_pairs(&events, "action", "to_state");
    assert_eq!(
        steps,
        [
            ("create".to_string(), "draft".to_string()),
            ("cancel".into(), "cancelled".into())
        ]
    );
    assert_eq!(events["items"][1]["from_state"], "draft");
    assert_eq!(events["items"][1]["actor_kind"], "citizen");
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = spawn_app().await;
    let token = app.citizen_token("sloppy").await;
    let response = app
        .client
        .post(app.url("/v1/applications"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"matter_code": "birth-registration", "applicant": "#)
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "malformed_body").await;
    // Valid JSON of the wrong shape is malformed too.
    let response = app
        .post_as(&token, "/v1/applications", &json!({"matter_code": 7}))
        .await;
    assert_problem(response, 400, "malformed_body").await;
}

#[tokio::test]
async fn wrong_content_type_is_a_415_problem() {
    let app = spawn_app().await;
    let token = app.citizen_token("formy").await;
    let response = app
        .client
        .post(app.url("/v1/applications"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("matter_code=birth-registration")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn json_body_over_the_limit_is_a_413_problem() {
    let app = spawn_app().await;
    let token = app.citizen_token("verbose").await;
    let mut body = new_application("birth-registration");
    body["note"] = json!("长".repeat(app.config.server.body_limit_bytes));
    let response = app.post_as(&token, "/v1/applications", &body).await;
    assert_problem(response, 413, "payload_too_large").await;
}
