//! Path B, the direct upload: a ticket, the PUT to the store and `complete`; mismatches, expired
//! tickets and the sweep of objects never completed.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::cases::draft;
use crate::support::pages::{GPS_PHOTO, direct_upload, jpeg, put_to, upload_ok};
use crate::support::{assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn both_paths_store_a_photo_as_the_same_bytes() {
    // Path A cleans a JPEG as it streams in, path B cleans the stored file whole.
    let app = spawn_app().await;
    let (token_a, a) = draft(&app, "streamed").await;
    let (token_b, b) = draft(&app, "direct").await;
    let page_a = upload_ok(&app, &token_a, &a, "id-card", GPS_PHOTO.to_vec()).await;
    let response = direct_upload(&app, &token_b, &b, "id-card", GPS_PHOTO, "image/jpeg").await;
    assert_eq!(response.status(), 201);
    let page_b: serde_json::Value = response.json().await.unwrap();
    for field in ["content_type", "size", "sha256", "width", "height"] {
        assert_eq!(page_a[field], page_b[field], "{field}");
    }
}

#[tokio::test]
async fn direct_upload_mismatches_are_422_and_the_object_is_deleted() {
    let app = spawn_app().await;
    let (token, id) = draft(&app, "direct").await;
    let bytes = jpeg(4);
    let ticket = |size: usize, sha: String| {
        let app = &app;
        let token = token.clone();
        let id = id.clone();
        async move {
            let response = app
                .post_as(
                    &token,
                    &format!("/v1/applications/{id}/materials/id-card/uploads"),
                    &json!({"content_type": "image/jpeg", "size": size, "sha256": sha}),
                )
                .await;
            assert_eq!(response.status(), 201);
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let put = |ticket: serde_json::Value, body: Vec<u8>| {
        let app = &app;
        async move { assert!(put_to(app, &ticket, body).await.status().is_success()) }
    };
    let sha = hex::encode(Sha256::digest(&bytes));

    let wrong_size = ticket(bytes.len() + 1, sha.clone()).await;
    put(wrong_size.clone(), bytes.clone()).await;
    let path = format!(
        "/v1/uploads/{}/complete",
        wrong_size["upload_id"].as_str().unwrap()
    );
    assert_problem(
        app.post_as(&token, &path, &json!({})).await,
        422,
        "size_mismatch",
    )
    .await;
    let staged = beebox::storage::ObjectKey::parse(format!(
        "uploads/{}",
        wrong_size["upload_id"].as_str().unwrap()
    ))
    .unwrap();
    assert!(
        app.state.store.head(&staged).await.is_err(),
        "object deleted"
    );

    let wrong_sha = ticket(bytes.len(), "0".repeat(64)).await;
    put(wrong_sha.clone(), bytes.clone()).await;
    let path = format!(
        "/v1/uploads/{}/complete",
        wrong_sha["upload_id"].as_str().unwrap()
    );
    assert_problem(
        app.post_as(&token, &path, &json!({})).await,
        422,
        "sha256_mismatch",
    )
    .await;

    // Completing before anything was PUT.
    let nothing = ticket(bytes.len(), sha.clone()).await;
    let path = format!(
        "/v1/uploads/{}/complete",
        nothing["upload_id"].as_str().unwrap()
    );
    assert_problem(
        app.post_as(&token, &path, &json!({})).await,
        409,
        "upload_missing",
    )
    .await;

    // A good one, completed twice (a retry after a lost response): the same page.
    let good = ticket(bytes.len(), sha).await;
    put(good.clone(), bytes.clone()).await;
    let path = format!(
        "/v1/uploads/{}/complete",
        good["upload_id"].as_str().unwrap()
    );
    let first: serde_json::Value = app
        .post_as(&token, &path, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let again = app.post_as(&token, &path, &json!({})).await;
    assert_eq!(again.status(), 201);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);

    // Someone else's upload id is 404.
    let intruder = app.citizen_token("intruder").await;
    assert_problem(
        app.post_as(&intruder, &path, &json!({})).await,
        404,
        "upload_not_found",
    )
    .await;

    // An unsupported declared type is refused up front.
    let response = app
        .post_as(
            &token,
            &format!("/v1/applications/{id}/materials/id-card/uploads"),
            &json!({"content_type": "application/x-msdownload", "size": 10, "sha256": "0".repeat(64)}),
        )
        .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "content_type");
}

#[tokio::test]
async fn completing_an_expired_upload_is_410_and_the_sweep_deletes_uncompleted_objects() {
    let app = spawn_app_with(|c| {
        c.uploads.direct_upload_ttl_secs = 1;
        // The worker's own `sweep_uploads` job (each minute) could sweep first; this test
        // runs the sweep itself.
        c.jobs.worker = false;
    })
    .await;
    let (token, id) = draft(&app, "slowpoke").await;
    let bytes = jpeg(5);
    let path = format!("/v1/applications/{id}/materials/id-card/uploads");
    let request = json!({"content_type": "image/jpeg", "size": bytes.len(),
                         "sha256": hex::encode(Sha256::digest(&bytes))});
    let late: serde_json::Value = app
        .post_as(&token, &path, &request)
        .await
        .json()
        .await
        .unwrap();
    let abandoned: serde_json::Value = app
        .post_as(&token, &path, &request)
        .await
        .json()
        .await
        .unwrap();
    for ticket in [&late, &abandoned] {
        assert!(
            put_to(&app, ticket, bytes.clone())
                .await
                .status()
                .is_success()
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let path = format!(
        "/v1/uploads/{}/complete",
        late["upload_id"].as_str().unwrap()
    );
    assert_problem(
        app.post_as(&token, &path, &json!({})).await,
        410,
        "upload_expired",
    )
    .await;

    let key = beebox::storage::ObjectKey::parse(format!(
        "uploads/{}",
        abandoned["upload_id"].as_str().unwrap()
    ))
    .unwrap();
    assert!(app.state.store.head(&key).await.is_ok());
    let swept = beebox::sweeps::sweep_expired_uploads(&app.state)
        .await
        .unwrap();
    assert!(swept >= 1);
    assert!(app.state.store.head(&key).await.is_err());
}
