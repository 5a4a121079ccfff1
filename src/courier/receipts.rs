//! The `confirm_receipts` job: a delivered result nobody confirmed is confirmed by the service
//! `courier.auto_confirm_hours` later (`cases::receipts`).

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::cases::receipts::Confirmed;
use crate::domain::application::Action;
use crate::jobs::job::{Job, JobContext, JobError};
use crate::store::applications::{self, Actor};
use crate::store::jobs::JobPayload;
use crate::store::{begin_write, shipments};

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
    let due = shipments::unconfirmed_results(db, ctx.clock.now() - Duration::hours(hours)).await?;
    let mut confirmed = 0;
    for leg in due {
        let txn = begin_write(db).await?;
        let Some(app) = applications::lock(&txn, leg.application_id).await? else {
            continue;
        };
        let action = Action::AutoConfirmReceipt;
        if ctx
            .cases
            .confirm(&txn, &app, Actor::system(), action)
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
