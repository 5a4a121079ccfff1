//! The one entry point that changes a case: the domain decides the move, the store writes the
//! state, the event and the citizen's messages in the caller's transaction.

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{CaseError, CaseResult, Cases};
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::store::applications::{self, Actor, application};

impl Cases {
    /// Takes `app` (read or locked in this transaction) on by `action`: the state the machine
    /// gives, its event with `reason`, and the citizen's notifications, or nothing at all.
    /// Returns the application as moved. A move the machine refuses is `Refused`; a case that
    /// changed since it was read is `Concurrent`.
    pub async fn change<C: ConnectionTrait>(
        &self,
        db: &C,
        app: &application::Model,
        action: Action,
        actor: Actor,
        reason: Option<String>,
    ) -> CaseResult<application::Model> {
        let from = state_of(app)?;
        let to = machine::next(from, action)?;
        let now = self.clock.now();
        let channels = &self.channels;
        let offset = self.config.local_offset();
        if !applications::change_state(db, channels, app, to, actor, action, reason, now, offset)
            .await?
        {
            return Err(CaseError::Concurrent);
        }
        Ok(application::Model {
            state: to.as_str().into(),
            version: app.version + 1,
            updated_at: now,
            ..app.clone()
        })
    }

    /// The service's own moves (a parcel collected or delivered), without reading the case
    /// first: moves application `id` by `action` if it is in `from`. Returns whether it was.
    pub async fn change_from<C: ConnectionTrait>(
        &self,
        db: &C,
        id: Uuid,
        from: ApplicationState,
        action: Action,
        reason: Option<String>,
    ) -> CaseResult<bool> {
        let to = machine::next(from, action)?;
        let now = self.clock.now();
        let channels = &self.channels;
        Ok(applications::change_state_from(
            db,
            channels,
            id,
            from,
            to,
            action,
            reason,
            now,
            self.config.local_offset(),
        )
        .await?)
    }
}

/// The case's state, as the domain knows it.
pub fn state_of(app: &application::Model) -> CaseResult<ApplicationState> {
    ApplicationState::parse(&app.state)
        .ok_or_else(|| CaseError::Internal(format!("unknown state {}", app.state)))
}
