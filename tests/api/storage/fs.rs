//! The filesystem store only: its signed URLs, temp files left by failed or cancelled uploads,
//! and a key that names a directory.

use std::time::Duration;

use beebox::storage::{StorageError, UrlSigner};
use chrono::Utc;

use crate::support::objects::{
    MIB, PUBLIC_URL, URL_SECRET, entries_starting_with, failing_after, fs_store, key, reader,
    stalling_after,
};
use crate::support::wait::comes_true;

/// The `(token, expires, signature)` the object route will pull out of a signed URL.
fn signed_url_parts(url: &str) -> (String, i64, String) {
    let url = reqwest::Url::parse(url).unwrap();
    assert_eq!(url.origin().ascii_serialization(), PUBLIC_URL);
    let token = url
        .path()
        .strip_prefix("/v1/objects/")
        .expect("served under /v1/objects/")
        .to_string();
    let query = |name: &str| {
        url.query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {url}"))
    };
    (token, query("expires").parse().unwrap(), query("signature"))
}

#[tokio::test]
async fn fs_presigned_urls_verify_for_their_method_key_and_content_type() {
    let (store, _dir) = fs_store().await;
    let signer = UrlSigner::new(URL_SECRET, PUBLIC_URL);
    let k = key("matters/7/page-2.jpg");
    let now = Utc::now();

    let get = store
        .presign_get(&k, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(get.method, "GET");
    let (token, expires, signature) = signed_url_parts(&get.url);
    assert_eq!(expires, get.expires_at.timestamp());
    assert!(
        (590..=601).contains(&(expires - now.timestamp())),
        "{expires}"
    );
    assert_eq!(
        signer.verify("GET", &token, expires, &signature, None, now),
        Ok(k.clone())
    );
    assert!(
        signer
            .verify("PUT", &token, expires, &signature, None, now)
            .is_err()
    );
    let later = get.expires_at + chrono::TimeDelta::seconds(1);
    assert!(
        signer
            .verify("GET", &token, expires, &signature, None, later)
            .is_err()
    );

    let put = store
        .presign_put(&k, "image/jpeg", Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(put.method, "PUT");
    assert_eq!(
        put.headers.get("content-type").map(String::as_str),
        Some("image/jpeg")
    );
    let (token, expires, signature) = signed_url_parts(&put.url);
    assert_eq!(
        signer.verify("PUT", &token, expires, &signature, Some("image/jpeg"), now),
        Ok(k)
    );
    assert!(
        signer
            .verify("PUT", &token, expires, &signature, Some("image/png"), now)
            .is_err()
    );
}

#[tokio::test]
async fn fs_failed_upload_leaves_no_temp_file() {
    let (store, dir) = fs_store().await;
    store
        .put(&key("x"), "text/plain", failing_after(MIB))
        .await
        .unwrap_err();

    let leftovers = entries_starting_with(&dir.path().join("objects/.tmp"), "");
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(!dir.path().join("objects/x").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_cancelled_upload_leaves_no_temp_file() {
    let (store, dir) = fs_store().await;
    let tmp = dir.path().join("objects/.tmp");
    let upload = tokio::spawn(async move {
        store
            .put(&key("x"), "text/plain", stalling_after(MIB))
            .await
    });

    assert!(
        comes_true(Duration::from_secs(5), Duration::from_millis(20), || {
            !entries_starting_with(&tmp, "").is_empty()
        })
        .await
    );
    upload.abort();
    assert!(upload.await.unwrap_err().is_cancelled());

    assert!(entries_starting_with(&tmp, "").is_empty());
    assert!(!dir.path().join("objects/x").exists());
}

#[tokio::test]
async fn fs_key_that_is_only_a_directory_is_not_found() {
    let (store, _dir) = fs_store().await;
    store
        .put(&key("a/b"), "text/plain", reader("b"))
        .await
        .unwrap();

    assert!(matches!(
        store.get(&key("a")).await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        store.head(&key("a")).await,
        Err(StorageError::NotFound)
    ));
}
