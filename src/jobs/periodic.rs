//! Housekeeping run as scheduled jobs: expired direct uploads, objects no row names, the objects
//! of deleted pages, expired review claims, the queue's own finished jobs and staff login
//! attempts whose window is over.

use chrono::{Duration, Utc};

use crate::jobs::{JobError, database};
use crate::state::AppState;
use crate::store::{claims, jobs as queue};

pub async fn sweep_uploads(state: &AppState) -> Result<(), JobError> {
    let swept = crate::sweeps::sweep_expired_uploads(state).await?;
    if swept > 0 {
        tracing::info!(swept, "expired uploads swept");
    }
    Ok(())
}

pub async fn sweep_orphans(state: &AppState) -> Result<(), JobError> {
    let swept = crate::sweeps::sweep_orphan_objects(state).await?;
    if swept > 0 {
        tracing::info!(swept, "orphaned objects swept");
    }
    Ok(())
}

/// The job a page's deletion enqueues: `{"keys": [...]}`. A failing store makes it retry with
/// backoff; deleting a missing object succeeds, so a repeat is harmless.
pub async fn delete_objects(state: &AppState, payload: &serde_json::Value) -> Result<(), JobError> {
    let keys = payload["keys"]
        .as_array()
        .ok_or_else(|| JobError::Fatal(anyhow::anyhow!("delete_objects without keys")))?;
    for key in keys {
        let Some(key) = key
            .as_str()
            .and_then(|k| crate::storage::ObjectKey::parse(k).ok())
        else {
            continue;
        };
        match state.store.delete(&key).await {
            Ok(()) | Err(crate::storage::StorageError::NotFound) => {}
            Err(e) => return Err(JobError::Retry(anyhow::anyhow!("deleting an object: {e}"))),
        }
    }
    Ok(())
}

pub async fn release_claims(state: &AppState) -> Result<(), JobError> {
    let released = claims::clear_expired(database(state)?, Utc::now()).await?;
    if released > 0 {
        tracing::info!(released, "expired review claims released");
    }
    Ok(())
}

pub async fn prune_jobs(state: &AppState) -> Result<(), JobError> {
    let keep = Duration::hours(state.config.jobs.keep_done_hours as i64);
    let pruned = queue::prune(database(state)?, Utc::now() - keep).await?;
    if pruned > 0 {
        tracing::info!(pruned, "finished jobs pruned");
    }
    // A login window ends at the latest this long after its last attempt.
    let auth = &state.config.auth;
    let window = Duration::seconds(auth.login_lock_secs.max(auth.login_global_lock_secs) as i64);
    let forgotten =
        crate::store::login_attempts::prune(database(state)?, Utc::now(), window).await?;
    if forgotten > 0 {
        tracing::info!(forgotten, "old login attempts forgotten");
    }
    Ok(())
}
