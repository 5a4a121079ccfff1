//! Background work kept in the database, so a crash loses none of it: thumbnails of new pages,
//! made by a loop in each instance, and (for callers that hold the `AppState`) the sweeps the
//! `sweep_uploads` and `sweep_orphans` jobs run (`jobs::periodic`).

use std::time::Duration;

use crate::jobs::periodic;
use crate::media;
use crate::state::AppState;
use crate::storage::ObjectKey;
use crate::store::pages;

/// `jobs::periodic::sweep_orphan_objects`, once the database is ready. Returns how many objects
/// went.
pub async fn sweep_orphan_objects(state: &AppState) -> anyhow::Result<usize> {
    let Some(db) = state.database() else {
        return Ok(0);
    };
    periodic::sweep_orphan_objects(db, state.store.as_ref(), &state.config).await
}

/// `jobs::periodic::sweep_expired_uploads`, once the database is ready. Returns how many were
/// swept.
pub async fn sweep_expired_uploads(state: &AppState) -> anyhow::Result<usize> {
    let Some(db) = state.database() else {
        return Ok(0);
    };
    periodic::sweep_expired_uploads(db, state.store.as_ref()).await
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
/// Once uploads and thumbnails have stopped, it hands the memory their photos took back to the
/// system (`release_freed_memory`).
pub async fn run(state: AppState) {
    let mut media_since_release = false;
    let mut released_after_upload = 0;
    loop {
        // Background work: it waits for a lull in uploads, which need the CPU more.
        if state.since_last_upload_ms() < UPLOAD_LULL_MS {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        match make_thumbnails(&state, 1).await {
            Ok(0) => {
                let last_upload = state
                    .last_upload_ms
                    .load(std::sync::atomic::Ordering::Relaxed);
                if media_since_release || last_upload != released_after_upload {
                    release_freed_memory().await;
                    media_since_release = false;
                    released_after_upload = last_upload;
                }
                tokio::time::sleep(THUMBNAIL_POLL).await
            }
            Ok(_) => media_since_release = true,
            Err(e) => {
                tracing::warn!(error = %e, "thumbnail worker failed");
                tokio::time::sleep(THUMBNAIL_POLL).await;
            }
        }
    }
}

/// Returns the heap's free pages to the system. glibc's malloc keeps what a burst of photos
/// freed (decoded images of tens of MiB each, in the arenas `main` limits to two) and hands back
/// only the top of the heap; after a burst of uploads the process would keep its peak for good.
async fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is safe to call from any thread.
    let _ = tokio::task::spawn_blocking(|| unsafe { libc::malloc_trim(0) }).await;
}
