//! Periodic clean-up: objects of direct uploads that expired uncompleted. Idempotent, so several
//! instances running it at once only repeat each other's deletes.
// The durable job queue (scheduled jobs that run once across instances) replaces this loop.

use std::time::Duration;

use chrono::Utc;

use crate::state::AppState;
use crate::storage::{ObjectKey, StorageError};
use crate::store::uploads;

pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Deletes the staged objects of expired, uncompleted uploads. Returns how many were swept.
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

pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        tick.tick().await;
        match sweep_expired_uploads(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(swept = n, "expired uploads swept"),
            Err(e) => tracing::warn!(error = %e, "upload sweep failed"),
        }
    }
}
