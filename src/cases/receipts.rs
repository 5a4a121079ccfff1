//! Receipt of a posted result. The courier's delivery completes the case; the citizen then
//! confirms the result arrived, which also completes a case whose delivery push has not come
//! yet. A delivery nobody confirms is confirmed by the service `courier.auto_confirm_hours`
//! later (`ConfirmReceipts`).

use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use super::change::state_of;
use super::{CaseError, CaseResult, Cases, reads};
use crate::domain::application::{Action, ApplicationState};
use crate::store::applications::{self, Actor, application};
use crate::store::begin_write;
use crate::store::shipments::{self, LEG_RESULT};

/// What confirming did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// Recorded now.
    Now,
    /// It had been recorded before (a retry, or the service got there first).
    Already,
}

impl Cases {
    /// The citizen confirms their posted result arrived. A retry answers the same.
    pub async fn confirm_receipt(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
    ) -> CaseResult<Confirmed> {
        let txn = begin_write(db).await?;
        let app = reads::lock_owned(&txn, citizen, id).await?;
        let confirmed = self
            .confirm_posted(&txn, &app, Actor::citizen(citizen))
            .await?;
        txn.commit().await?;
        Ok(confirmed)
    }

    /// Someone who has the posted result of `app` (locked) in hand says so: refused unless a
    /// result was posted and is on its way or delivered.
    pub async fn confirm_posted<C: ConnectionTrait>(
        &self,
        txn: &C,
        app: &application::Model,
        actor: Actor,
    ) -> CaseResult<Confirmed> {
        if shipments::current_leg(txn, app.id, LEG_RESULT)
            .await?
            .is_none()
        {
            return Err(CaseError::NoResultToConfirm);
        }
        let state = state_of(app)?;
        if !matches!(
            state,
            ApplicationState::ResultInDelivery | ApplicationState::Completed
        ) {
            return Err(CaseError::WrongState {
                state,
                needs: ApplicationState::ResultInDelivery,
            });
        }
        self.confirm(txn, app, actor, Action::ConfirmReceipt).await
    }

    /// Records the receipt of `app`'s result, completing the case if the courier has not said it
    /// delivered. `app` must be locked or freshly read in this transaction, in
    /// `result_in_delivery` or `completed`; `action` is `ConfirmReceipt` or `AutoConfirmReceipt`.
    pub async fn confirm<C: ConnectionTrait>(
        &self,
        txn: &C,
        app: &application::Model,
        actor: Actor,
        action: Action,
    ) -> CaseResult<Confirmed> {
        if app.receipt_confirmed_at.is_some() {
            return Ok(Confirmed::Already);
        }
        let now = self.clock.now();
        match state_of(app)? {
            ApplicationState::ResultInDelivery => {
                match self.change(txn, app, action, actor, None).await {
                    Ok(_) => {}
                    Err(CaseError::Concurrent) => return Ok(Confirmed::Already),
                    Err(e) => return Err(e),
                }
            }
            // Delivered already: the receipt is an event of the completed case.
            state => {
                applications::record_event(
                    txn,
                    app.id,
                    actor,
                    action,
                    Some(state),
                    state,
                    None,
                    now,
                )
                .await?;
            }
        }
        applications::set_receipt_confirmed(txn, app.id, now).await?;
        Ok(Confirmed::Now)
    }
}
