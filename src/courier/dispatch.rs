//! The `dispatch_batches` job, queued at each cut-off (`courier.dispatch_cutoffs`): the step
//! itself is `cases::dispatch`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::jobs::job::{Job, JobContext, JobError};
use crate::store::jobs::JobPayload;

/// `dispatch_batches {cutoff}`: the step at one cut-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchBatches {
    pub cutoff: DateTime<Utc>,
}

impl JobPayload for DispatchBatches {
    const KIND: &'static str = "dispatch_batches";
}

impl Job for DispatchBatches {
    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        ctx.cases.dispatch_at(&ctx.db, self.cutoff).await?;
        Ok(())
    }
}
