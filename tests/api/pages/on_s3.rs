//! Pages on the S3 store, as production keeps them: both paths store exactly what the cleaner
//! makes (a large JPEG going up in parts while it is cleaned), and a store that stops, a client
//! that goes away or a page that is refused leaves neither an object nor an open multipart
//! upload. s3s-fs keeps an open upload as `.upload_id-<id>` files in its root (it has no
//! ListMultipartUploads), so those files are the list of open uploads.

use std::path::Path;
use std::time::Duration;

use beebox::domain::catalog::MaterialKind;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::support::cases::draft;
use crate::support::objects::{entries_starting_with, read_all};
use crate::support::pages::{
    GPS_PHOTO, HOUSEHOLD_PNG, big_jpeg, direct_upload, jpeg, page_key, upload,
};
use crate::support::s3::{S3Server, on_s3};
use crate::support::wait::comes_true;
use crate::support::{TestApp, assert_problem, spawn_app_with};

const BOUNDARY: &str = "beebox-test-boundary";

/// What `media::clean` makes of `bytes`: the reference every stored page must equal.
fn reference(app: &TestApp, bytes: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (raw, clean) = (dir.path().join("raw"), dir.path().join("clean"));
    std::fs::write(&raw, bytes).unwrap();
    let limits = app.state.cases.limits();
    beebox::media::clean(&raw, &clean, &[MaterialKind::Photo], &limits).unwrap();
    std::fs::read(&clean).unwrap()
}

async fn stored(app: &TestApp, id: &str, page: &serde_json::Value) -> Vec<u8> {
    let key = page_key(app, id, page["id"].as_str().unwrap()).await;
    let (_, body) = app.state.store.get(&key).await.unwrap();
    read_all(body).await
}

/// Every file the S3 server holds, under any name.
fn files_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_in(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}

async fn no_upload_left_open(server: &S3Server) {
    let closed = comes_true(Duration::from_secs(20), Duration::from_millis(50), || {
        entries_starting_with(server.data_dir(), ".upload_id-").is_empty()
    })
    .await;
    assert!(
        closed,
        "multipart uploads left open: {:?}",
        entries_starting_with(server.data_dir(), ".upload_id-")
    );
}

/// `base` with a JFIF segment after its picture data: the cleaner must rewrite the head.
fn with_late_jfif(base: &[u8]) -> Vec<u8> {
    let jfif = b"\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00";
    [&base[..base.len() - 2], &jfif[..], &base[base.len() - 2..]].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_paths_store_on_s3_exactly_what_the_cleaner_makes() {
    let server = S3Server::start().await;
    let app = spawn_app_with(on_s3(&server)).await;
    let big = big_jpeg(12);
    assert!(
        big.len() > 2 * server.config().part_size_bytes,
        "big enough for parts"
    );
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("phone photo with GPS", GPS_PHOTO.to_vec(), "image/jpeg"),
        ("PNG", HOUSEHOLD_PNG.to_vec(), "image/png"),
        ("late JFIF", with_late_jfif(&jpeg(7)), "image/jpeg"),
        ("12 MiB photo in parts", big.clone(), "image/jpeg"),
        (
            "12 MiB photo with a late JFIF",
            with_late_jfif(&big),
            "image/jpeg",
        ),
    ];
    for (what, bytes, content_type) in cases {
        let expected = reference(&app, &bytes);
        let (token, id) = draft(&app, "s3-a").await;
        let response = upload(&app, &token, &id, "id-card", bytes.clone(), "p.jpg").await;
        assert_eq!(response.status(), 201, "{what}, path A");
        let page: serde_json::Value = response.json().await.unwrap();
        assert_eq!(page["size"], expected.len(), "{what}, path A");
        assert!(
            stored(&app, &id, &page).await == expected,
            "{what}: path A stored other bytes"
        );

        let (token, id) = draft(&app, "s3-b").await;
        let response = direct_upload(&app, &token, &id, "id-card", &bytes, content_type).await;
        assert_eq!(response.status(), 201, "{what}, path B");
        let page: serde_json::Value = response.json().await.unwrap();
        assert!(
            stored(&app, &id, &page).await == expected,
            "{what}: path B stored other bytes"
        );
    }
    no_upload_left_open(&server).await;
}

/// Path A with a body the test feeds by hand: the multipart head, then whatever is sent on the
/// returned channel (an `Err` breaks the connection off, as a phone losing signal).
fn fed_upload(
    app: &TestApp,
    token: &str,
    id: &str,
) -> (
    mpsc::Sender<Result<Bytes, std::io::Error>>,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (feed, fed) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n"
    );
    let rest = futures_util::stream::unfold(fed, |mut fed| async move {
        fed.recv().await.map(|item| (item, fed))
    });
    let body = futures_util::stream::iter([Ok(Bytes::from(head))]).chain(rest);
    let request = app
        .client
        .post(app.url(&format!("/v1/applications/{id}/materials/id-card/pages")))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(reqwest::Body::wrap_stream(body));
    (feed, tokio::spawn(request.send()))
}

