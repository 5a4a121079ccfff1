//! The filesystem store's presigned URLs, served by the app itself: the same contract as S3.

use std::time::Duration;

use beebox::storage::ObjectKey;
use sha2::{Digest, Sha256};

use crate::support::{assert_problem, spawn_app};

#[tokio::test]
async fn presigned_put_then_presigned_get_round_trips_through_the_service() {
    let app = spawn_app().await;
    let key = ObjectKey::parse("pages/2026/photo-1.jpg").unwrap();
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let put = app
        .state
        .store
        .presign_put(&key, "image/jpeg", Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(put.method, "PUT");
    assert!(put.url.starts_with(&app.address), "{}", put.url);
    let mut request = app.client.put(&put.url).body(bytes.clone());
    for (name, value) in &put.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let stored: serde_json::Value = response.json().await.unwrap();
    assert_eq!(stored["size"], bytes.len());
    assert_eq!(stored["sha256"], hex::encode(Sha256::digest(&bytes)));

    let get = app
        .state
        .store
        .presign_get(&key, Duration::from_secs(300))
        .await
        .unwrap();
    let response = app.client.get(&get.url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn tampered_or_expired_urls_are_refused() {
    let app = spawn_app().await;
    let key = ObjectKey::parse("pages/a.jpg").unwrap();
    let put = app
        .state
        .store
        .presign_put(&key, "image/jpeg", Duration::from_secs(300))
        .await
        .unwrap();

    // Signed for image/jpeg, sent as something else.
    let response = app
        .client
        .put(&put.url)
        .header("content-type", "text/html")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "url_signature_invalid").await;

    // A GET with the PUT's signature.
    let response = app.client.get(&put.url).send().await.unwrap();
    assert_problem(response, 403, "url_signature_invalid").await;

    // Another key with this signature.
    let other = put.url.replacen("/v1/objects/", "/v1/objects/x", 1);
    let response = app.client.get(&other).send().await.unwrap();
    assert_problem(response, 403, "url_signature_invalid").await;

    // A URL signed in the past.
    let expired = app.state.signer.sign(
        "GET",
        &key,
        None,
        chrono::Utc::now() - chrono::Duration::seconds(5),
    );
    let response = app.client.get(&expired).send().await.unwrap();
    assert_problem(response, 403, "url_expired").await;
}

#[tokio::test]
async fn presigned_get_of_a_missing_object_is_a_404_problem() {
    let app = spawn_app().await;
    let key = ObjectKey::parse("pages/missing.jpg").unwrap();
    let get = app
        .state
        .store
        .presign_get(&key, Duration::from_secs(60))
        .await
        .unwrap();
    let response = app.client.get(&get.url).send().await.unwrap();
    assert_problem(response, 404, "object_not_found").await;
}
