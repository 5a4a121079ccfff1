//! The object store, through the `ObjectStore` trait, against both backends: the filesystem store
//! in a temp dir and the S3 store against a real S3-protocol server that checks signatures. What
//! only one backend does is in `s3.rs` and `fs.rs`.

mod fs;
mod s3;

use std::sync::Arc;

use beebox::storage::{ObjectKey, ObjectStore, StorageError};

use crate::support::objects::{
    MIB, expected_sha256, failing_after, fs_store, generated, key, measure, read_all, reader,
    s3_store, sha256_hex,
};
use crate::support::s3::S3Server;

/// Runs each named `async fn(Arc<dyn ObjectStore>)` once per backend, as `<name>::fs` and
/// `<name>::s3`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn fs() {
                let (store, _dir) = super::fs_store().await;
                super::$name(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3() {
                let server = super::S3Server::start().await;
                super::$name(super::s3_store(&server)).await;
            }
        }
    )*};
}

on_both_backends!(
    put_then_get_returns_the_same_bytes,
    empty_body_is_stored,
    large_body_streams_through_and_reads_back_identical,
    head_reports_size_and_content_type,
    missing_key_is_not_found,
    deleted_object_is_gone_and_deleting_again_succeeds,
    put_replaces_the_existing_object,
    failed_upload_leaves_the_previous_object_untouched,
    check_passes_on_a_working_store,
);

async fn put_then_get_returns_the_same_bytes(store: Arc<dyn ObjectStore>) {
    let body = b"page 1 of the application form".to_vec();
    let k = key("matters/42/page-1.jpg");

    let outcome = store
        .put(&k, "image/jpeg", reader(body.clone()))
        .await
        .unwrap();
    assert_eq!(outcome.size, body.len() as u64);
    assert_eq!(outcome.sha256, sha256_hex(&body));

    let (info, got) = store.get(&k).await.unwrap();
    assert_eq!(info.size, body.len() as u64);
    assert_eq!(info.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(read_all(got).await, body);
}

async fn empty_body_is_stored(store: Arc<dyn ObjectStore>) {
    let k = key("empty");
    let outcome = store
        .put(&k, "text/plain", reader(Vec::new()))
        .await
        .unwrap();
    assert_eq!(outcome.size, 0);
    assert_eq!(outcome.sha256, sha256_hex(b""));
    let (info, got) = store.get(&k).await.unwrap();
    assert_eq!(info.size, 0);
    assert!(read_all(got).await.is_empty());
}

/// 12 MiB and a bit: more than two 5 MiB parts, so S3 goes multipart with a short last part.
async fn large_body_streams_through_and_reads_back_identical(store: Arc<dyn ObjectStore>) {
    let len = 12 * MIB + 1234;
    let k = key("scans/big.pdf");

    let outcome = store
        .put(&k, "application/pdf", generated(len))
        .await
        .unwrap();
    assert_eq!(outcome.size, len as u64);
    assert_eq!(outcome.sha256, expected_sha256(len));

    let (info, got) = store.get(&k).await.unwrap();
    assert_eq!(info.size, len as u64);
    assert_eq!(info.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(measure(got).await, (len as u64, expected_sha256(len)));
}

async fn head_reports_size_and_content_type(store: Arc<dyn ObjectStore>) {
    let k = key("thumbs/a.png");
    store
        .put(&k, "image/png", reader(vec![7u8; 1000]))
        .await
        .unwrap();

    let info = store.head(&k).await.unwrap();
    assert_eq!(info.size, 1000);
    assert_eq!(info.content_type.as_deref(), Some("image/png"));
}

async fn missing_key_is_not_found(store: Arc<dyn ObjectStore>) {
    let k = key("never/written");
    assert!(matches!(store.get(&k).await, Err(StorageError::NotFound)));
    assert!(matches!(store.head(&k).await, Err(StorageError::NotFound)));
}

async fn deleted_object_is_gone_and_deleting_again_succeeds(store: Arc<dyn ObjectStore>) {
    let k = key("to/delete.txt");
    store.put(&k, "text/plain", reader("bye")).await.unwrap();
    store.head(&k).await.unwrap();

    store.delete(&k).await.unwrap();
    assert!(matches!(store.get(&k).await, Err(StorageError::NotFound)));
    assert!(matches!(store.head(&k).await, Err(StorageError::NotFound)));

    store.delete(&k).await.unwrap();
    store.delete(&key("never/existed")).await.unwrap();
}

async fn put_replaces_the_existing_object(store: Arc<dyn ObjectStore>) {
    let k = key("replaced");
    store
        .put(&k, "text/plain", reader("first version, longer"))
        .await
        .unwrap();
    let outcome = store
        .put(&k, "application/json", reader("{}"))
        .await
        .unwrap();
    assert_eq!(outcome.size, 2);

    let (info, got) = store.get(&k).await.unwrap();
    assert_eq!(info.size, 2);
    assert_eq!(info.content_type.as_deref(), Some("application/json"));
    assert_eq!(read_all(got).await, b"{}");
}

/// The body fails after 7 MiB (inside S3's second part): `put` reports the error and the key
/// still holds the previous object, whole.
async fn failed_upload_leaves_the_previous_object_untouched(store: Arc<dyn ObjectStore>) {
    let k = key("photo");
    store
        .put(&k, "image/jpeg", reader("the old photo"))
        .await
        .unwrap();

    let err = store
        .put(&k, "image/png", failing_after(7 * MIB))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Io(_)), "{err:?}");

    let (info, got) = store.get(&k).await.unwrap();
    assert_eq!(info.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(read_all(got).await, b"the old photo");
}

async fn check_passes_on_a_working_store(store: Arc<dyn ObjectStore>) {
    store.check().await.unwrap();
}

#[test]
fn keys_that_could_escape_or_collide_are_refused() {
    for bad in [
        "",
        "/abs",
        "trailing/",
        "a//b",
        "..",
        "a/../b",
        ".tmp/x",
        ".meta/x",
        "a/.b",
        "sp ace",
        "ü",
    ] {
        assert!(
            matches!(ObjectKey::parse(bad), Err(StorageError::InvalidKey(_))),
            "{bad:?} was accepted"
        );
    }
    assert!(ObjectKey::parse("x".repeat(513)).is_err());
    assert_eq!(
        ObjectKey::parse("a/b-c_d.e").unwrap().to_string(),
        "a/b-c_d.e"
    );
}
