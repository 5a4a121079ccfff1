//! Receipt of a posted result. The courier's delivery completes the case; the citizen then
//! confirms the result arrived (`POST /v1/applications/{id}/confirm-receipt`), which also
//! completes a case whose delivery push has not come yet. A delivery nobody confirms is
//! confirmed by the system `courier.auto_confirm_hours` later.

use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};

use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::jobs::job::{Job, JobContext, JobError};
use crate::store::applications::{self, Actor, application};
use crate::store::jobs::JobPayload;
use crate::store::outbox::Channels;
use crate::store::{begin_write, shipments};

/// What confirming did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// Recorded now.
    Now,
    /// It had been recorded before (a retry, or the system got there first).
    Already,
}

/// Records the receipt of `app`'s result, completing the case if the courier has not said it
/// delivered. `app` must be locked or freshly read in this transaction, in `result_in_delivery`
/// or `completed`; `action` names the event.
pub async fn confirm<C: ConnectionTrait>(
    txn: &C,
    channels: &Channels,
    app: &application::Model,
    actor: Actor,
    action: &str,
) -> Result<Confirmed, DbErr> {
    if app.receipt_confirmed_at.is_some() {
        return Ok(Confirmed::Already);
    }
    let state = ApplicationState::parse(&app.state);
    if state == Some(ApplicationState::ResultInDelivery) {
        let to = machine::next(ApplicationState::ResultInDelivery, Action::ConfirmReceipt)
            .expect("result_in_delivery -> completed");
        if !applications::change_state(txn, channels, app, to, actor, action, None).await? {
            return Ok(Confirmed::Already);
        }
    } else if let Some(state) = state {
        applications::record_event(txn, app.id, actor, action, Some(state), state, None).await?;
    }
    applications::set_receipt_confirmed(txn, app.id, Utc::now()).await?;
    Ok(Confirmed::Now)
}

/// `confirm_receipts {slot}`: confirms results delivered long enough ago.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmReceipts {
    /// The schedule slot (Unix seconds) it was queued for.
    #[serde(default)]
    pub slot: i64,
}

impl JobPayload for ConfirmReceipts {
    const KIND: &'static str = "confirm_receipts";
}

impl Job for ConfirmReceipts {
    const SCHEDULED: bool = true;

    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        auto_confirm(ctx).await
    }
}

async fn auto_confirm(ctx: &JobContext) -> Result<(), JobError> {
    let db = &ctx.db;
    let hours = ctx.config.courier.auto_confirm_hours as i64;
    let due = shipments::unconfirmed_results(db, Utc::now() - Duration::hours(hours)).await?;
    let mut confirmed = 0;
    for leg in due {
        let txn = begin_write(db).await?;
        let Some(app) = applications::lock(&txn, leg.application_id).await? else {
            continue;
        };
        if confirm(
            &txn,
            &ctx.channels,
            &app,
            Actor::system(),
            "auto_confirm_receipt",
        )
        .await?
            == Confirmed::Now
        {
            confirmed += 1;
        }
        txn.commit().await?;
    }
    if confirmed > 0 {
        tracing::info!(confirmed, "delivered results confirmed automatically");
    }
    Ok(())
}