async fn send_in_chunks(feed: &mpsc::Sender<Result<Bytes, std::io::Error>>, bytes: &[u8]) {
    for chunk in bytes.chunks(256 * 1024) {
        feed.send(Ok(Bytes::copy_from_slice(chunk))).await.unwrap();
    }
}

async fn first_part_arrives(server: &S3Server) {
    let started = comes_true(Duration::from_secs(20), Duration::from_millis(20), || {
        entries_starting_with(server.data_dir(), ".upload_id-").len() > 1
    })
    .await;
    assert!(started, "no part reached the store while the page came in");
}

/// The application has no page, and the store no object for one.
async fn nothing_kept(app: &TestApp, token: &str, id: &str) {
    assert_eq!(pages_of(app, token, id).await, 0);
    let objects = app
        .state
        .store
        .list("applications/", None, 10)
        .await
        .unwrap();
    assert!(objects.is_empty(), "objects kept: {objects:?}");
}

async fn pages_of(app: &TestApp, token: &str, id: &str) -> usize {
    let detail: serde_json::Value = app
        .get_as(token, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    detail["materials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["pages"].as_array().map_or(0, Vec::len))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_stopping_mid_upload_is_503_and_leaves_no_upload_open() {
    let server = S3Server::start().await;
    let app = spawn_app_with(on_s3(&server)).await;
    let (token, id) = draft(&app, "s3-down").await;
    let big = big_jpeg(12);
    let (feed, response) = fed_upload(&app, &token, &id);
    let most = big.len() * 3 / 4;
    send_in_chunks(&feed, &big[..most]).await;
    first_part_arrives(&server).await;

    server.refuse(true);
    send_in_chunks(&feed, &big[most..]).await;
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    // The service may answer before it reads the rest: the feed is then gone, which is fine.
    let _ = feed.send(Ok(Bytes::from(tail))).await;
    drop(feed);
    let response = response.await.unwrap().unwrap();
    assert_eq!(
        response.headers()["retry-after"],
        "5",
        "a 503 says when to retry"
    );
    assert_problem(response, 503, "storage_unavailable").await;

    // Once the store is back, the upload the service opened is aborted, and nothing was kept.
    server.refuse(false);
    no_upload_left_open(&server).await;
    nothing_kept(&app, &token, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_mid_upload_leaves_no_upload_open_on_s3() {
    let server = S3Server::start().await;
    let app = spawn_app_with(on_s3(&server)).await;
    let (token, id) = draft(&app, "s3-gone").await;
    let big = big_jpeg(12);
    let (feed, response) = fed_upload(&app, &token, &id);
    send_in_chunks(&feed, &big[..big.len() * 2 / 3]).await;
    first_part_arrives(&server).await;

    feed.send(Err(std::io::Error::other("signal lost")))
        .await
        .unwrap();
    assert!(response.await.unwrap().is_err(), "the request broke off");

    no_upload_left_open(&server).await;
    nothing_kept(&app, &token, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_pages_leave_nothing_on_s3() {
    let server = S3Server::start().await;
    let app = spawn_app_with(on_s3(&server)).await;
    let before = files_in(server.data_dir());
    let (token, id) = draft(&app, "s3-refused").await;
    // Refused before a part's worth arrived: nothing is sent to the store at all.
    let truncated = GPS_PHOTO[..GPS_PHOTO.len() / 2].to_vec();
    let response = upload(&app, &token, &id, "id-card", truncated, "cut.jpg").await;
    assert_problem(response, 422, "corrupt_file").await;
    let bomb = jpeg_declaring(60_000, 60_000);
    let response = upload(&app, &token, &id, "id-card", bomb, "bomb.jpg").await;
    assert_problem(response, 422, "image_too_large").await;
    assert_eq!(
        files_in(server.data_dir()),
        before,
        "the store was written to"
    );

    // A large photo cut short is found out only at its end: the parts already sent are
    // aborted, and no object appears.
    let big = big_jpeg(12);
    let cut = big[..big.len() - 4096].to_vec();
    let response = upload(&app, &token, &id, "id-card", cut, "cut.jpg").await;
    assert_problem(response, 422, "corrupt_file").await;
    no_upload_left_open(&server).await;
    assert_eq!(
        files_in(server.data_dir()),
        before,
        "the store kept something"
    );
    assert_eq!(pages_of(&app, &token, &id).await, 0);
}

/// A JPEG whose frame header declares `width` × `height`: refused from its header alone.
fn jpeg_declaring(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = jpeg(3);
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header");
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}
