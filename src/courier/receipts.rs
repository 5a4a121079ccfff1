//! The `confirm_receipts` job: a delivered result nobody confirmed is confirmed by the service
//! `courier.auto_confirm_hours` later (`cases::receipts`).

use chrono::Duration;

use crate::cases::receipts::Confirmed;
use crate::domain::application::Action;
use crate::jobs::{JobError, database};
use crate::state::AppState;
use crate::store::applications::{self, Actor};
use crate::store::{begin_write, shipments};

/// The `confirm_receipts` job: confirms results delivered long enough ago.
pub async fn auto_confirm(state: &AppState) -> Result<(), JobError> {
    let db = database(state)?;
    let hours = state.config.courier.auto_confirm_hours as i64;
    let due =
        shipments::unconfirmed_results(db, state.clock.now() - Duration::hours(hours)).await?;
    let mut confirmed = 0;
    for leg in due {
        let txn = begin_write(db).await?;
        let Some(app) = applications::lock(&txn, leg.application_id).await? else {
            continue;
        };
        let action = Action::AutoConfirmReceipt;
        let outcome = state
            .cases
            .confirm(&txn, &app, Actor::system(), action)
            .await;
        if outcome.map_err(|e| JobError::Retry(e.into()))? == Confirmed::Now {
            confirmed += 1;
        }
        txn.commit().await?;
    }
    if confirmed > 0 {
        tracing::info!(confirmed, "delivered results confirmed automatically");
    }
    Ok(())
}
