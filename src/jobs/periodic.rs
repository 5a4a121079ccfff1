//! Housekeeping run as scheduled jobs: expired direct uploads, objects no row names, the objects
//! of deleted pages, expired review claims, the queue's own finished jobs and staff login
//! attempts whose window is over. All are idempotent, so instances repeating each other's work
//! is harmless; none deletes an object a row names.

use chrono::{DateTime, Duration, TimeDelta, Utc};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;
use crate::jobs::job::{Job, JobContext, JobError};
use crate::storage::{ObjectKey, ObjectStore, StorageError};
use crate::store::jobs::{self as queue, JobPayload};
use crate::store::{claims, idempotency, login_attempts, object_refs, uploads};

/// `sweep_uploads {slot}`: the staged objects of expired direct uploads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepUploads {
    /// The schedule slot (Unix seconds) it was queued for.
    #[serde(default)]
    pub slot: i64,
}

impl JobPayload for SweepUploads {
    const KIND: &'static str = "sweep_uploads";
}

/// `sweep_orphans {slot}`: objects no row names, once `storage.orphan_grace_secs` old.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepOrphans {
    /// The schedule slot (Unix seconds) it was queued for.
    #[serde(default)]
    pub slot: i64,
}

impl JobPayload for SweepOrphans {
    const KIND: &'static str = "sweep_orphans";
}

/// `release_claims {slot}`: review claims past their expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseClaims {
    /// The schedule slot (Unix seconds) it was queued for.
    #[serde(default)]
    pub slot: i64,
}

impl JobPayload for ReleaseClaims {
    const KIND: &'static str = "release_claims";
}

/// `prune_jobs {slot}`: finished jobs past `jobs.keep_done_hours`, and old login attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneJobs {
    /// The schedule slot (Unix seconds) it was queued for.
    #[serde(default)]
    pub slot: i64,
}

impl JobPayload for PruneJobs {
    const KIND: &'static str = "prune_jobs";
}

/// `apply_retention {slot}`: abandoned cases cancelled, and the photos, result files and
/// personal fields of ended cases past their item's retention destroyed (`cases::retention`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyRetention {
    /// The schedule slot (Unix seconds) it was queued for.
    #[serde(default)]
    pub slot: i64,
}

impl JobPayload for ApplyRetention {
    const KIND: &'static str = "apply_retention";
}

impl Job for ApplyRetention {
    const SCHEDULED: bool = true;

    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        let run = ctx.cases.apply_retention(&ctx.db).await?;
        if run != Default::default() {
            tracing::info!(
                abandoned = run.abandoned,
                photos = run.photos,
                results = run.results,
                personal = run.personal,
                objects = run.objects,
                "retention applied"
            );
        }
        Ok(())
    }
}

impl Job for SweepUploads {
    const SCHEDULED: bool = true;

    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        let swept = sweep_expired_uploads(&ctx.db, ctx.store.as_ref()).await?;
        if swept > 0 {
            tracing::info!(swept, "expired uploads swept");
        }
        Ok(())
    }
}

impl Job for SweepOrphans {
    const SCHEDULED: bool = true;

    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        let swept = sweep_orphan_objects(&ctx.db, ctx.store.as_ref(), &ctx.config).await?;
        if swept > 0 {
            tracing::info!(swept, "orphaned objects swept");
        }
        Ok(())
    }
}

pub use crate::store::pages::DeleteObjects;

impl Job for DeleteObjects {
    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        // A page from the wallet shares its objects with the document and with other cases.
        let named = crate::store::object_refs::named(&ctx.db, &self.keys).await?;
        for key in self.keys {
            if named.contains(&key) {
                continue;
            }
            let Ok(key) = ObjectKey::parse(key) else {
                continue;
            };
            match ctx.store.delete(&key).await {
                Ok(()) | Err(StorageError::NotFound) => {}
                Err(e) => return Err(JobError::Retry(anyhow::anyhow!("deleting an object: {e}"))),
            }
        }
        Ok(())
    }
}

