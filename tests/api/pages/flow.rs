//! The citizen's pages from first upload to submit, over HTTP on both stores: the whole flow,
//! deleting and reordering while draft, concurrent submits and parallel uploads.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::answers::contains;
use crate::support::cases::{SOCIAL_CARD, create, draft};
use crate::support::pages::{
    GPS_PHOTO, HOUSEHOLD_PNG, app1_segments, direct_upload, fetch, has_gps_ifd, jpeg, upload,
    upload_ok,
};
use crate::support::s3::{S3Server, on_s3};
use crate::support::{TestApp, assert_problem, spawn_app, spawn_app_with};

/// The whole citizen flow of the issue, over HTTP, on the given store.
async fn citizen_flow(app: &TestApp) {
    let token = app.citizen_token("flow").await;
    let created = create(app, &token, SOCIAL_CARD).await;
    let id = created["id"].as_str().unwrap();

    // Path A: a real phone photo with GPS, maker and XMP data, under a Chinese file name.
    let response = upload(
        app,
        &token,
        id,
        "id-card",
        GPS_PHOTO.to_vec(),
        "身份证正面.jpg",
    )
    .await;
    assert_eq!(response.status(), 201);
    let page: serde_json::Value = response.json().await.unwrap();
    assert_eq!(page["material_code"], "id-card");
    assert_eq!(page["index"], 1);
    assert_eq!(page["content_type"], "image/jpeg");
    assert_eq!(page["original_name"], "身份证正面.jpg");
    // Orientation 6: the 800x600 photo displays as 600x800.
    assert_eq!(
        (page["width"].as_i64(), page["height"].as_i64()),
        (Some(600), Some(800))
    );

    // Path B: a PNG straight to the store.
    let response = direct_upload(app, &token, id, "id-card", HOUSEHOLD_PNG, "image/png").await;
    assert_eq!(response.status(), 201);
    let png_page: serde_json::Value = response.json().await.unwrap();
    assert_eq!(png_page["index"], 2);
    assert_eq!(png_page["content_type"], "image/png");

    // Thumbnails are made off the upload's path; run the worker now rather than wait for it.
    beebox::sweeps::make_thumbnails(&app.state, 100)
        .await
        .unwrap();
    // What is stored has no location, camera or creator left, and its hash is the one reported.
    let detail: serde_json::Value = app
        .get_as(&token, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let id_card = detail["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "id-card")
        .unwrap();
    assert_eq!(id_card["page_count"], 2);
    assert_eq!(id_card["satisfied"], true);
    let stored = fetch(app, id_card["pages"][0]["url"].as_str().unwrap()).await;
    assert_eq!(
        hex::encode(Sha256::digest(&stored)),
        page["sha256"].as_str().unwrap()
    );
    assert_eq!(stored.len() as i64, page["size"].as_i64().unwrap());
    for leak in [
        &b"GPS"[..],
        b"Apple",
        b"iPhone",
        b"Zhang San",
        b"BeeboxFixture",
        b"http://ns.adobe.com/xap",
    ] {
        assert!(
            !contains(&stored, leak),
            "stored photo still holds {}",
            String::from_utf8_lossy(leak)
        );
    }
    assert!(
        contains(GPS_PHOTO, b"Apple"),
        "the fixture itself carries the metadata"
    );
    assert!(
        app1_segments(GPS_PHOTO).iter().any(|s| has_gps_ifd(s)),
        "the fixture has GPS"
    );
    let kept = app1_segments(&stored);
    assert!(!kept.iter().any(|s| has_gps_ifd(s)), "GPS IFD removed");
    assert!(
        !kept.iter().any(|s| s.starts_with(b"http://ns.adobe.com")),
        "XMP removed"
    );
    let thumbnail = fetch(app, id_card["pages"][0]["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!(&thumbnail[..3], &[0xFF, 0xD8, 0xFF]);
    let png_stored = fetch(app, id_card["pages"][1]["url"].as_str().unwrap()).await;
    assert!(
        !contains(&png_stored, b"Hangzhou"),
        "PNG text chunks removed"
    );

    // Submitting with the ID photo missing names exactly that material.
    let refused = app
        .post_as(&token, &format!("/v1/applications/{id}/submit"), &json!({}))
        .await;
    let problem = assert_problem(refused, 422, "materials_incomplete").await;
    let failing: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(failing, ["id-photo"]);

    upload_ok(app, &token, id, "id-photo", jpeg(7)).await;
    let submitted = app
        .post_as(&token, &format!("/v1/applications/{id}/submit"), &json!({}))
        .await;
    assert_eq!(submitted.status(), 200);
    let submitted: serde_json::Value = submitted.json().await.unwrap();
    assert_eq!(submitted["state"], "submitted");
    assert!(submitted["submitted_at"].is_string());

    let events: serde_json::Value = app
        .get_as(&token, &format!("/v1/applications/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "submit"]);
    assert_eq!(events["items"][1]["from_state"], "draft");
    assert_eq!(events["items"][1]["to_state"], "submitted");

    // From now on the pages are fixed.
    let late = upload(app, &token, id, "id-photo", jpeg(8), "late.jpg").await;
    assert_problem(late, 409, "application_not_editable").await;
}

#[tokio::test]
async fn citizen_flow_on_the_filesystem_store() {
    let app = spawn_app().await;
    citizen_flow(&app).await;
}

#[tokio::test]
async fn citizen_flow_on_the_s3_store() {
    let s3 = S3Server::start().await;
    let app = spawn_app_with(on_s3(&s3)).await;
    citizen_flow(&app).await;
}

#[tokio::test]
async fn pages_can_be_deleted_and_reordered_while_draft() {
    let app = spawn_app().await;
    let (token, id) = draft(&app, "tidy").await;
    let first = upload_ok(&app, &token, &id, "id-card", jpeg(1)).await;
    let second = upload_ok(&app, &token, &id, "id-card", jpeg(2)).await;
    let order = app
        .client
        .put(app.url(&format!(
            "/v1/applications/{id}/materials/id-card/pages/order"
        )))
        .bearer_auth(&token)
        .json(&json!({"page_ids": [second["id"], first["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), 200);
    let order: serde_json::Value = order.json().await.unwrap();
    assert_eq!(order["items"][0]["id"], second["id"]);
    assert_eq!(order["items"][0]["index"], 1);
    assert_eq!(order["items"][1]["index"], 2);
    let bad = app
        .client
        .put(app.url(&format!(
            "/v1/applications/{id}/materials/id-card/pages/order"
        )))
        .bearer_auth(&token)
        .json(&json!({"page_ids": [second["id"]]}))
        .send()
        .await
        .unwrap();
    assert_problem(bad, 422, "page_order_mismatch").await;

    let deleted = app
        .client
        .delete(app.url(&format!(
            "/v1/applications/{id}/pages/{}",
            second["id"].as_str().unwrap()
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let detail: serde_json::Value = app
        .get_as(&token, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let id_card = detail["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "id-card")
        .unwrap();
    assert_eq!(id_card["page_count"], 1);
    assert_eq!(id_card["pages"][0]["id"], first["id"]);
    assert_eq!(id_card["pages"][0]["index"], 1);
}

#[tokio::test]
async fn concurrent_submits_leave_one_winner() {
    let app = spawn_app().await;
    let (token, id) = draft(&app, "racer").await;
    upload_ok(&app, &token, &id, "id-card", jpeg(1)).await;
    upload_ok(&app, &token, &id, "id-card", jpeg(2)).await;
    upload_ok(&app, &token, &id, "id-photo", jpeg(3)).await;
    let path = format!("/v1/applications/{id}/submit");
    let body = json!({});
    let (a, b) = tokio::join!(
        app.post_as(&token, &path, &body),
        app.post_as(&token, &path, &body)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let events: serde_json::Value = app
        .get_as(&token, &format!("/v1/applications/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    let submits = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "submit")
        .count();
    assert_eq!(submits, 1);
}

#[tokio::test]
async fn parallel_uploads_to_one_application_all_land_in_order() {
    let app = spawn_app().await;
    let token = app.citizen_token("parallel").await;
    let created = create(&app, &token, "real-estate-transfer-resale").await;
    let id = created["id"].as_str().unwrap().to_string();
    // wx.uploadFile runs several uploads at once.
    let uploads = (0..6u8).map(|n| upload(&app, &token, &id, "sale-contract", jpeg(n), "p.jpg"));
    let responses = futures_util::future::join_all(uploads).await;
    let mut indexes = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        let page: serde_json::Value = response.json().await.unwrap();
        indexes.push(page["index"].as_i64().unwrap());
    }
    indexes.sort();
    assert_eq!(indexes, [1, 2, 3, 4, 5, 6]);
}
