//! What a citizen does to their own case: start a draft, submit it (or resubmit a returned
//! one), withdraw it.

use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use super::change::state_of;
use super::{CaseError, CaseResult, Cases, FieldIssue, reads};
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::domain::email::EmailAddress;
use crate::domain::id_number::IdNumber;
use crate::domain::phone::PhoneNumber;
use crate::store::applications::{self, Actor, application};
use crate::store::begin_write;
use crate::store::catalog::MatterVersion;
use crate::store::pages::{self, page};

/// A new draft's content, already parsed into domain types at the edge.
pub struct Draft {
    pub applicant_name: String,
    pub phone: PhoneNumber,
    pub id_number: Option<IdNumber>,
    pub email: Option<EmailAddress>,
    /// The return address, as the API's address object.
    pub return_address: Option<serde_json::Value>,
    pub note: Option<String>,
    /// The bundle filing the draft is an item of.
    pub filing_id: Option<Uuid>,
    /// Filed by an agent: the agent, their service point and how the resident authorizes.
    pub agent: Option<(Uuid, Uuid, crate::domain::agent::Method)>,
}

impl Cases {
    /// Starts a draft of `version`'s item for `citizen` in the caller's transaction.
    pub async fn create_draft<C: ConnectionTrait>(
        &self,
        txn: &C,
        citizen: Uuid,
        version: &MatterVersion,
        draft: Draft,
        keys: &crate::keys::Keys,
    ) -> CaseResult<application::Model> {
        let now = self.clock.now();
        let model = application::ActiveModel {
            id: Set(Uuid::now_v7()),
            citizen_id: Set(citizen),
            matter_id: Set(version.matter.id),
            matter_code: Set(version.matter.code.clone()),
            state: Set(ApplicationState::Draft.as_str().into()),
            version: Set(1),
            applicant_name: Set(draft.applicant_name),
            applicant_phone: Set(draft.phone.as_str().to_string()),
            applicant_id_number_enc: Set(draft
                .id_number
                .as_ref()
                .map(|id| keys.data.encrypt(id.as_str()))),
            applicant_id_number_masked: Set(draft.id_number.as_ref().map(IdNumber::masked)),
            return_address: Set(draft.return_address),
            note: Set(draft.note),
            created_at: Set(now),
            updated_at: Set(now),
            submitted_at: Set(None),
            first_submitted_at: Set(None),
            department_code: Set(version.matter.department_code.clone()),
            claimed_by: Set(None),
            claim_expires_at: Set(None),
            queue_priority: Set(0),
            return_reasons: Set(None),
            prereview_due_at: Set(None),
            applicant_email: Set(draft.email.as_ref().map(|e| e.as_str().to_string())),
            overdue_alerted_at: Set(None),
            batch_id: Set(None),
            received_at: Set(None),
            receipt_confirmed_at: Set(None),
            filing_id: Set(draft.filing_id),
            agent_id: Set(draft.agent.map(|(agent, _, _)| agent)),
            service_point_id: Set(draft.agent.map(|(_, point, _)| point)),
            authorization_method: Set(draft.agent.map(|(_, _, m)| m.as_str().to_string())),
            held_at: Set(None),
            held_by: Set(None),
            hold_reason: Set(None),
            photos_destroyed_at: Set(None),
            results_destroyed_at: Set(None),
            personal_destroyed_at: Set(None),
        };
        let actor = match draft.agent {
            Some((agent, _, _)) => Actor::staff(agent),
            None => Actor::citizen(citizen),
        };
        Ok(applications::insert(txn, model, actor).await?)
    }

    /// Withdraws the citizen's case. Withdrawing a withdrawn case is harmless.
    pub async fn cancel(&self, db: &DatabaseConnection, citizen: Uuid, id: Uuid) -> CaseResult<()> {
        self.cancel_as(db, citizen, id, None).await
    }

    /// `cancel`, by the citizen or by the `agent` who filed the case for them.
    pub async fn cancel_as(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
        agent: Option<Uuid>,
    ) -> CaseResult<()> {
        let txn = begin_write(db).await?;
        let app = reads::lock_owned(&txn, citizen, id).await?;
        if state_of(&app)? != ApplicationState::Cancelled {
            let actor = agent.map_or(Actor::citizen(citizen), Actor::staff);
            self.change(&txn, &app, Action::Cancel, actor, None).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Submits a draft, or resubmits a returned case, once every required material has
    /// between its minimum and maximum pages. The first submission starts the pre-review clock.
    pub async fn submit(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
    ) -> CaseResult<std::sync::Arc<MatterVersion>> {
        self.submit_as(db, citizen, id, None).await
    }

    /// `submit`, by the citizen or by the `agent` who filed the case for them, who needs the
    /// resident's authorization.
    pub async fn submit_as(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
        agent: Option<Uuid>,
    ) -> CaseResult<std::sync::Arc<MatterVersion>> {
        let txn = begin_write(db).await?;
        let app = reads::lock_owned(&txn, citizen, id).await?;
        if agent.is_some() {
            self.check_authorized(&txn, &app, true).await?;
        }
        let from = state_of(&app)?;
        let action = if from == ApplicationState::Returned {
            Action::Resubmit
        } else {
            Action::Submit
        };
        // The state first: a case that cannot be submitted says so before its pages are counted.
        machine::next(from, action)?;
        // A bundle's items go together the first time (their shared materials with them).
        if let (Action::Submit, Some(filing)) = (action, app.filing_id) {
            return Err(CaseError::SubmitWithFiling(filing));
        }
        let version = reads::version_of(&txn, &app).await?;
        let stored = pages::of_application(&txn, app.id).await?;
        let mut problems = incomplete(&version, &stored);
        problems.extend(super::wallet::invalidated_pages(&txn, &stored).await?);
        if !problems.is_empty() {
            return Err(CaseError::MaterialsIncomplete(problems));
        }
        let actor = agent.map_or(Actor::citizen(citizen), Actor::staff);
        self.change(&txn, &app, action, actor, None).await?;
        if app.first_submitted_at.is_none() {
            let hours = i64::from(version.matter.prereview_hours);
            let due = self.clock.now() + chrono::Duration::hours(hours);
            applications::set_prereview_due(&txn, app.id, due).await?;
        }
        txn.commit().await?;
        Ok(version)
    }
}

/// The materials that make an application not yet submittable, each with what it lacks.
pub fn incomplete(version: &MatterVersion, pages: &[page::Model]) -> Vec<FieldIssue> {
    version
        .materials
        .iter()
        .filter_map(|m| {
            let count = pages.iter().filter(|p| p.material_code == m.code).count() as i32;
            if count < m.min_pages {
                Some(FieldIssue::new(
                    m.code.clone(),
                    format!(
                        "{} needs at least {} page(s), has {count}",
                        m.name, m.min_pages
                    ),
                ))
            } else if count > m.max_pages {
                Some(FieldIssue::new(
                    m.code.clone(),
                    format!(
                        "{} takes at most {} page(s), has {count}",
                        m.name, m.max_pages
                    ),
                ))
            } else {
                None
            }
        })
        .collect()
}
