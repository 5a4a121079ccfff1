//! Objects no row wants, over both real stores: a deleted page's objects go by a job that retries
//! while the store fails, and the sweep deletes what a crash left once the grace period is over.

use std::time::{Duration, Instant};

use beebox::config::Config;
use beebox::storage::ObjectKey;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::support::cases::draft;
use crate::support::pages::{jpeg, page_key, put_to, staged_key, ticket, upload};
use crate::support::s3::{S3Server, on_s3};
use crate::support::{TestApp, assert_problem, spawn_app_with};

async fn job_of(app: &TestApp, kind: &str) -> Option<beebox::store::jobs::job::Model> {
    use beebox::store::jobs::job;
    job::Entity::find()
        .filter(job::Column::Kind.eq(kind))
        .one(app.state.database().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_page_deleted_while_the_store_fails_is_removed_by_a_retrying_job() {
    let s3 = S3Server::start().await;
    let app = spawn_app_with(|c| {
        on_s3(&s3)(c);
        c.jobs.backoff_base_ms = 200;
        c.jobs.backoff_max_secs = 1;
    })
    .await;
    let (token, id) = draft(&app, "deleter").await;
    let response = upload(&app, &token, &id, "id-card", jpeg(32), "a.jpg").await;
    assert_eq!(response.status(), 201);
    let page: serde_json::Value = response.json().await.unwrap();
    let key = page_key(&app, &id, page["id"].as_str().unwrap()).await;

    s3.refuse(true);
    // Writes meanwhile are a 503 the client may retry.
    let response = upload(&app, &token, &id, "id-card", jpeg(33), "b.jpg").await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 503, "storage_unavailable").await;
    let deleted = app
        .client
        .delete(app.url(&format!(
            "/v1/applications/{id}/pages/{}",
            page["id"].as_str().unwrap()
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    // The job fails while the store does, and is retried.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = job_of(&app, "delete_objects").await.expect("a delete job");
        assert_ne!(job.state, "dead", "{job:?}");
        if job.attempts >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no retry: {job:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s3.refuse(false);
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.state.store.head(&key).await.is_ok() {
        assert!(Instant::now() < deadline, "the object was never deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while job_of(&app, "delete_objects").await.unwrap().state != "done" {
        assert!(Instant::now() < deadline, "the job never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a crash between storing an object and recording its row leaves behind, over either
/// store; the sweep deletes it once older than the grace period, and nothing a row names.
async fn orphans_are_swept_after_the_grace_period(app: &TestApp) {
    let (token, id) = draft(app, "orphans").await;
    let response = upload(app, &token, &id, "id-card", jpeg(34), "a.jpg").await;
    assert_eq!(response.status(), 201);
    let page: serde_json::Value = response.json().await.unwrap();
    let kept = page_key(app, &id, page["id"].as_str().unwrap()).await;
    // An open direct upload whose bytes are staged: not an orphan.
    let bytes = jpeg(35);
    let open: serde_json::Value = ticket(app, &token, &id, &bytes).await.json().await.unwrap();
    assert!(put_to(app, &open, bytes).await.status().is_success());

    let store = &app.state.store;
    let orphans: Vec<ObjectKey> = [
        format!("applications/{id}/pages/{}.jpg", uuid::Uuid::now_v7()),
        format!("applications/{id}/results/{}.pdf", uuid::Uuid::now_v7()),
        format!("uploads/{}", uuid::Uuid::now_v7()),
    ]
    .into_iter()
    .map(|k| ObjectKey::parse(k).unwrap())
    .collect();
    for key in &orphans {
        store
            .put(key, "image/jpeg", Box::pin(std::io::Cursor::new(jpeg(36))))
            .await
            .unwrap();
    }

    // Younger than the grace period: kept.
    beebox::sweeps::sweep_orphan_objects(&app.state)
        .await
        .unwrap();
    for key in &orphans {
        assert!(store.head(key).await.is_ok(), "{key} swept too early");
    }
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let swept = beebox::sweeps::sweep_orphan_objects(&app.state)
        .await
        .unwrap();
    assert!(swept >= orphans.len(), "{swept}");
    for key in &orphans {
        assert!(store.head(key).await.is_err(), "{key} not swept");
    }
    assert!(store.head(&kept).await.is_ok(), "a page's object was swept");
    assert!(
        store.head(&staged_key(&open)).await.is_ok(),
        "an open upload was swept"
    );
    // The page still reads.
    let response = app.get_as(&token, &format!("/v1/applications/{id}")).await;
    assert_eq!(response.status(), 200);
}

fn orphan_settings(c: &mut Config) {
    c.storage.orphan_grace_secs = 2;
    c.jobs.worker = false;
}

#[tokio::test]
async fn fs_orphaned_objects_and_temp_files_are_swept_after_the_grace_period() {
    let app = spawn_app_with(orphan_settings).await;
    // A temp file of an upload killed mid-way.
    let stale = app
        .state
        .config
        .fs_root()
        .join(".tmp")
        .join("killed-upload");
    std::fs::write(&stale, b"half a page").unwrap();
    // More orphans than the sweep lists at a time: it pages through them all.
    let many: Vec<ObjectKey> = (0..600)
        .map(|i| ObjectKey::parse(format!("applications/many/pages/{i:04}.jpg")).unwrap())
        .collect();
    for key in &many {
        app.state
            .store
            .put(
                key,
                "image/jpeg",
                Box::pin(std::io::Cursor::new(vec![1u8; 8])),
            )
            .await
            .unwrap();
    }
    orphans_are_swept_after_the_grace_period(&app).await;
    assert!(!stale.exists(), "the stale temp file stays");
    for key in &many {
        assert!(app.state.store.head(key).await.is_err(), "{key} not swept");
    }
}

#[tokio::test]
async fn s3_orphaned_objects_are_swept_after_the_grace_period() {
    let s3 = S3Server::start().await;
    let app = spawn_app_with(|c| {
        on_s3(&s3)(c);
        orphan_settings(c);
    })
    .await;
    orphans_are_swept_after_the_grace_period(&app).await;
}
