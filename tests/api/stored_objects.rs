//! Direct uploads and a failing store, over both real stores: a direct upload's URL after
//! `complete`, the cap on open tickets, and a full or read-only store (503
//! `storage_unavailable`). `orphans.rs` has the deletion of objects no row names.

use std::time::{Duration, Instant};

use beebox::storage::ObjectKey;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::cases::{create, draft};
use crate::support::pages::{jpeg, noisy_jpeg, page_key, put_to, staged_key, ticket, upload};
use crate::support::s3::{S3Server, on_s3};
use crate::support::{TestApp, assert_problem, spawn_app_unready, spawn_app_with};

const ITEM: &str = "social-security-card-replacement";

async fn sha_of(app: &TestApp, key: &ObjectKey) -> String {
    let (_, mut reader) = app.state.store.get(key).await.unwrap();
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut bytes)
        .await
        .unwrap();
    hex::encode(Sha256::digest(&bytes))
}

async fn complete(app: &TestApp, token: &str, ticket: &serde_json::Value) -> serde_json::Value {
    let upload_id = ticket["upload_id"].as_str().unwrap();
    let response = app
        .post_as(
            token,
            &format!("/v1/uploads/{upload_id}/complete"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn fs_presigned_put_after_complete_is_refused_and_stores_nothing() {
    let app = spawn_app_with(|c| c.jobs.worker = false).await;
    let (token, id) = draft(&app, "again").await;
    let bytes = jpeg(21);
    let ticket: serde_json::Value = ticket(&app, &token, &id, &bytes)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        put_to(&app, &ticket, bytes.clone())
            .await
            .status()
            .is_success()
    );
    complete(&app, &token, &ticket).await;

    let again = put_to(&app, &ticket, jpeg(22)).await;
    assert_problem(again, 409, "upload_closed").await;
    assert!(app.state.store.head(&staged_key(&ticket)).await.is_err());
}

#[tokio::test]
async fn s3_put_after_complete_never_reaches_the_page_and_is_swept_at_expiry() {
    let s3 = S3Server::start().await;
    let app = spawn_app_with(|c| {
        on_s3(&s3)(c);
        c.uploads.direct_upload_ttl_secs = 2;
        // This test runs the sweep itself.
        c.jobs.worker = false;
    })
    .await;
    let (token, id) = draft(&app, "s3again").await;
    let bytes = jpeg(23);
    let ticket: serde_json::Value = ticket(&app, &token, &id, &bytes)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        put_to(&app, &ticket, bytes.clone())
            .await
            .status()
            .is_success()
    );
    let page = complete(&app, &token, &ticket).await;
    let key = page_key(&app, &id, page["id"].as_str().unwrap()).await;
    let stored = sha_of(&app, &key).await;
    assert_eq!(stored, page["sha256"]);

    // S3 cannot revoke its URL: the PUT lands, but on the upload key, not the page's.
    let late = put_to(&app, &ticket, jpeg(24)).await;
    assert!(late.status().is_success(), "{}", late.status());
    assert!(app.state.store.head(&staged_key(&ticket)).await.is_ok());
    assert_eq!(sha_of(&app, &key).await, stored);

    tokio::time::sleep(Duration::from_millis(3100)).await;
    beebox::sweeps::sweep_expired_uploads(&app.state)
        .await
        .unwrap();
    assert!(app.state.store.head(&staged_key(&ticket)).await.is_err());
    assert_eq!(sha_of(&app, &key).await, stored);
    // Expired, the URL is refused by S3 itself.
    assert!(!put_to(&app, &ticket, jpeg(25)).await.status().is_success());
}

#[tokio::test]
async fn open_upload_tickets_per_application_are_capped() {
    let app = spawn_app_with(|c| c.uploads.max_open_tickets_per_application = 3).await;
    let (token, id) = draft(&app, "greedy").await;
    let bytes = jpeg(26);
    let mut tickets = Vec::new();
    for _ in 0..3 {
        let response = ticket(&app, &token, &id, &bytes).await;
        assert_eq!(response.status(), 201);
        tickets.push(response.json::<serde_json::Value>().await.unwrap());
    }
    let refused = ticket(&app, &token, &id, &bytes).await;
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    assert_problem(refused, 429, "upload_tickets_exhausted").await;

    // Completing one frees its place.
    assert!(
        put_to(&app, &tickets[0], bytes.clone())
            .await
            .status()
            .is_success()
    );
    complete(&app, &token, &tickets[0]).await;
    assert_eq!(ticket(&app, &token, &id, &jpeg(27)).await.status(), 201);

    // The cap is per application.
    let created = create(&app, &token, ITEM).await;
    let other = created["id"].as_str().unwrap();
    assert_eq!(ticket(&app, &token, other, &bytes).await.status(), 201);
}

/// Waits until the database is ready (the store may not be).
async fn wait_for_database(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.state.database().is_none() {
        assert!(Instant::now() < deadline, "the database never became ready");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn fs_store_below_its_free_space_threshold_is_503_and_not_ready() {
    let app = spawn_app_unready(|c| {
        // More than any disk here has: the measured free space is always below it.
        c.storage.fs.min_free_bytes = u64::MAX / 2;
        c.ops.token = Some(beebox::config::Secret::new("ops-token-for-tests"));
    })
    .await;
    wait_for_database(&app).await;
    let (token, id) = draft(&app, "full").await;

    let response = upload(&app, &token, &id, "id-card", jpeg(28), "page.jpg").await;
    assert_eq!(response.headers()["retry-after"], "5");
    assert_problem(response, 503, "storage_unavailable").await;

    // Path B: the service's own PUT URL refuses the bytes the same way.
    let bytes = jpeg(29);
    let ticket: serde_json::Value = ticket(&app, &token, &id, &bytes)
        .await
        .json()
        .await
        .unwrap();
    let put = put_to(&app, &ticket, bytes).await;
    assert!(put.headers().contains_key("retry-after"));
    assert_problem(put, 503, "storage_unavailable").await;

    let body = assert_problem(app.get("/readyz").await, 503, "not_ready").await;
    assert_eq!(body["errors"][0]["field"], "storage", "{body}");
    assert_eq!(body["errors"][0]["message"], "failing");
    let body = assert_problem(
        app.get_as("ops-token-for-tests", "/readyz").await,
        503,
        "not_ready",
    )
    .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("low free space"),
        "{body}"
    );
}

/// A small tmpfs, unmounted when dropped: a filesystem that really fills up or turns read-only.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Self {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mounting a tmpfs (the tests run as root)");
        Self(dir.to_path_buf())
    }

    fn remount_read_only(&self) {
        let status = std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
async fn a_full_then_read_only_filesystem_store_is_503_storage_unavailable() {
    let mount = tempfile::tempdir().unwrap();
    let tmpfs = Tmpfs::mount(mount.path(), "256k");
    let root = mount.path().to_path_buf();
    let app = spawn_app_with(move |c| {
        c.storage.fs.root = Some(root);
        c.storage.fs.min_free_bytes = 0;
    })
    .await;
    let (token, id) = draft(&app, "diskfull").await;
    // Fits.
    let small = upload(&app, &token, &id, "id-card", jpeg(30), "a.jpg").await;
    assert_eq!(small.status(), 201);
    // Does not fit: ENOSPC while the store writes.
    let big = noisy_jpeg(400);
    assert!(big.len() > 256 * 1024, "{}", big.len());
    let response = upload(&app, &token, &id, "id-card", big, "b.jpg").await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 503, "storage_unavailable").await;

    tmpfs.remount_read_only();
    let response = upload(&app, &token, &id, "id-card", jpeg(31), "c.jpg").await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 503, "storage_unavailable").await;
    drop(app);
}

#[tokio::test]
async fn a_full_local_disk_while_a_page_waits_is_503_storage_unavailable() {
    let s3 = S3Server::start().await;
    let app = spawn_app_with(on_s3(&s3)).await;
    // Where pages wait while they are checked, on the instance's own disk.
    let waiting = app.config.data_dir.join("tmp");
    std::fs::create_dir_all(&waiting).unwrap();
    let _tmpfs = Tmpfs::mount(&waiting, "64k");
    let (token, id) = draft(&app, "localfull").await;
    let response = upload(&app, &token, &id, "id-card", noisy_jpeg(300), "a.jpg").await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 503, "storage_unavailable").await;
}
