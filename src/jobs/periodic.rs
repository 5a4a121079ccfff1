//! Housekeeping run as scheduled jobs: expired direct uploads, expired review claims, and the
//! queue's own finished jobs.

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
    Ok(())
}
