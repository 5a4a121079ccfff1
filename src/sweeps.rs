//! Background work kept in the database, so a crash loses none of it: thumbnails of new pages,
//! the staged objects of expired direct uploads (the `sweep_uploads` job), and objects no row
//! names (the `sweep_orphans` job). All are idempotent, so instances repeating each other's work
//! is harmless; none deletes an object a row names.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use uuid::Uuid;

use crate::media;
use crate::state::AppState;
use crate::storage::{ObjectKey, StorageError};
use crate::store::{object_refs, pages, uploads};

/// Objects listed, and checked against the database, at a time.
const ORPHAN_PAGE: usize = 500;

/// Deletes objects under page, result and upload keys that no row names and that are older than
/// `storage.orphan_grace_secs`: what a crash between storing an object and recording its row
/// leaves, a page deletion whose job went dead, and a PUT that reached an upload key after its
/// sweep. Also clears the store's own stale scratch files. Returns how many objects went.
pub async fn sweep_orphan_objects(state: &AppState) -> anyhow::Result<usize> {
    let Some(db) = state.database() else {
        return Ok(0);
    };
    let grace = state.config.storage.orphan_grace_secs.min(i64::MAX as u64) as i64;
    let before = Utc::now() - TimeDelta::seconds(grace);
    let mut swept = 0;
    for prefix in ["applications/", "uploads/"] {
        let mut after: Option<ObjectKey> = None;
        loop {
            let page = state
                .store
                .list(prefix, after.as_ref(), ORPHAN_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            let old: Vec<&ObjectKey> = page
                .iter()
                .filter(|l| l.modified < before)
                .map(|l| &l.key)
                .collect();
            for key in unnamed(db, prefix, &old).await? {
                match state.store.delete(key).await {
                    Ok(()) | Err(StorageError::NotFound) => swept += 1,
                    Err(e) => tracing::warn!(error = %e, "orphaned object not swept yet"),
                }
            }
        }
    }
    swept += state.store.sweep_scratch(before).await?;
    swept += sweep_local_temp(state, before).await?;
    Ok(swept)
}

/// This instance's own waiting pages and thumbnails (`data_dir/tmp`) that a killed process left.
async fn sweep_local_temp(
    state: &AppState,
    before: chrono::DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut removed = 0;
    let mut entries = match tokio::fs::read_dir(state.config.data_dir.join("tmp")).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    while let Some(entry) = entries.next_entry().await? {
        let metadata = entry.metadata().await?;
        let modified: chrono::DateTime<Utc> = metadata.modified()?.into();
        if metadata.is_file() && modified < before {
            match tokio::fs::remove_file(entry.path()).await {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(removed)
}

/// The keys among `keys` that no row wants: under `applications/`, those no page, thumbnail or
/// result file names; under `uploads/`, those whose upload is gone or already swept.
async fn unnamed<'k>(
    db: &sea_orm::DatabaseConnection,
    prefix: &str,
    keys: &[&'k ObjectKey],
) -> anyhow::Result<Vec<&'k ObjectKey>> {
    if prefix == "uploads/" {
        let ids: Vec<Uuid> = keys.iter().filter_map(|k| upload_id(k)).collect();
        let wanted = object_refs::unswept_uploads(db, &ids).await?;
        return Ok(keys
            .iter()
            .filter(|k| !upload_id(k).is_some_and(|id| wanted.contains(&id)))
            .copied()
            .collect());
    }
    let names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let named = object_refs::named(db, &names).await?;
    Ok(keys
        .iter()
        .filter(|k| !named.contains(k.as_str()))
        .copied()
        .collect())
}

/// The upload id in a staged key, `uploads/{id}`.
fn upload_id(key: &ObjectKey) -> Option<Uuid> {
    key.as_str().strip_prefix("uploads/")?.parse().ok()
}

/// Deletes the staged objects of expired uploads, completed or not (a presigned S3 PUT still
/// works after `complete` until it expires). Returns how many were swept.
pub async fn sweep_expired_uploads(state: &AppState) -> anyhow::Result<usize> {
    let Some(db) = state.database() else {
        return Ok(0);
    };
    let now = Utc::now();
    let expired = uploads::expired(db, now, 500).await?;
    for upload in &expired {
        if let Ok(key) = ObjectKey::parse(upload.object_key.clone()) {
            match state.store.delete(&key).await {
                Ok(()) | Err(StorageError::NotFound) => {}
                // Try again next round.
                Err(e) => {
                    tracing::warn!(error = %e, "expired upload not swept yet");
                    continue;
                }
            }
        }
        uploads::mark_swept(db, upload.id, now).await?;
    }
    Ok(expired.len())
}

/// How long after the last upload started thumbnails wait.
const UPLOAD_LULL_MS: i64 = 2_000;

/// A page whose thumbnail failed this often is left without one.
const THUMBNAIL_ATTEMPTS: i32 = 3;

/// Makes the missing thumbnails of up to `limit` pages. Returns how many were made.
pub async fn make_thumbnails(state: &AppState, limit: u64) -> anyhow::Result<usize> {
    let Some(db) = state.database() else {
        return Ok(0);
    };
    let mut made = 0;
    for page in pages::needing_thumbnails(db, THUMBNAIL_ATTEMPTS, limit).await? {
        match thumbnail_of(state, &page).await {
            Ok(key) => {
                pages::set_thumbnail(db, page.id, key.as_str()).await?;
                made += 1;
            }
            Err(e) => {
                tracing::warn!(page = %page.id, error = %e, "thumbnail not made");
                pages::count_thumbnail_attempt(db, page.id).await?;
            }
        }
    }
    Ok(made)
}

async fn thumbnail_of(state: &AppState, page: &pages::page::Model) -> anyhow::Result<ObjectKey> {
    let source = ObjectKey::parse(page.object_key.clone())?;
    let dir = state.config.data_dir.join("tmp");
    tokio::fs::create_dir_all(&dir).await?;
    let local = tempfile::Builder::new()
        .prefix("thumb-")
        .tempfile_in(dir)?
        .into_temp_path();
    let (_, mut reader) = state.store.get(&source).await?;
    let mut file = tokio::fs::File::create(&local).await?;
    tokio::io::copy(&mut reader, &mut file).await?;
    drop(file);
    let _permit = state.cases.media_permits.acquire().await?;
    let path = local.to_path_buf();
    let bytes = tokio::task::spawn_blocking(move || media::thumbnail(&path))
        .await??
        .ok_or_else(|| anyhow::anyhow!("this kind of page has no thumbnail"))?;
    let key = ObjectKey::parse(format!(
        "{}.thumb.jpg",
        page.object_key
            .rsplit_once('.')
            .map_or(page.object_key.as_str(), |(stem, _)| stem)
    ))?;
    state
        .store
        .put(&key, "image/jpeg", Box::pin(std::io::Cursor::new(bytes)))
        .await?;
    Ok(key)
}

/// How often the thumbnail worker looks for new pages when it found none.
pub const THUMBNAIL_POLL: Duration = Duration::from_secs(1);

/// Makes thumbnails as pages arrive, in a lull between uploads. It stays a loop in each
/// instance rather than a job per page: thumbnails are optional, and the lull is per instance.
pub async fn run(state: AppState) {
    loop {
        // Background work: it waits for a lull in uploads, which need the CPU more.
        if state.since_last_upload_ms() < UPLOAD_LULL_MS {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        match make_thumbnails(&state, 1).await {
            Ok(0) => tokio::time::sleep(THUMBNAIL_POLL).await,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "thumbnail worker failed");
                tokio::time::sleep(THUMBNAIL_POLL).await;
            }
        }
    }
}
