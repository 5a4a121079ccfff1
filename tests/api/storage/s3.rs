//! The S3 store only, as an HTTP client sees it: presigned PUT and GET, tampered URLs and
//! wrong keys, multipart uploads aborted on failure, the key prefix and the health check.

use std::time::{Duration, Instant};

use beebox::storage::{ObjectStore, S3Store, StorageError};
use chrono::Utc;

use crate::support::objects::{
    MIB, entries_starting_with, failing_after, key, read_all, reader, s3_store, stalling_after,
};
use crate::support::s3::S3Server;
use crate::support::wait::comes_true;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

fn with_headers(
    mut request: reqwest::RequestBuilder,
    headers: &std::collections::BTreeMap<String, String>,
) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_presigned_put_stores_the_body_with_its_content_type() {
    let server = S3Server::start().await;
    let store = s3_store(&server);
    let k = key("uploads/direct.jpg");

    let presigned = store
        .presign_put(&k, "image/jpeg", Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(presigned.method, "PUT");
    assert_eq!(
        presigned.headers.get("content-type").map(String::as_str),
        Some("image/jpeg")
    );
    assert!(presigned.expires_at > Utc::now() + chrono::TimeDelta::seconds(290));

    let response = with_headers(http().put(&presigned.url), &presigned.headers)
        .body("straight from the phone")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());

    let (info, got) = store.get(&k).await.unwrap();
    assert_eq!(info.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(read_all(got).await, b"straight from the phone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_presigned_put_refuses_another_content_type() {
    let server = S3Server::start().await;
    let store = s3_store(&server);
    let k = key("uploads/typed.jpg");
    let presigned = store
        .presign_put(&k, "image/jpeg", Duration::from_secs(300))
        .await
        .unwrap();

    let mut headers = presigned.headers.clone();
    headers.insert("content-type".into(), "text/html".into());
    let response = with_headers(http().put(&presigned.url), &headers)
        .body("<script>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::FORBIDDEN);
    assert!(matches!(store.head(&k).await, Err(StorageError::NotFound)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_presigned_get_returns_the_bytes() {
    let server = S3Server::start().await;
    let store = s3_store(&server);
    let k = key("results/scan.pdf");
    store
        .put(&k, "application/pdf", reader("%PDF-1.7 result"))
        .await
        .unwrap();

    let presigned = store
        .presign_get(&k, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(presigned.method, "GET");
    let response = with_headers(http().get(&presigned.url), &presigned.headers)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), "%PDF-1.7 result");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_tampered_presigned_url_is_forbidden() {
    let server = S3Server::start().await;
    let store = s3_store(&server);
    let k = key("results/secret.pdf");
    store
        .put(&k, "application/pdf", reader("private"))
        .await
        .unwrap();
    let presigned = store
        .presign_get(&k, Duration::from_secs(60))
        .await
        .unwrap();

    let url = reqwest::Url::parse(&presigned.url).unwrap();
    let mut tampered = url.clone();
    tampered
        .query_pairs_mut()
        .clear()
        .extend_pairs(url.query_pairs().map(|(name, value)| {
            let value = if name == "X-Amz-Signature" {
                // Flip the first hex digit.
                let first = if value.starts_with('0') { "1" } else { "0" };
                format!("{first}{}", &value[1..])
            } else {
                value.into_owned()
            };
            (name.into_owned(), value)
        }));
    assert_ne!(tampered, url);

    let response = http().get(tampered).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::FORBIDDEN);
    // The untouched URL still works, so the 403 is the tampering.
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_wrong_secret_key_cannot_put_and_the_error_hides_it() {
    let server = S3Server::start().await;
    let wrong_secret = "not-the-secret-key-at-all-000000";
    let mut config = server.config();
    config.secret_access_key = Some(beebox::config::Secret::new(wrong_secret));
    let impostor = S3Store::new(&config);
    let k = key("forged");

    let err = impostor
        .put(&k, "text/plain", reader("x"))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
    assert!(message.contains("403"), "{message}");
    assert!(!message.contains(wrong_secret), "{message}");
    assert!(matches!(
        impostor.check().await,
        Err(StorageError::Unavailable(_))
    ));

    assert!(matches!(
        s3_store(&server).head(&k).await,
        Err(StorageError::NotFound)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_failed_multipart_upload_is_aborted() {
    let server = S3Server::start().await;
    let store = s3_store(&server);
    let k = key("aborted");

    store
        .put(&k, "video/mp4", failing_after(11 * MIB))
        .await
        .unwrap_err();

    // s3s-fs keeps uploaded parts as `.upload_id-<id>.part-<n>` in its root until completed or
    // aborted; two full parts went up before the failure.
    let leftovers = entries_starting_with(server.data_dir(), ".upload_id-");
    assert!(leftovers.is_empty(), "parts left behind: {leftovers:?}");
    assert!(matches!(store.head(&k).await, Err(StorageError::NotFound)));
}

/// A request handler dropped mid-upload (the client went away) must not strand parts either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_cancelled_multipart_upload_is_aborted() {
    let server = S3Server::start().await;
    let store = s3_store(&server);
    let upload = tokio::spawn(async move {
        store
            .put(&key("cancelled"), "video/mp4", stalling_after(6 * MIB))
            .await
    });

    let part_uploaded = comes_true(Duration::from_secs(5), Duration::from_millis(20), || {
        !entries_starting_with(server.data_dir(), ".upload_id-").is_empty()
    })
    .await;
    assert!(part_uploaded, "the first part never reached the server");
    upload.abort();
    assert!(upload.await.unwrap_err().is_cancelled());

    let cleaned_up = comes_true(Duration::from_secs(5), Duration::from_millis(20), || {
        entries_starting_with(server.data_dir(), ".upload_id-").is_empty()
    })
    .await;
    assert!(
        cleaned_up,
        "parts left behind: {:?}",
        entries_starting_with(server.data_dir(), ".upload_id-")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_objects_live_under_the_key_prefix() {
    let server = S3Server::start().await;
    let store = s3_store(&server);
    store
        .put(&key("a/b.txt"), "text/plain", reader("hi"))
        .await
        .unwrap();

    let path = server
        .data_dir()
        .join(&server.bucket)
        .join("prefix/a/b.txt");
    assert_eq!(std::fs::read(path).unwrap(), b"hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_check_against_a_closed_port_is_unavailable_within_seconds() {
    let server = S3Server::start().await;
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = server.config();
    config.endpoint = Some(format!("http://{}", unused.local_addr().unwrap()));
    drop(unused);
    let store = S3Store::new(&config);

    let started = Instant::now();
    let err = store.check().await.unwrap_err();
    assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_check_with_a_missing_bucket_is_unavailable() {
    let server = S3Server::start().await;
    let mut config = server.config();
    config.bucket = Some("no-such-bucket".into());
    let store = S3Store::new(&config);

    let err = store.check().await.unwrap_err();
    assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("404"), "{err}");
}
