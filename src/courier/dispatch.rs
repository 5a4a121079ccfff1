//! The twice-daily dispatch: at each cut-off (`courier.dispatch_cutoffs`), every case reception
//! confirmed before it joins its department's batch and moves to `at_department`, in one
//! transaction. A rerun of the same cut-off finds nothing left to add. Reception can also close
//! a batch early (`close_now`): the same step at a cut-off of now, for chosen departments.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::jobs::job::{Job, JobContext, JobError};
use crate::store::applications::{self, Actor};
use crate::store::jobs::JobPayload;
use crate::store::outbox::Channels;
use crate::store::{begin_write, dispatch};

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
        dispatch_at(&ctx.db, &ctx.channels, self.cutoff).await?;
        Ok(())
    }
}

/// Batches every case received before `cutoff`. Returns how many cases left.
pub async fn dispatch_at(
    db: &sea_orm::DatabaseConnection,
    channels: &Channels,
    cutoff: DateTime<Utc>,
) -> Result<usize, sea_orm::DbErr> {
    let batches = dispatch(db, channels, cutoff, None).await?;
    Ok(batches.iter().map(|(_, moved)| moved).sum())
}

/// Closes the batches of `departments` (or of all) now, ahead of the clock: the batches that got
/// cases, each with its count. A department with nothing received gets no batch.
pub async fn close_now(
    db: &sea_orm::DatabaseConnection,
    channels: &Channels,
    departments: Option<&[String]>,
) -> Result<Vec<dispatch::batch::Model>, sea_orm::DbErr> {
    let batches = dispatch(db, channels, Utc::now(), departments).await?;
    Ok(batches.into_iter().map(|(batch, _)| batch).collect())
}

/// Moves the received cases (of `departments`, or all) into their department's batch at
/// `cutoff`: the batches written, each read back after its cases joined, and how many moved.
async fn dispatch(
    db: &sea_orm::DatabaseConnection,
    channels: &Channels,
    cutoff: DateTime<Utc>,
    departments: Option<&[String]>,
) -> Result<Vec<(dispatch::batch::Model, usize)>, sea_orm::DbErr> {
    let txn = begin_write(db).await?;
    let mut by_department: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for app in dispatch::undispatched(&txn, cutoff, departments).await? {
        by_department
            .entry(app.department_code.clone())
            .or_default()
            .push(app);
    }
    let mut batches = Vec::new();
    let to = machine::next(ApplicationState::Received, Action::Dispatch)
        .expect("received -> at_department");
    for (department, apps) in by_department {
        let batch = dispatch::batch_for(&txn, &department, cutoff).await?;
        let mut moved = 0;
        for app in apps {
            if applications::change_state(
                &txn,
                channels,
                &app,
                to,
                Actor::system(),
                Action::Dispatch,
                Some(format!("batch {}", batch.id)),
                chrono::Utc::now(),
            )
            .await?
            {
                dispatch::add_to_batch(&txn, batch.id, app.id).await?;
                moved += 1;
            }
        }
        if moved > 0 {
            let written = dispatch::find_batch(&txn, batch.id).await?.unwrap_or(batch);
            batches.push((written, moved));
        }
    }
    txn.commit().await?;
    let moved: usize = batches.iter().map(|(_, moved)| moved).sum();
    if moved > 0 {
        tracing::info!(cases = moved, %cutoff, "dispatched to departments");
    }
    Ok(batches)
}
