//! The twice-daily dispatch: at each cut-off (`courier.dispatch_cutoffs`), every case reception
//! confirmed before it joins its department's batch and moves to `at_department`, in one
//! transaction. A rerun of the same cut-off finds nothing left to add. Reception can also close
//! a batch early (`close_now`): the same step at a cut-off of now, for chosen departments.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::{CaseError, CaseResult, Cases};
use crate::domain::application::Action;
use crate::store::applications::Actor;
use crate::store::{begin_write, dispatch};

impl Cases {
    /// Batches every case received before `cutoff`. Returns how many cases left.
    pub async fn dispatch_at(
        &self,
        db: &DatabaseConnection,
        cutoff: DateTime<Utc>,
    ) -> CaseResult<usize> {
        let batches = self.dispatch(db, cutoff, None).await?;
        Ok(batches.iter().map(|(_, moved)| moved).sum())
    }

    /// Closes the batches of `departments` (or of all) now, ahead of the clock: the batches that
    /// got cases. A department with nothing received gets no batch.
    pub async fn close_now(
        &self,
        db: &DatabaseConnection,
        departments: Option<&[String]>,
    ) -> CaseResult<Vec<dispatch::batch::Model>> {
        let batches = self.dispatch(db, self.clock.now(), departments).await?;
        Ok(batches.into_iter().map(|(batch, _)| batch).collect())
    }

    /// Moves the received cases (of `departments`, or all) into their department's batch at
    /// `cutoff`: the batches written, each read back after its cases joined, and how many moved.
    async fn dispatch(
        &self,
        db: &DatabaseConnection,
        cutoff: DateTime<Utc>,
        departments: Option<&[String]>,
    ) -> CaseResult<Vec<(dispatch::batch::Model, usize)>> {
        let txn = begin_write(db).await?;
        let mut by_department: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for app in dispatch::undispatched(&txn, cutoff, departments).await? {
            by_department
                .entry(app.department_code.clone())
                .or_default()
                .push(app);
        }
        let mut batches = Vec::new();
        for (department, apps) in by_department {
            let batch = dispatch::batch_for(&txn, &department, cutoff).await?;
            let mut moved = 0;
            for app in apps {
                let reason = Some(format!("batch {}", batch.id));
                match self
                    .change(&txn, &app, Action::Dispatch, Actor::system(), reason)
                    .await
                {
                    Ok(_) => {
                        dispatch::add_to_batch(&txn, batch.id, app.id).await?;
                        moved += 1;
                    }
                    // Moved on meanwhile (a concurrent close): not this batch's.
                    Err(CaseError::Concurrent) => {}
                    Err(e) => return Err(e),
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
}
