//! Pre-review: a reviewer holding a live claim approves a submitted case, returns it with a
//! reason per material, or rejects it. Approving an item whose originals are not posted sends
//! it straight on to the department.

use chrono::NaiveDate;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::{CaseError, CaseResult, Cases, FieldIssue, reads};
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::store::applications::{self, Actor, application};
use crate::store::catalog::MatterVersion;
use crate::store::{begin_write, claims, decisions, stats};

/// Why pre-review sends a material back (stored as `{material_code, reason}`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Reason {
    pub material_code: String,
    pub reason: String,
}

/// A reviewer's record of when the document of one material expires (the date printed on it).
#[derive(Debug, Clone)]
pub struct Expiry {
    pub material_code: String,
    pub expires_on: NaiveDate,
}

/// A reviewer's decision, as asked.
pub struct Decision {
    /// `Approve`, `Return` or `Reject`.
    pub action: Action,
    pub reasons: Vec<Reason>,
    pub note: Option<String>,
    /// With `Approve`: when the documents of typed materials expire, as printed on them.
    pub expiries: Vec<Expiry>,
}

impl Cases {
    /// Decides a submitted case of `departments` that `reviewer` holds a live claim on; the
    /// decision ends the claim. `audit` is the decision's audit record, committed with it, so a
    /// crash never leaves a decision unaudited. Returns the case as it now stands.
    pub async fn decide_prereview(
        &self,
        db: &DatabaseConnection,
        reviewer: Uuid,
        departments: &[String],
        id: Uuid,
        decision: Decision,
        audit: crate::store::audit::Record,
    ) -> CaseResult<application::Model> {
        let txn = begin_write(db).await?;
        let app = reads::lock_visible(&txn, departments, id).await?;
        let from = super::change::state_of(&app)?;
        machine::next(from, decision.action)?;
        if claims::holder(&app, self.clock.now()) != Some(reviewer) {
            return Err(CaseError::ClaimRequired);
        }
        let version = reads::version_of(&txn, &app).await?;
        let today = self
            .clock
            .now()
            .with_timezone(&self.config.local_offset())
            .date_naive();
        check_reasons(&decision, &version, today)?;
        let reasons = serde_json::to_value(&decision.reasons)
            .map_err(|e| CaseError::Internal(e.to_string()))?;
        let summary = decision
            .reasons
            .first()
            .map(|r| format!("{}: {}", r.material_code, r.reason))
            .or_else(|| decision.note.clone());
        let action = decision.action;
        let mut moved = self
            .change(&txn, &app, action, Actor::staff(reviewer), summary)
            .await?;
        let returned = (action == Action::Return).then(|| reasons.clone());
        applications::set_return_reasons(&txn, app.id, returned).await?;
        if action == Action::Approve {
            self.verify_documents(&txn, &app, &version, reviewer, &decision.expiries)
                .await?;
            self.accept_signed_form(&txn, &app).await?;
        }
        if moved.state == ApplicationState::PrereviewPassed.as_str()
            && !version.matter.originals_by_courier
        {
            // No originals to post: straight on to the department.
            moved = self
                .change(&txn, &moved, Action::SkipPickup, Actor::system(), None)
                .await?;
        }
        let now = self.clock.now();
        decisions::insert(
            &txn,
            app.id,
            reviewer,
            action.as_str(),
            reasons,
            decision.note,
            now,
        )
        .await?;
        let counts = stats::DecisionCounts {
            department: &app.department_code,
            matter: &app.matter_code,
            materials: version.materials.iter().map(|m| m.code.as_str()).collect(),
            returned: match action {
                Action::Return => decision
                    .reasons
                    .iter()
                    .map(|r| (r.material_code.as_str(), r.reason.as_str()))
                    .collect(),
                _ => Vec::new(),
            },
        };
        stats::record_decision(&txn, &counts, now, self.config.local_offset()).await?;
        crate::store::audit::append(&txn, audit).await?;
        txn.commit().await?;
        Ok(moved)
    }
}

/// `return` needs reasons naming the application's materials; `reject` needs a reason, in
/// `reasons` (the same shape) or in `note`; only `approve` records documents' expiries.
fn check_reasons(decision: &Decision, version: &MatterVersion, today: NaiveDate) -> CaseResult<()> {
    let mut problems = if decision.action == Action::Approve {
        check_expiries(&decision.expiries, version, today)
    } else if decision.expiries.is_empty() {
        Vec::new()
    } else {
        vec![FieldIssue::new(
            "document_expiries",
            "only an approval records when documents expire",
        )]
    };
    for (i, reason) in decision.reasons.iter().enumerate() {
        if !version
            .materials
            .iter()
            .any(|m| m.code == reason.material_code)
        {
            problems.push(FieldIssue::new(
                format!("reasons[{i}].material_code"),
                format!(
                    "`{}` is not a material of this application",
                    reason.material_code
                ),
            ));
        }
        if reason.reason.trim().is_empty() {
            problems.push(FieldIssue::new(
                format!("reasons[{i}].reason"),
                "must not be blank",
            ));
        }
    }
    match decision.action {
        Action::Return if decision.reasons.is_empty() => problems.push(FieldIssue::new(
            "reasons",
            "a return needs at least one reason naming a material",
        )),
        Action::Reject if decision.reasons.is_empty() && decision.note.is_none() => {
            problems.push(FieldIssue::new(
                "note",
                "a rejection needs a reason: give `reasons` (as for a return) or a `note`",
            ))
        }
        _ => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CaseError::Invalid(problems))
    }
}

/// Expiries name typed materials of the case, and dates still to come.
fn check_expiries(
    expiries: &[Expiry],
    version: &MatterVersion,
    today: NaiveDate,
) -> Vec<FieldIssue> {
    let mut problems = Vec::new();
    for (i, e) in expiries.iter().enumerate() {
        let typed = version
            .materials
            .iter()
            .any(|m| m.code == e.material_code && m.document_type.is_some());
        if !typed {
            problems.push(FieldIssue::new(
                format!("document_expiries[{i}].material_code"),
                format!(
                    "`{}` is not a material of this application that makes a document",
                    e.material_code
                ),
            ));
        }
        if e.expires_on <= today {
            problems.push(FieldIssue::new(
                format!("document_expiries[{i}].expires_on"),
                "the document has expired: return the material instead",
            ));
        }
    }
    problems
}
