//! The object store, through the `ObjectStore` trait, against both backends: the filesystem store
//! in a temp dir and the S3 store against a real S3-protocol server that checks signatures.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use beebox::storage::{
    ByteReader, FsStore, ObjectKey, ObjectStore, S3Store, StorageError, UrlSigner,
};
use bytes::Bytes;
use chrono::Utc;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::io::AsyncReadExt;
use tokio_util::io::StreamReader;

use crate::s3_server::S3Server;

const MIB: usize = 1024 * 1024;
const URL_SECRET: &[u8] = b"storage-test-url-signing-secret-0123456789";
const PUBLIC_URL: &str = "http://localhost:8080";

// ---- harness -------------------------------------------------------------------------------

async fn fs_store() -> (Arc<dyn ObjectStore>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(
        dir.path().join("objects"),
        UrlSigner::new(URL_SECRET, PUBLIC_URL),
    )
    .await
    .unwrap();
    (Arc::new(store), dir)
}

fn s3_store(server: &S3Server) -> Arc<dyn ObjectStore> {
    Arc::new(S3Store::new(&server.config()))
}

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
                let server = crate::s3_server::S3Server::start().await;
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

fn key(s: &str) -> ObjectKey {
    ObjectKey::parse(s).unwrap()
}

fn reader(bytes: impl Into<Vec<u8>>) -> ByteReader {
    Box::pin(io::Cursor::new(bytes.into()))
}

/// Deterministic, non-repeating-looking content: byte `i` of a body depends only on `i`, so a
/// reader can generate it chunk by chunk and a checker can recompute it.
fn byte_at(i: usize) -> u8 {
    ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

fn chunks(len: usize) -> impl Iterator<Item = Bytes> {
    // An odd chunk size, so reads never line up with part boundaries.
    const CHUNK: usize = 61 * 1024;
    (0..len)
        .step_by(CHUNK)
        .map(move |start| (start..(start + CHUNK).min(len)).map(byte_at).collect())
}

/// A `len`-byte body produced lazily, as an upload arriving from the network would be.
fn generated(len: usize) -> ByteReader {
    let stream = futures_util::stream::iter(chunks(len).map(Ok::<_, io::Error>));
    Box::pin(StreamReader::new(stream))
}

/// A body that delivers `good_bytes` and then fails, like a client that disconnects.
fn failing_after(good_bytes: usize) -> ByteReader {
    let stream = futures_util::stream::iter(chunks(good_bytes).map(Ok).chain([Err(
        io::Error::new(io::ErrorKind::ConnectionReset, "client went away"),
    )]));
    Box::pin(StreamReader::new(stream))
}

/// A body that delivers `good_bytes` and then stalls forever, like a client that stops sending.
fn stalling_after(good_bytes: usize) -> ByteReader {
    let stream = futures_util::stream::iter(chunks(good_bytes).map(Ok::<_, io::Error>))
        .chain(futures_util::stream::pending());
    Box::pin(StreamReader::new(stream))
}

/// Names in `dir` starting with `prefix`.
fn entries_starting_with(dir: &std::path::Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .collect()
}

/// Polls `condition` every 20 ms for up to five seconds.
async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}

fn expected_sha256(len: usize) -> String {
    let mut hasher = Sha256::new();
    chunks(len).for_each(|c| hasher.update(&c));
    hex::encode(hasher.finalize())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn read_all(mut body: ByteReader) -> Vec<u8> {
    let mut out = Vec::new();
    body.read_to_end(&mut out).await.unwrap();
    out
}

/// Size and SHA-256 of a body, read in a streaming fashion.
async fn measure(mut body: ByteReader) -> (u64, String) {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = body.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    (size, hex::encode(hasher.finalize()))
}

// ---- both backends -------------------------------------------------------------------------

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

// ---- S3 only: what an HTTP client sees -----------------------------------------------------

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

    let part_uploaded =
        eventually(|| !entries_starting_with(server.data_dir(), ".upload_id-").is_empty()).await;
    assert!(part_uploaded, "the first part never reached the server");
    upload.abort();
    assert!(upload.await.unwrap_err().is_cancelled());

    let cleaned_up =
        eventually(|| entries_starting_with(server.data_dir(), ".upload_id-").is_empty()).await;
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

// ---- filesystem only -----------------------------------------------------------------------

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

    assert!(eventually(|| !entries_starting_with(&tmp, "").is_empty()).await);
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
