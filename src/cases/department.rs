//! The department's decision on a case its batch brought. An approved item that posts a paper
//! result gets leg 2, a courier order from the centre to the citizen; any other decision ends
//! the case. One decision per case: the same one again answers as the first did.

use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;
use uuid::Uuid;

use super::change::state_of;
use super::{CaseError, CaseResult, Cases, reads};
use crate::domain::application::{Action, ApplicationState};
use crate::integrations::courier::Contact;
use crate::store::applications::{Actor, application};
use crate::store::department::{self, decision};
use crate::store::shipments::{self, LEG_MATERIALS, LEG_RESULT, NewShipment, shipment};
use crate::store::{StoreError, begin_write};

/// What deciding left: the case, the decision, and the result leg if one was made.
pub struct Decided {
    pub app: application::Model,
    pub decision: decision::Model,
    pub result_shipment_id: Option<Uuid>,
}

/// A department's decision as asked: `DepartmentApprove` or `DepartmentRefuse`, with its note.
pub struct Verdict {
    pub action: Action,
    pub note: Option<String>,
}

impl Cases {
    /// Records the department's decision (`DepartmentApprove` or `DepartmentRefuse`) on a case
    /// of `departments`, with its `audit` record in the same commit (a retry of the same
    /// decision records nothing more).
    pub async fn decide_at_department(
        &self,
        db: &DatabaseConnection,
        approver: Uuid,
        departments: &[String],
        id: Uuid,
        verdict: Verdict,
        audit: crate::store::audit::Record,
    ) -> CaseResult<Decided> {
        let Verdict { action, note } = verdict;
        // The decision's name as recorded and shown (`approved`, `refused`).
        let outcome = match action {
            Action::DepartmentApprove => "approved",
            _ => "refused",
        };
        let txn = begin_write(db).await?;
        let app = reads::lock_visible(&txn, departments, id).await?;
        if let Some(earlier) = department::decision_of(&txn, app.id).await? {
            // A retry of the same decision answers as the first did; another is refused.
            if earlier.outcome != outcome || earlier.note != note {
                return Err(CaseError::AlreadyDecided(earlier.outcome));
            }
            let result_shipment_id = shipments::current_leg(&txn, app.id, LEG_RESULT)
                .await?
                .map(|leg| leg.id);
            return Ok(Decided {
                app,
                decision: earlier,
                result_shipment_id,
            });
        }
        crate::domain::application::next(state_of(&app)?, action)?;
        let decision = match department::record_decision(
            &txn,
            app.id,
            approver,
            outcome,
            note.clone(),
        )
        .await
        {
            Ok(decision) => decision,
            Err(StoreError::Conflict) => return Err(CaseError::Concurrent),
            Err(StoreError::Db(e)) => return Err(e.into()),
        };
        let mut moved = self
            .change(&txn, &app, action, Actor::staff(approver), note)
            .await?;
        let mut result_shipment_id = None;
        if state_of(&moved)? == ApplicationState::Approved {
            self.confirm_documents(&txn, &moved, approver).await?;
            let version = reads::version_of(&txn, &app).await?;
            let next = if version.matter.result_by_courier {
                let leg = self.ship_result(&txn, &moved).await?;
                result_shipment_id = Some(leg.id);
                Action::ShipResult
            } else {
                Action::Complete
            };
            moved = self
                .change(&txn, &moved, next, Actor::system(), None)
                .await?;
        }
        crate::store::audit::append(&txn, audit).await?;
        txn.commit().await?;
        Ok(Decided {
            app: moved,
            decision,
            result_shipment_id,
        })
    }

    /// Leg 2: an order from the centre to the citizen's return address, or else to where the
    /// originals were collected.
    async fn ship_result<C: ConnectionTrait>(
        &self,
        txn: &C,
        app: &application::Model,
    ) -> CaseResult<shipment::Model> {
        let address = app
            .return_address
            .clone()
            .and_then(|v| serde_json::from_value::<ReturnAddress>(v).ok());
        let recipient = match address {
            Some(address) => json!(address.contact()),
            None => match shipments::current_leg(txn, app.id, LEG_MATERIALS).await? {
                Some(leg) => serde_json::from_str(&leg.sender)
                    .map_err(|e| CaseError::Internal(e.to_string()))?,
                None => return Err(CaseError::NoDeliveryAddress),
            },
        };
        let leg = shipments::insert(
            txn,
            NewShipment {
                application_id: app.id,
                also_for: Vec::new(),
                leg: LEG_RESULT,
                partner: self.partner_for(txn, app, None).await?,
                sender: json!(self.centre()),
                recipient,
                pickup_date: None,
                pickup_slot: None,
                pickup_from: None,
                pickup_until: None,
            },
        )
        .await?;
        shipments::enqueue_create(txn, leg.id).await?;
        Ok(leg)
    }
}

/// The case, visible to this approver and waiting for the department.
pub async fn waiting<C: ConnectionTrait>(
    db: &C,
    departments: &[String],
    id: Uuid,
) -> CaseResult<application::Model> {
    let app = reads::visible(db, departments, id).await?;
    at_department(&app)?;
    Ok(app)
}

/// Result files change only while the case waits for the department's decision.
pub fn at_department(app: &application::Model) -> CaseResult<()> {
    let state = state_of(app)?;
    if state != ApplicationState::AtDepartment {
        return Err(CaseError::WrongState {
            state,
            needs: ApplicationState::AtDepartment,
        });
    }
    Ok(())
}

/// A return address as the application stores it (the API's address object).
#[derive(serde::Deserialize)]
struct ReturnAddress {
    province: String,
    city: String,
    district: String,
    detail: String,
    contact_name: String,
    phone: String,
}

impl ReturnAddress {
    fn contact(&self) -> Contact {
        Contact {
            name: self.contact_name.trim().to_string(),
            phone: self.phone.trim().to_string(),
            province: self.province.trim().to_string(),
            city: self.city.trim().to_string(),
            district: self.district.trim().to_string(),
            detail: self.detail.trim().to_string(),
        }
    }
}
