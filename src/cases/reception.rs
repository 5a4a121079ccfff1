//! Reception: the originals the courier delivered to the centre are checked against their
//! photos. A match moves the case on to dispatch; a mismatch returns it to the citizen with the
//! materials named, and (by the item's or the centre's choice) posts the originals back.

use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;

use super::change::state_of;
use super::{CaseError, CaseResult, Cases, FieldIssue, reads};
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::domain::catalog::MismatchedOriginals;
use crate::store::applications::{self, Actor};
use crate::store::catalog::matter;
use crate::store::shipments::{self, LEG_MATERIALS, LEG_RETURN, NewShipment};
use crate::store::{begin_write, dispatch};

/// What reception found.
pub struct Finding {
    pub matches: bool,
    /// The materials whose originals do not match, when they do not.
    pub mismatched_materials: Vec<String>,
    pub note: Option<String>,
}

/// What receiving did.
pub struct Received {
    pub state: ApplicationState,
    /// The leg that posts mismatched originals back.
    pub return_shipment_id: Option<Uuid>,
}

impl Cases {
    /// Records reception's finding on an arrived case of `departments`, with its `audit` record
    /// in the same commit.
    pub async fn receive_originals(
        &self,
        db: &DatabaseConnection,
        staff: Uuid,
        departments: &[String],
        id: Uuid,
        finding: Finding,
        audit: crate::store::audit::Record,
    ) -> CaseResult<Received> {
        let txn = begin_write(db).await?;
        let app = reads::lock_visible(&txn, departments, id).await?;
        let action = if finding.matches {
            Action::Receive
        } else {
            Action::ReceiveMismatch
        };
        machine::next(state_of(&app)?, action)?;
        let leg = shipments::current_leg(&txn, app.id, LEG_MATERIALS).await?;
        if leg.as_ref().is_none_or(|l| l.status != "delivered") {
            return Err(CaseError::OriginalsNotArrived);
        }
        let version = reads::version_of(&txn, &app).await?;
        if !finding.matches {
            let mut problems = Vec::new();
            if finding.mismatched_materials.is_empty() {
                problems.push(FieldIssue::new(
                    "mismatched_materials",
                    "name at least one material whose original does not match",
                ));
            }
            for (i, code) in finding.mismatched_materials.iter().enumerate() {
                if !version.materials.iter().any(|m| &m.code == code) {
                    problems.push(FieldIssue::new(
                        format!("mismatched_materials[{i}]"),
                        "is not a material of this application",
                    ));
                }
            }
            if !problems.is_empty() {
                return Err(CaseError::Invalid(problems));
            }
        }
        // Before the event: the return message reads the finding at or before its event's time.
        dispatch::record_reception(
            &txn,
            app.id,
            staff,
            finding.matches,
            finding.note.clone(),
            &finding.mismatched_materials,
        )
        .await?;
        let moved = self
            .change(
                &txn,
                &app,
                action,
                Actor::staff(staff),
                finding.note.clone(),
            )
            .await?;
        let mut return_shipment_id = None;
        if finding.matches {
            dispatch::set_received(&txn, app.id).await?;
        } else {
            let reason = finding
                .note
                .clone()
                .unwrap_or_else(|| "原件与上传的照片不一致，请核对后重新上传".into());
            let reasons: Vec<_> = finding
                .mismatched_materials
                .iter()
                .map(|code| json!({ "material_code": code, "reason": reason }))
                .collect();
            applications::set_return_reasons(&txn, app.id, Some(json!(reasons))).await?;
            if self.returns_originals(&version.matter)
                && let Some(leg) = &leg
            {
                let back = shipments::insert(
                    &txn,
                    NewShipment {
                        application_id: app.id,
                        also_for: Vec::new(),
                        leg: LEG_RETURN,
                        partner: leg.partner.clone(),
                        sender: json!(self.centre()),
                        recipient: serde_json::from_str(&leg.sender)
                            .map_err(|e| CaseError::Internal(e.to_string()))?,
                        pickup_date: None,
                        pickup_slot: None,
                        pickup_from: None,
                        pickup_until: None,
                    },
                )
                .await?;
                shipments::enqueue_create(&txn, back.id).await?;
                return_shipment_id = Some(back.id);
            }
        }
        crate::store::audit::append(&txn, audit).await?;
        txn.commit().await?;
        Ok(Received {
            state: state_of(&moved)?,
            return_shipment_id,
        })
    }

    /// Whether originals of item `m` that do not match their photos go back by courier: the
    /// item's `originals_on_mismatch`, or else the centre's
    /// `courier.return_originals_on_mismatch`.
    pub fn returns_originals(&self, m: &matter::Model) -> bool {
        match m
            .originals_on_mismatch
            .as_deref()
            .and_then(MismatchedOriginals::parse)
        {
            Some(choice) => choice == MismatchedOriginals::Return,
            None => self.config.courier.return_originals_on_mismatch,
        }
    }
}