impl Job for ReleaseClaims {
    const SCHEDULED: bool = true;

    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        let released = claims::clear_expired(&ctx.db, ctx.clock.now()).await?;
        if released > 0 {
            tracing::info!(released, "expired review claims released");
        }
        Ok(())
    }
}

impl Job for PruneJobs {
    const SCHEDULED: bool = true;

    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        let keep = Duration::hours(ctx.config.jobs.keep_done_hours as i64);
        let pruned = queue::prune(&ctx.db, Utc::now() - keep).await?;
        if pruned > 0 {
            tracing::info!(pruned, "finished jobs pruned");
        }
        let forgotten = idempotency::prune(&ctx.db, Utc::now() - IDEMPOTENCY_KEPT).await?;
        if forgotten > 0 {
            tracing::info!(forgotten, "remembered responses past their day forgotten");
        }
        // A login window ends at the latest this long after its last attempt.
        let auth = &ctx.config.auth;
        let window =
            Duration::seconds(auth.login_lock_secs.max(auth.login_global_lock_secs) as i64);
        let forgotten = login_attempts::prune(&ctx.db, Utc::now(), window).await?;
        if forgotten > 0 {
            tracing::info!(forgotten, "old login attempts forgotten");
        }
        Ok(())
    }
}

/// How long a response is kept for a retried `Idempotency-Key` (docs/api.md says a day).
const IDEMPOTENCY_KEPT: Duration = Duration::hours(24);

/// Objects listed, and checked against the database, at a time.
const ORPHAN_PAGE: usize = 500;

/// Deletes objects under page, result and upload keys that no row names and that are older than
/// `storage.orphan_grace_secs`: what a crash between storing an object and recording its row
/// leaves, a page deletion whose job went dead, and a PUT that reached an upload key after its
/// sweep. Also clears the store's own stale scratch files. Returns how many objects went.
pub async fn sweep_orphan_objects(
    db: &DatabaseConnection,
    store: &dyn ObjectStore,
    config: &Config,
) -> anyhow::Result<usize> {
    let grace = config.storage.orphan_grace_secs.min(i64::MAX as u64) as i64;
    let before = Utc::now() - TimeDelta::seconds(grace);
    let mut swept = 0;
    for prefix in ["applications/", "uploads/"] {
        let mut after: Option<ObjectKey> = None;
        loop {
            let page = store.list(prefix, after.as_ref(), ORPHAN_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            let old: Vec<&ObjectKey> = page
                .iter()
                .filter(|l| l.modified < before)
                .map(|l| &l.key)
                .collect();
            for key in unnamed(db, prefix, &old).await? {
                match store.delete(key).await {
                    Ok(()) | Err(StorageError::NotFound) => swept += 1,
                    Err(e) => tracing::warn!(error = %e, "orphaned object not swept yet"),
                }
            }
        }
    }
    swept += store.sweep_scratch(before).await?;
    swept += sweep_local_temp(config, before).await?;
    Ok(swept)
}

/// This instance's own waiting pages and thumbnails (`data_dir/tmp`) that a killed process left.
async fn sweep_local_temp(config: &Config, before: DateTime<Utc>) -> anyhow::Result<usize> {
    let mut removed = 0;
    let mut entries = match tokio::fs::read_dir(config.data_dir.join("tmp")).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    while let Some(entry) = entries.next_entry().await? {
        let metadata = entry.metadata().await?;
        let modified: DateTime<Utc> = metadata.modified()?.into();
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
    db: &DatabaseConnection,
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
pub async fn sweep_expired_uploads(
    db: &DatabaseConnection,
    store: &dyn ObjectStore,
) -> anyhow::Result<usize> {
    let now = Utc::now();
    let expired = uploads::expired(db, now, 500).await?;
    for upload in &expired {
        if let Ok(key) = ObjectKey::parse(upload.object_key.clone()) {
            match store.delete(&key).await {
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
