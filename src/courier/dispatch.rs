//! The twice-daily dispatch: at each cut-off (`courier.dispatch_cutoffs`), every case reception
//! confirmed before it joins its department's batch and moves to `at_department`, in one
//! transaction. A rerun of the same cut-off finds nothing left to add.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::jobs::{JobError, database};
use crate::notify::outbox::Channels;
use crate::state::AppState;
use crate::store::applications::{self, Actor};
use crate::store::{begin_write, dispatch};

/// `dispatch_batches {cutoff}`.
pub async fn run(state: &AppState, payload: &Value) -> Result<(), JobError> {
    let db = database(state)?;
    let cutoff: DateTime<Utc> = payload["cutoff"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| JobError::Fatal(anyhow::anyhow!("payload has no cutoff")))?;
    dispatch_at(db, &state.channels, cutoff).await?;
    Ok(())
}

/// Batches every case received before `cutoff`. Returns how many cases left.
pub async fn dispatch_at(
    db: &sea_orm::DatabaseConnection,
    channels: &Channels,
    cutoff: DateTime<Utc>,
) -> Result<usize, sea_orm::DbErr> {
    let txn = begin_write(db).await?;
    let mut by_department: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for app in dispatch::undispatched(&txn, cutoff).await? {
        by_department
            .entry(app.department_code.clone())
            .or_default()
            .push(app);
    }
    let mut moved = 0;
    let to = machine::next(ApplicationState::Received, Action::Dispatch)
        .expect("received -> at_department");
    for (department, apps) in by_department {
        let batch = dispatch::batch_for(&txn, &department, cutoff).await?;
        for app in apps {
            if applications::change_state(
                &txn,
                channels,
                &app,
                to,
                Actor::system(),
                Action::Dispatch.as_str(),
                Some(format!("batch {}", batch.id)),
            )
            .await?
            {
                dispatch::add_to_batch(&txn, batch.id, app.id).await?;
                moved += 1;
            }
        }
    }
    txn.commit().await?;
    if moved > 0 {
        tracing::info!(cases = moved, %cutoff, "dispatched to departments");
    }
    Ok(moved)
}
